"""Link-prediction objectives: scorers (dot, cosine, DistMult), losses (BPR, BCE, softmax/InfoNCE), negative
samplers (uniform, popularity, in-batch) and :class:`LinkObjective`, which combines them over target relations."""

from __future__ import annotations

from hetrec.objectives.losses import LOSSES, bce_loss, bpr_loss, softmax_loss
from hetrec.objectives.objective import LinkObjective, Task, resolve_relation
from hetrec.objectives.samplers import (
    SAMPLERS,
    InBatchSampler,
    NegativeSampler,
    PopularitySampler,
    PositiveLookup,
    UniformSampler,
)
from hetrec.objectives.scorers import (
    SCORERS,
    CosineScorer,
    DistMultScorer,
    DotScorer,
    Scorer,
)

__all__ = [
    "LOSSES", "bce_loss", "bpr_loss", "softmax_loss", "LinkObjective", "Task", "resolve_relation", "SAMPLERS",
    "InBatchSampler", "NegativeSampler", "PopularitySampler", "PositiveLookup", "UniformSampler", "SCORERS",
    "CosineScorer", "DistMultScorer", "DotScorer", "Scorer",
]
