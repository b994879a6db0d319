"""`Recommender`: the one interface every classical baseline implements (and GNN wrappers can implement)."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

import numpy as np
import scipy.sparse as sp
import torch

from hetrec.graph.data import GraphData

__all__ = ["Recommender", "train_matrix", "topk_excluding_self"]


def train_matrix(data: GraphData) -> sp.csr_matrix:
    """Binary user x item CSR (float32) of the **training** pairs of the target relation (the only data a
    baseline may learn from; held-out pairs never enter).

    Shapes:
        output: [num_users, num_items]
    """
    return data.interaction_matrix("train")


def topk_excluding_self(scores: torch.Tensor, items: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k columns of each row of an item-item score block, never returning the query item itself.

    Shapes:
        scores: [n, num_items]; items: [n] -> (ids [n, k'], scores [n, k']) with k' = min(k, num_items - 1)
    """
    scores = scores.clone().float()
    scores[torch.arange(len(items)), items] = -float("inf")
    kk = max(0, min(int(k), scores.shape[1] - 1))
    val, idx = torch.topk(scores, kk, dim=1)
    return idx, val


class Recommender(ABC):
    """A recommender under one harness: ``fit(data) -> self``, ``score(users)``, ``similar(items, k)``.

    Subclasses learn only from ``data``'s training part (``train_matrix(data)``, ``data.graph`` and
    ``data.train_baskets`` are leak-free by construction of :class:`GraphData`).

    Attributes:
        name: short name used in result tables.
        fit_seconds: wall time of the last :meth:`fit`.
        num_users, num_items: sizes seen at fit time.
    """

    name: str = "recommender"

    def __init__(self) -> None:
        self.fit_seconds = 0.0
        self.num_users = 0
        self.num_items = 0

    def fit(self, data: GraphData) -> Recommender:
        """Learn from the training part of ``data``; returns ``self``."""
        t = time.perf_counter()
        self.num_users, self.num_items = data.num_users, data.num_items
        self._fit(data)
        self.fit_seconds = time.perf_counter() - t
        return self

    @abstractmethod
    def _fit(self, data: GraphData) -> None: ...

    @abstractmethod
    def score(self, users: torch.Tensor) -> torch.Tensor:
        """Scores of every item for each user (higher is better).

        Shapes:
            users: [n] int64 -> [n, num_items] float32
        """

    def item_scores(self, items: torch.Tensor) -> torch.Tensor:
        """Association strength of every item to each query item (used by ``similar`` and association metrics).

        Shapes:
            items: [n] int64 -> [n, num_items] float32
        """
        raise NotImplementedError(f"{type(self).__name__} does not define item-item scores")

    def similar(self, items: torch.Tensor, k: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
        """The k most associated other items of each query item.

        Shapes:
            items: [n] int64 -> (ids [n, k] int64, scores [n, k] float32)
        """
        items = torch.as_tensor(items, dtype=torch.int64)
        self._check_fitted()
        return topk_excluding_self(self.item_scores(items), items, k)

    def _check_fitted(self) -> None:
        if self.num_items == 0:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call .fit(data) first")

    def _check_users(self, users: torch.Tensor) -> np.ndarray:
        self._check_fitted()
        u = np.asarray(torch.as_tensor(users, dtype=torch.int64).numpy())
        if len(u) and (u.min() < 0 or u.max() >= self.num_users):
            raise IndexError(f"user ids must lie in [0, {self.num_users}), got [{u.min()}, {u.max()}]")
        return u

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
