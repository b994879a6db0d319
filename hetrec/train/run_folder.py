"""A run folder's guards: one config per folder (``run_config.json``), and failures that never overwrite a
finished run's results. The lock (one writer per folder) is :func:`hetrec.io.run_lock`."""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from hetrec.errors import HetrecError
from hetrec.io import atomic_write_text, config_hash

log = logging.getLogger("hetrec.train")

__all__ = ["RESUME_FREE_KEYS", "RUN_CONFIG", "RunConfigMismatch", "check_run_folder", "record_failure",
           "resume_hash", "command_line", "finished"]

RESUME_FREE_KEYS = ("train.device", "train.progress", "train.num_workers", "train.num_threads", "cache_dir",
                    "evaluate.chunk_size", "dist.partition_dir", "dist.backend")
"""Config keys that may change between a run and its resumption (they do not change what is computed)."""
RUN_CONFIG = "run_config.json"


class RunConfigMismatch(HetrecError, ValueError):
    """A rerun into a run folder that holds results of another config; the message lists the differing keys."""


def _flat(node, prefix: str = "") -> dict:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out if out or not prefix else {prefix[:-1]: {}}
    return {prefix[:-1]: node}


def _comparable(cfg: DictConfig) -> dict:
    """The resolved config as ``{dotted.key: value}`` without :data:`RESUME_FREE_KEYS`."""
    flat = _flat(OmegaConf.to_container(cfg, resolve=True))
    return {k: v for k, v in flat.items() if k not in RESUME_FREE_KEYS}


def resume_hash(cfg: DictConfig) -> str:
    """Hash of the config minus :data:`RESUME_FREE_KEYS` (what a checkpoint must have been written under)."""
    return config_hash(_comparable(cfg))


def command_line(run_dir: Path) -> str | None:
    """The command line that reproduces this run into ``run_dir`` (for fix hints), or ``None`` outside Hydra."""
    try:
        from hydra.core.hydra_config import HydraConfig

        overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith("hydra.run.dir=")]
    except Exception:  # not inside a Hydra run
        return None
    return " ".join(["hetrec-train", *overrides, f"hydra.run.dir={run_dir}"])


def _has_results(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds training state or finished results (then a rerun must use the same config)."""
    if (run_dir / "checkpoint.pt").exists() or (run_dir / "artifact").exists():
        return True
    return finished(run_dir)


def finished(run_dir: Path) -> bool:
    """Whether ``run_dir/metrics.json`` records a finished run (status ok)."""
    try:
        return json.loads((run_dir / "metrics.json").read_text()).get("status") == "ok"
    except (OSError, ValueError, AttributeError):
        return False


def check_run_folder(cfg: DictConfig, run_dir: Path) -> None:
    """Refuse to resume into ``run_dir`` when it holds results of another config (listing the differing keys);
    otherwise record this config as the folder's (``run_config.json``)."""
    now = _comparable(cfg)
    saved_path = run_dir / RUN_CONFIG
    if saved_path.exists() and _has_results(run_dir):
        try:
            saved = json.loads(saved_path.read_text())
        except ValueError as e:
            raise RunConfigMismatch(f"{saved_path} is unreadable ({e}); restore it, or choose a new "
                                    f"hydra.run.dir") from None
        keys = sorted(k for k in set(saved) | set(now) if saved.get(k, "<absent>") != now.get(k, "<absent>"))
        if keys:
            shown = "; ".join(f"{k}: {_short(saved.get(k, '<absent>'))} -> {_short(now.get(k, '<absent>'))}"
                              for k in keys[:12])
            more = f" (and {len(keys) - 12} more)" if len(keys) > 12 else ""
            raise RunConfigMismatch(
                f"run folder {run_dir} holds a run with another config: {len(keys)} key(s) differ: {shown}{more}; "
                f"rerun the original command to resume (its config is in {saved_path}), or choose a new "
                f"hydra.run.dir"
            )
        return
    atomic_write_text(saved_path, json.dumps(now, indent=1, sort_keys=True, default=str))


def _short(v) -> str:
    t = json.dumps(v, default=str)
    return t if len(t) <= 60 else t[:57] + "..."


def record_failure(run_dir: Path, e: BaseException, facts: dict, shown: BaseException | None = None) -> dict:
    """Write error.txt (with ``e``'s traceback), and metrics.json with status failed and the error ``shown`` (default
    ``e``; the user error a wrapped exception stands for) unless the folder holds a finished run's metrics (a failed
    rerun never overwrites them)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "error.txt", "".join(traceback.format_exception(e)))
    shown = e if shown is None else shown
    failed = {
        "status": "failed",
        "error": f"{type(shown).__name__}: {shown}",
        **facts,
    }
    if finished(run_dir):
        log.error("this rerun failed; %s keeps the finished run's metrics (the error is in %s)",
                  run_dir / "metrics.json", run_dir / "error.txt")
    else:
        atomic_write_text(run_dir / "metrics.json", json.dumps(failed, indent=2))
    return failed
