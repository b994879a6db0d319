"""Type aliases shared across hetrec (the one place they are defined)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias

import torch

CanonicalEType: TypeAlias = tuple[str, str, str]
"""A relation as DGL names it: (source node type, relation name, destination node type)."""

NodeTensors: TypeAlias = Mapping[str, torch.Tensor]
"""Per-node-type tensors, e.g. input features ``{"user": [N_user, D], "item": [N_item, D]}``."""

EdgePairs: TypeAlias = tuple[torch.Tensor, torch.Tensor]
"""Source and destination internal ids of a set of edges, two int64 tensors of equal length."""
