"""MF-BPR: matrix factorization trained with Bayesian personalized ranking (Rendle et al., UAI 2009)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from hetrec.evaluate.baselines.base import Recommender, train_matrix
from hetrec.graph.data import GraphData


class MFBPR(Recommender):
    """Matrix factorization with the BPR loss (Rendle et al., UAI 2009), Adam, uniform negatives.

    Negatives are drawn uniformly from all items and redrawn once where they hit a training positive (the training
    matrix is the exclusion source; held-out pairs are never seen).

    Args:
        dim: embedding size (default 64).
        epochs: passes over the training pairs (default 30).
        lr: Adam learning rate (default 0.01).
        weight_decay: L2 on the batch's embeddings (default 1e-4).
        batch_size: pairs per step (default 4096).
        seed: initialization and sampling seed (default 0).

    Shapes:
        score(users [n]) -> [n, num_items]
    """

    name = "MF-BPR"

    def __init__(
        self,
        dim: int = 64,
        epochs: int = 30,
        lr: float = 0.01,
        weight_decay: float = 1e-4,
        batch_size: int = 4096,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.dim, self.epochs, self.lr = int(dim), int(epochs), float(lr)
        self.weight_decay, self.batch_size, self.seed = float(weight_decay), int(batch_size), int(seed)
        self.losses: list[float] = []

    def _fit(self, data: GraphData) -> None:
        x = train_matrix(data)
        gen = torch.Generator().manual_seed(self.seed)
        nu, ni = x.shape
        ue = torch.nn.Parameter(torch.randn(nu, self.dim, generator=gen) * 0.1)
        ie = torch.nn.Parameter(torch.randn(ni, self.dim, generator=gen) * 0.1)
        opt = torch.optim.Adam([ue, ie], lr=self.lr)
        coo = x.tocoo()
        users = torch.from_numpy(coo.row.astype(np.int64))
        pos = torch.from_numpy(coo.col.astype(np.int64))
        keys = np.sort(coo.row.astype(np.int64) * ni + coo.col)
        self.losses = []
        for _ in range(self.epochs):
            perm = torch.randperm(len(users), generator=gen)
            total = 0.0
            for s in range(0, len(perm), self.batch_size):
                b = perm[s : s + self.batch_size]
                u, p = users[b], pos[b]
                neg = torch.randint(0, ni, (len(b),), generator=gen)
                q = u.numpy() * ni + neg.numpy()
                hit = keys[np.minimum(np.searchsorted(keys, q), len(keys) - 1)] == q
                if hit.any():
                    neg[torch.from_numpy(hit)] = torch.randint(0, ni, (int(hit.sum()),), generator=gen)
                eu, ep, en = ue[u], ie[p], ie[neg]
                loss = -F.logsigmoid((eu * (ep - en)).sum(1)).mean()
                reg = self.weight_decay * (eu.pow(2).sum() + ep.pow(2).sum() + en.pow(2).sum()) / len(b)
                opt.zero_grad()
                (loss + reg).backward()
                opt.step()
                total += loss.item() * len(b)
            self.losses.append(total / max(len(users), 1))
        self.user_emb = ue.detach()
        self.item_emb = ie.detach()

    def score(self, users: torch.Tensor) -> torch.Tensor:
        u = self._check_users(users)
        return self.user_emb[torch.from_numpy(u)] @ self.item_emb.T

    def item_scores(self, items: torch.Tensor) -> torch.Tensor:
        self._check_fitted()
        e = F.normalize(self.item_emb, dim=1)
        return e[torch.as_tensor(items, dtype=torch.int64)] @ e.T  # cosine of item embeddings
