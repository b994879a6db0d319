"""EASE: embarrassingly shallow autoencoder (Steck, WWW 2019), closed form."""

from __future__ import annotations

import torch

from hetrec.errors import ConfigError
from hetrec.evaluate.baselines.base import Recommender, train_matrix
from hetrec.graph.data import GraphData


class EASE(Recommender):
    """EASE^R (Steck, WWW 2019): item-item weights ``B = I - P diagMat(1 / diag(P))``, ``P = (X^T X + lambda I)^-1``.

    The dense item x item inverse costs O(n^3) time and 8 n^2 bytes; above ``max_items`` it is refused.

    Args:
        lam: L2 regularization lambda (default 250.0).
        max_items: largest catalogue accepted (default 20000: ~3 GB in float64, minutes on 2 cores).
        dtype: ``"float64"`` (default) or ``"float32"`` (half the memory for large catalogues).

    Shapes:
        score(users [n]) -> [n, num_items]
    """

    name = "EASE"

    def __init__(self, lam: float = 250.0, max_items: int = 20000, dtype: str = "float64") -> None:
        super().__init__()
        if lam <= 0:
            raise ConfigError(f"EASE(lam={lam}): lambda must be > 0; set model.lam=250")
        if dtype not in ("float64", "float32"):
            raise ConfigError(f"EASE(dtype={dtype!r}): use float64 or float32")
        self.lam, self.max_items, self.dtype = float(lam), int(max_items), dtype

    def _fit(self, data: GraphData) -> None:
        x = train_matrix(data)
        n = x.shape[1]
        if n > self.max_items:
            gb = n * n * (8 if self.dtype == "float64" else 4) / 2**30
            raise ConfigError(
                f"EASE on {n} items needs a dense {n}x{n} inverse ({gb:.1f} GB, O(n^3) time) above "
                f"max_items={self.max_items}; use model=baseline/itemknn (sparse), or raise model.max_items and set "
                "model.dtype=float32 if the machine has the memory"
            )
        dt = torch.float64 if self.dtype == "float64" else torch.float32
        g = torch.from_numpy((x.T @ x).toarray()).to(dt)
        g.diagonal().add_(self.lam)
        p = torch.linalg.inv(g)
        b = -p / p.diagonal().unsqueeze(0)
        b.diagonal().zero_()
        self.x = x
        self.b = b.float()

    def score(self, users: torch.Tensor) -> torch.Tensor:
        u = self._check_users(users)
        xu = torch.from_numpy(self.x[u].toarray())
        return xu @ self.b

    def item_scores(self, items: torch.Tensor) -> torch.Tensor:
        self._check_fitted()
        return self.b[torch.as_tensor(items, dtype=torch.int64)].clone()  # B[a, i]: evidence item a gives to i
