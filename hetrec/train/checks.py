"""Type checks of the run config before anything is built: ``train.lr=abc`` names the key and an example, instead of
failing later inside ``float('abc')``."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from hetrec.errors import ConfigError

__all__ = ["NUMBERS", "check_types"]

NUMBERS: dict[str, tuple[type, object]] = {
    "seed": (int, 0),
    "train.lr": (float, 0.01),
    "train.batch_size": (int, 8192),
    "train.max_epochs": (int, 30),
    "train.weight_decay": (float, 0.0),
    "train.patience": (int, 5),
    "train.eval_every": (int, 1),
    "train.grad_clip": (float, 1.0),
    "train.num_workers": (int, 0),
    "train.num_threads": (int, 1),
    "evaluate.chunk_size": (int, 4096),
    "evaluate.bootstrap": (int, 1000),
    "node_input.dim": (int, 64),
}
"""Config keys that must hold a number: ``{key: (type, example)}`` (``None`` is left to the later checks)."""

INT_LISTS = {"evaluate.ks": "[10,20]", "train.fanouts": "[10,10]"}


def check_types(cfg: DictConfig) -> None:
    """Raise `ConfigError` naming the key when a value of `NUMBERS` is not a number of its type, or a key of
    `INT_LISTS` is not a list of integers."""
    for key, (kind, example) in NUMBERS.items():
        value = OmegaConf.select(cfg, key, default=None)
        if value is None:
            continue
        try:
            if isinstance(value, bool) or (kind is int and float(value) != int(float(value))):
                raise ValueError(value)
            kind(value)
        except (TypeError, ValueError, OverflowError):
            what = "an integer" if kind is int else "a number"
            raise ConfigError(f"{key}={value!r} is not {what}; set e.g. {key}={example}") from None
    for key, example in INT_LISTS.items():
        value = OmegaConf.select(cfg, key, default=None)
        if value is None:
            continue
        items = list(value) if not isinstance(value, (str, int, float)) else None
        if items is None or not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
            raise ConfigError(f"{key}={value!r} must be a list of integers; set e.g. {key}={example}")
