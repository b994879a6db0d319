"""Run one baseline end to end inside a ``hetrec-train`` job: dataset -> graph (cached) -> fit -> evaluate valid
and test, plus the facts every result row carries (wall time, peak memory, commit, hardware).

``hetrec-train model=baseline/<name>`` (``hetrec.train.app``) composes the config with Hydra and calls
:func:`run_baseline`; a sweep puts baselines and GNNs side by side in one multirun::

    hetrec-train -m dataset=lightgcn dataset.name=ml-100k-u1 model=baseline/itemknn,baseline/ease seed=0,1,2
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from hetrec.evaluate.associations import evaluate_pairs
from hetrec.evaluate.ranking import evaluate_split
from hetrec.graph.data import GraphData

__all__ = ["build_data", "run_baseline", "reset_peak_rss", "peak_rss_gb", "hardware", "git_commit", "run_facts",
           "evaluate_associations", "heldout_baskets"]

_CLEAR_REFS = "/proc/self/clear_refs"
_peak_reset = False


def build_data(cfg: DictConfig) -> GraphData:
    """Instantiate the dataset and graph builder of ``cfg`` and load or build the (cached) GraphData."""
    from hydra.utils import instantiate

    from hetrec.graph.cache import load_or_build

    dataset = instantiate(cfg.dataset)
    builder = instantiate(cfg.graph)
    return load_or_build(dataset, builder, cache_dir=cfg.get("cache_dir"))


def reset_peak_rss() -> None:
    """Start a new peak-memory window for :func:`peak_rss_gb` (Linux: resets VmHWM through ``clear_refs``), so each
    job of a multirun, which Hydra runs one after another in one process, reports its own peak."""
    global _peak_reset
    try:
        with open(_CLEAR_REFS, "w") as f:
            f.write("5")
        _peak_reset = True
    except OSError:  # not Linux, or not permitted: the process-wide peak is reported
        pass


def peak_rss_gb() -> float:
    """Peak resident memory in GB: since the last :func:`reset_peak_rss` where that worked, else of the whole
    process (and its finished children)."""
    if _peak_reset:
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * 1024 / 1e9
        except OSError:
            pass
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
    """Short commit hash of the checkout this package runs from, or ``"unknown"``."""
    cwd = cwd or Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=cwd, capture_output=True, text=True,
                              check=True).stdout.strip()
        return head
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_facts(t_start: float) -> dict:
    """What every result row records besides its metrics: wall seconds since ``t_start`` (``time.perf_counter``),
    peak RSS of this job, commit and hardware."""
    return {
        "wall_seconds": round(time.perf_counter() - t_start, 3),
        "peak_rss_gb": round(peak_rss_gb(), 3),
        "commit": git_commit(),
        "hardware": hardware(),
    }


def heldout_baskets(data: GraphData):
    """The held-out baskets of the association metrics: the test items of each user (one row per user, binary
    user x item CSR), or ``None`` when there is no test split. Their item pairs are the held-out co-purchases."""
    if not len(data.splits.get("test", ((),))[0]):
        return None
    return data.interaction_matrix("test")


def evaluate_associations(data: GraphData, item_score_fn, ks) -> dict:
    """Held-out co-purchases of the test split (pairs of test items of one basket or user, :func:`heldout_baskets`)
    ranked among all items given the other item, with ``item_score_fn(items) -> [n, num_items]``; {} when there is
    no test split."""
    baskets = heldout_baskets(data)
    if baskets is None:
        return {}
    pop = data.interaction_matrix("train").getnnz(axis=0)
    return evaluate_pairs(item_score_fn, baskets, ks, item_popularity=pop)


def run_baseline(cfg: DictConfig, data: GraphData | None = None, t_start: float | None = None,
                 eval_options: dict | None = None) -> dict:
    """Fit the baseline ``cfg.model`` on ``data`` (built from ``cfg`` when ``None``) and evaluate valid and test at
    ``cfg.evaluate.ks``. ``wall_seconds`` counts from ``t_start`` (``time.perf_counter()``; default: now), so a job
    that loaded ``data`` itself counts the loading as a GNN job does. ``eval_options`` go to both evaluations
    (``bootstrap``, ``seed``: see :func:`~hetrec.evaluate.ranking.evaluate_ranking`).

    Returns:
        metrics dict: ``dataset, encoder (= cfg.model_name, the option name), model, seed, epochs, best_epoch,
        train_seconds, eval_seconds, split_hash, config, val, test`` plus :func:`run_facts`, and with
        ``evaluate.associations=true`` ``associations`` (:func:`evaluate_associations` with the model's item-item
        scores). ``val``/``test`` are absent when the split is empty.
    """
    from hydra.utils import instantiate

    t0 = time.perf_counter() if t_start is None else t_start
    if data is None:
        data = build_data(cfg)
    ks = tuple(int(k) for k in cfg.evaluate.ks)
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
    if getattr(model, "info", None):  # what the fit built (e.g. GF-CF: SVD rank, seconds, filter size)
        out["model_info"] = dict(model.info)
    t1 = time.perf_counter()
    for split, key in (("valid", "val"), ("test", "test")):
        if len(data.splits.get(split, ((),))[0]):
            out[key] = evaluate_split(data, model.score, split, ks, **(eval_options or {}))
    if cfg.evaluate.get("associations"):
        try:
            out["associations"] = evaluate_associations(data, model.item_scores, ks)
        except NotImplementedError as e:
            out["associations_error"] = str(e)
    out["eval_seconds"] = round(time.perf_counter() - t1, 3)
    out.update(run_facts(t0))
    return out
