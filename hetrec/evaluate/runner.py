"""Run one baseline end to end: dataset -> graph (cached) -> fit -> evaluate valid and test -> metrics.json.

Config groups are read from ``conf/`` exactly as the training app composes them (``dataset/<name>.yaml``,
``graph/default.yaml``, ``model/baseline/<name>.yaml``) with Hydra-style overrides, so a baseline row and a GNN row
of a result table use the same data and split::

    python -m hetrec.evaluate.runner dataset=lightgcn dataset.name=ml-100k-u1 model=baseline/itemknn model.k=100 \
        seed=0 out=runs/itemknn

writes ``runs/itemknn/metrics.json`` (DESIGN.md §2 shape plus ``split_hash``, ``peak_rss_gb``, ``wall_seconds``).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from hetrec.data.idmap import atomic_write_text
from hetrec.evaluate.associations import evaluate_pairs
from hetrec.evaluate.ranking import evaluate_split
from hetrec.graph.data import GraphData

__all__ = ["compose", "build_data", "run_baseline", "peak_rss_gb", "hardware", "git_commit", "main"]

_GROUPS = ("dataset", "graph", "model")


def _conf_dir(conf_dir: str | os.PathLike | None) -> Path:
    if conf_dir is not None:
        return Path(conf_dir)
    env = os.environ.get("HETREC_CONF")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "conf"


def compose(overrides: Sequence[str] = (), conf_dir: str | os.PathLike | None = None) -> DictConfig:
    """Compose ``{seed, cache_dir, dataset, graph, model, ks}`` from conf/ groups and ``key=value`` overrides.

    ``dataset=<name>``, ``graph=<name>``, ``model=<path>`` pick a group file (``model=baseline/itemknn``); other
    overrides (``model.k=50``, ``dataset.name=ml-100k-u1``, ``seed=1``) set values.

    Raises:
        FileNotFoundError: an unknown group option, listing the available ones.
    """
    root = _conf_dir(conf_dir)
    choice = {"dataset": "synthetic", "graph": "default", "model": "baseline/mostpop"}
    rest = []
    for ov in overrides:
        key, sep, val = ov.partition("=")
        if not sep:
            raise ValueError(f"override {ov!r} is not key=value; e.g. model=baseline/itemknn or model.k=50")
        if key in _GROUPS:
            choice[key] = val
        else:
            rest.append(ov)
    cfg = OmegaConf.create({"seed": 0, "cache_dir": None, "ks": [10, 20], "out": None, "associations": False})
    for group, name in choice.items():
        path = root / group / f"{name}.yaml"
        if not path.is_file():
            avail = sorted(str(p.relative_to(root / group))[:-5] for p in (root / group).rglob("*.yaml"))
            raise FileNotFoundError(f"unknown {group} option {name!r} ({path} missing); available: {', '.join(avail)}")
        cfg[group] = OmegaConf.load(path)
    cfg.model_name = choice["model"]
    cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(rest))
    return cfg


def build_data(cfg: DictConfig) -> GraphData:
    """Instantiate the dataset and graph builder of ``cfg`` and load or build the (cached) GraphData."""
    from hydra.utils import instantiate

    from hetrec.graph.cache import load_or_build

    dataset = instantiate(cfg.dataset)
    builder = instantiate(cfg.graph)
    return load_or_build(dataset, builder, cache_dir=cfg.get("cache_dir"))


def peak_rss_gb() -> float:
    """Peak resident memory of this process (and its finished children), in GB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return max(own, kids) * scale / 1e9


def hardware() -> str:
    """Short hardware description: CPU model and core count (and torch threads)."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"


def git_commit(cwd: str | os.PathLike | None = None) -> str:
    """Short commit hash of the working tree (``+dirty`` when tracked files changed), or ``"unknown"``."""
    cwd = cwd or Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=cwd, capture_output=True, text=True,
                              check=True).stdout.strip()
        return head
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_baseline(cfg: DictConfig, data: GraphData | None = None) -> dict:
    """Fit the baseline ``cfg.model`` on ``data`` (built from ``cfg`` when ``None``) and evaluate valid and test.

    Returns:
        metrics dict: ``dataset, encoder (= model name), model, seed, epochs, best_epoch, train_seconds,
        eval_seconds, wall_seconds, peak_rss_gb, split_hash, config, val, test`` and, with
        ``cfg.associations=true``, ``associations`` (held-out co-purchases of the test split, item-item scores).
        ``val``/``test`` are absent when the split is empty.
    """
    from hydra.utils import instantiate

    t0 = time.perf_counter()
    if data is None:
        data = build_data(cfg)
    ks = tuple(int(k) for k in cfg.get("ks", (10, 20)))
    model = instantiate(cfg.model)
    model.fit(data)
    out: dict = {
        "dataset": data.name or str(cfg.dataset.get("name", "")),
        "encoder": str(cfg.get("model_name", type(model).__name__)),
        "model": model.name,
        "seed": int(cfg.get("seed", 0)),
        "epochs": int(getattr(model, "epochs", 0) or 0),
        "best_epoch": int(getattr(model, "epochs", 0) or 0),
        "train_seconds": round(model.fit_seconds, 3),
        "split_hash": data.split_hash,
        "num_users": data.num_users,
        "num_items": data.num_items,
        "config": OmegaConf.to_container(cfg.model, resolve=True),
    }
    t1 = time.perf_counter()
    for split, key in (("valid", "val"), ("test", "test")):
        if len(data.splits.get(split, ((),))[0]):
            out[key] = evaluate_split(data, model.score, split, ks)
    if cfg.get("associations") and len(data.splits.get("test", ((),))[0]):
        try:
            pop = data.interaction_matrix("train").getnnz(axis=0)
            out["associations"] = evaluate_pairs(model.item_scores, data.interaction_matrix("test"), ks, item_popularity=pop)
        except NotImplementedError as e:
            out["associations_error"] = str(e)
    out["eval_seconds"] = round(time.perf_counter() - t1, 3)
    out["wall_seconds"] = round(time.perf_counter() - t0, 3)
    out["peak_rss_gb"] = round(peak_rss_gb(), 3)
    return out


def main(argv: Sequence[str] | None = None) -> dict:
    """CLI: ``python -m hetrec.evaluate.runner [overrides] [out=DIR]``; prints the metrics JSON as the last line."""
    argv = list(sys.argv[1:] if argv is None else argv)
    cfg = compose(argv)
    if cfg.get("seed") is not None:
        import numpy as np
        import torch

        torch.manual_seed(int(cfg.seed))
        np.random.seed(int(cfg.seed))
    metrics = run_baseline(cfg)
    metrics["commit"] = git_commit()
    metrics["hardware"] = hardware()
    if cfg.get("out"):
        d = Path(str(cfg.out))
        d.mkdir(parents=True, exist_ok=True)
        atomic_write_text(d / "metrics.json", json.dumps(metrics, indent=2))
    print(json.dumps(metrics))
    return metrics


if __name__ == "__main__":
    main()
