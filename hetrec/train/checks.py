"""Checks of the run config that name the override to fix: types and values before anything is built
(``train.lr=abc`` names the key and an example, instead of failing later inside ``float('abc')``), then what needs the
data (relation names, K against the catalogue, a test split to report)."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from hetrec.errors import ConfigError

__all__ = ["NUMBERS", "check_types", "validate_against_data", "validate_config"]

NUMBERS: dict[str, tuple[type, object]] = {
    "seed": (int, 0),
    "train.lr": (float, 0.01),
    "train.batch_size": (int, 8192),
    "train.max_epochs": (int, 30),
    "train.optimizer.weight_decay": (float, 0.0),
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

JOB_RUNNERS: dict = {}
"""More ``train.mode`` values: name -> ``f(cfg, run_dir) -> metrics | None`` (registered by hetrec.dist.modes)."""


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


def validate_config(cfg: DictConfig) -> None:
    """Checks that need no data: number types, learning rate, batch size, fanouts vs encoder layers, ks."""
    check_types(cfg)
    lr = cfg.train.lr
    if lr is None or not float(lr) > 0:
        raise ConfigError(f"train.lr={lr} is not a positive learning rate; set e.g. train.lr=0.01")
    if cfg.train.batch_size is not None and int(cfg.train.batch_size) < 1:
        raise ConfigError(f"train.batch_size={cfg.train.batch_size} must be >= 1; e.g. train.batch_size=8192")
    if int(cfg.train.max_epochs) < 1:
        raise ConfigError(f"train.max_epochs={cfg.train.max_epochs} must be >= 1; e.g. train.max_epochs=20")
    ks = list(cfg.evaluate.ks)
    if not ks or any(int(k) < 1 for k in ks):
        raise ConfigError(f"evaluate.ks={ks} must be positive cut-offs; e.g. evaluate.ks=[10,20]")
    missing = [k for k in (10, 20) if k not in [int(k) for k in ks]]
    if missing:
        raise ConfigError(f"evaluate.ks={ks} lacks {missing}; metrics.json reports @10 and @20, add them: "
                          f"evaluate.ks=[{','.join(str(k) for k in sorted(set(ks) | set(missing)))}]")
    layers = cfg.encoder.get("num_layers")
    fanouts = cfg.train.get("fanouts")
    sampled = cfg.train.mode in ("minibatch", "distributed")
    if sampled and fanouts is not None and layers is not None and len(fanouts) != int(layers):
        raise ConfigError(
            f"train.fanouts={list(fanouts)} has {len(fanouts)} values but encoder.num_layers={layers}; set "
            f"train.fanouts to {layers} values (e.g. train.fanouts=[{','.join(['10'] * int(layers))}]) "
            f"or encoder.num_layers={len(fanouts)}"
        )
    if cfg.train.mode not in ("full", "minibatch", *JOB_RUNNERS):
        modes = "|".join(("full", "minibatch", *JOB_RUNNERS))
        raise ConfigError(f"train.mode={cfg.train.mode} is unknown; use train.mode={modes}")


def validate_against_data(cfg: DictConfig, data) -> None:
    """Checks that need the data: relation names exist, K fits the catalogue."""
    from hetrec.objectives.objective import resolve_relation

    etypes = [tuple(et) for et in data.graph.canonical_etypes]
    if cfg.objective.get("target") is not None:
        resolve_relation(etypes, cfg.objective.target, "objective.target")
    gt = cfg.graph.get("target") if "graph" in cfg else None
    if gt is not None:
        resolve_relation(etypes, gt, "graph.target")
    test = data.splits.get("test")
    if test is None or len(test[0]) == 0:
        reason = (data.info.get("split") or {}).get("no_test") if isinstance(data.info, dict) else None
        if reason:  # the split says why (cut after the data, single-pair users, no test labels) and the fix
            raise ConfigError(reason)
        split = cfg.graph.get("split", {}) if "graph" in cfg else {}
        raise ConfigError(
            f"dataset {data.name!r} has no test pairs (graph.split.strategy={split.get('strategy')}, "
            f"graph.split.test_ratio={split.get('test_ratio')}), so the run would have nothing to report; set "
            f"graph.split.test_ratio=0.2 (or label test rows / give the test file for pre-split data)"
        )
    n = data.num_items
    big = [int(k) for k in cfg.evaluate.ks if int(k) > n]
    if big:
        ok = [int(k) for k in cfg.evaluate.ks if int(k) <= n] or [min(10, n)]
        raise ConfigError(
            f"evaluate.ks={list(cfg.evaluate.ks)} has K={big} larger than the catalogue ({n} items); "
            f"set evaluate.ks=[{','.join(str(k) for k in ok)}]"
        )
