"""Edge scorers: how a (source, destination) embedding pair becomes a link score."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Scorer", "DotScorer", "CosineScorer", "DistMultScorer", "SCORERS"]


class Scorer(nn.Module):
    """Base class: score aligned pairs and score each source against a set of candidates.

    Shapes:
        pair: src ``[B, D]``, dst ``[B, D]`` -> ``[B]``
        many: src ``[B, D]``, dst ``[B, K, D]`` -> ``[B, K]``
        all: src ``[B, D]``, dst ``[N, D]`` -> ``[B, N]``
    """

    name = "base"

    def transform_src(self, src: torch.Tensor) -> torch.Tensor:
        """Map source embeddings so that ``score = <transform_src(src), transform_dst(dst)>``."""
        return src

    def transform_dst(self, dst: torch.Tensor) -> torch.Tensor:
        return dst

    def forward(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        return (self.transform_src(src) * self.transform_dst(dst)).sum(-1)

    def many(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bd,bkd->bk", self.transform_src(src), self.transform_dst(dst))

    def all(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        return self.transform_src(src) @ self.transform_dst(dst).t()


class DotScorer(Scorer):
    """Inner product ``<u, v>`` (matrix factorisation / LightGCN scoring; He et al., SIGIR 2020).

    Args:
        dim: embedding size (unused; accepted so every scorer takes the same arguments). Default 0.
    """

    name = "dot"

    def __init__(self, dim: int = 0) -> None:
        super().__init__()


class CosineScorer(Scorer):
    """Cosine similarity ``<u, v> / (|u| |v|)`` in [-1, 1]; pair it with a temperature in softmax losses.

    Args:
        dim: embedding size (unused). Default 0.
        eps: norm floor. Default 1e-8.
    """

    name = "cosine"

    def __init__(self, dim: int = 0, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = float(eps)

    def transform_src(self, src: torch.Tensor) -> torch.Tensor:
        return F.normalize(src, dim=-1, eps=self.eps)

    def transform_dst(self, dst: torch.Tensor) -> torch.Tensor:
        return F.normalize(dst, dim=-1, eps=self.eps)


class DistMultScorer(Scorer):
    """DistMult bilinear-diagonal score ``sum_d u_d r_d v_d`` with a learned relation vector (Yang et al., ICLR 2015).

    Args:
        dim: embedding size D (required; the relation diagonal has D entries).

    Shapes:
        relation: ``[D]``, initialised to ones (= dot product at the start).
    """

    name = "distmult"

    def __init__(self, dim: int) -> None:
        super().__init__()
        if int(dim) < 1:
            raise ValueError(f"DistMultScorer needs the embedding size, got dim={dim}")
        self.relation = nn.Parameter(torch.ones(int(dim)))

    def transform_src(self, src: torch.Tensor) -> torch.Tensor:
        return src * self.relation


SCORERS: dict[str, type[Scorer]] = {"dot": DotScorer, "cosine": CosineScorer, "distmult": DistMultScorer}
