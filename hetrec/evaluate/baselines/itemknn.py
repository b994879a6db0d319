"""ItemKNN: item-based collaborative filtering with cosine similarity (Sarwar et al., WWW 2001)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from hetrec.errors import ConfigError
from hetrec.evaluate.baselines.base import Recommender, train_matrix
from hetrec.graph.data import GraphData


class ItemKNN(Recommender):
    """Item-based k-nearest-neighbour recommender (Sarwar et al., WWW 2001), sparse.

    ``sim(i, j) = x_i . x_j / (||x_i|| ||x_j|| + shrink)`` over the binary training user columns; each item keeps its
    ``k`` most similar other items (``W[:, i]``), and ``score(u, i) = sum_j x_uj W[j, i]``. This is RecBole's
    ItemKNN with ``shrink=0``.

    Args:
        k: neighbours kept per item (default 100).
        shrink: similarity shrinkage term added to the norm product (default 0.0).
        block_items: items whose similarity column is computed at once (bounds memory: about
            4 * num_items * block_items bytes; default 1024).

    Shapes:
        score(users [n]) -> [n, num_items]; item_scores(items [n]) -> [n, num_items]
    """

    name = "ItemKNN"

    def __init__(self, k: int = 100, shrink: float = 0.0, block_items: int = 1024) -> None:
        super().__init__()
        if k < 1:
            raise ConfigError(f"ItemKNN(k={k}): k must be >= 1; set model.k=100")
        self.k, self.shrink, self.block_items = int(k), float(shrink), int(block_items)

    def _fit(self, data: GraphData) -> None:
        x = train_matrix(data)
        self.x = x
        n = x.shape[1]
        norms = np.sqrt(np.asarray(x.multiply(x).sum(0)).ravel()).astype(np.float32)
        inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        xt = x.T.tocsr()
        kk = min(self.k, max(n - 1, 1))
        rows, cols, vals = [], [], []
        for s in range(0, n, self.block_items):
            e = min(n, s + self.block_items)
            sim = (xt @ x[:, s:e]).toarray()  # [n, e - s] raw co-occurrence counts, turned into cosine in place
            if self.shrink == 0.0:
                sim *= inv[:, None]
                sim *= inv[None, s:e]
            else:
                denom = norms[:, None] * norms[None, s:e] + self.shrink
                np.divide(sim, denom, out=sim, where=denom > 0)
            sim[np.arange(s, e), np.arange(e - s)] = 0.0  # no self-similarity
            t = torch.from_numpy(sim)
            val, idx = torch.topk(t, kk, dim=0)  # top-k neighbours j of each item i (column)
            val, idx = val.numpy(), idx.numpy()
            keep = val > 0
            rows.append(idx[keep])
            cols.append(np.broadcast_to(np.arange(s, e), idx.shape)[keep])
            vals.append(val[keep])
        self.w = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n), dtype=np.float32
        )

    def score(self, users: torch.Tensor) -> torch.Tensor:
        u = self._check_users(users)
        return torch.from_numpy(np.asarray((self.x[u] @ self.w).toarray(), dtype=np.float32))

    def item_scores(self, items: torch.Tensor) -> torch.Tensor:
        self._check_fitted()
        # row i of W^T = the similarity of item i's kept neighbours
        wt = self.w.T.tocsr()
        return torch.from_numpy(np.asarray(wt[np.asarray(items)].toarray(), dtype=np.float32))
