"""Where and how reproducibly a job runs: the torch device and the seeds of every random generator."""

from __future__ import annotations

import random

import numpy as np
import torch

from hetrec._dgl import dgl
from hetrec.errors import ConfigError

__all__ = ["resolve_device", "seed_everything"]


def resolve_device(device: str) -> torch.device:
    """``auto`` -> cuda when available else cpu; ``cpu``; ``cuda[:N]`` (error when CUDA is missing)."""
    d = str(device).lower()
    if d == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if d.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train.device={device} but CUDA is not available here; use train.device=cpu or auto")
    if d != "cpu" and not d.startswith("cuda"):
        raise ConfigError(f"unknown device {device!r}; use train.device=auto|cpu|cuda")
    return torch.device(d)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy, torch and DGL."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    dgl.seed(seed)
