"""MostPopular: rank items by their number of training interactions."""

from __future__ import annotations

import numpy as np
import torch

from hetrec.evaluate.baselines.base import Recommender, train_matrix
from hetrec.graph.data import GraphData


class MostPopular(Recommender):
    """Most-popular baseline: every user gets the items with the most training interactions (distinct users).

    ``counts`` are computed from the training split only (the leakage test checks it).

    Shapes:
        score(users [n]) -> [n, num_items]
    """

    name = "MostPop"

    def _fit(self, data: GraphData) -> None:
        x = train_matrix(data)
        self.counts = torch.from_numpy(np.asarray(x.getnnz(axis=0), dtype=np.float32))

    def score(self, users: torch.Tensor) -> torch.Tensor:
        u = self._check_users(users)
        return self.counts.unsqueeze(0).expand(len(u), -1).clone()

    def item_scores(self, items: torch.Tensor) -> torch.Tensor:
        self._check_fitted()
        return self.counts.unsqueeze(0).expand(len(items), -1).clone()
