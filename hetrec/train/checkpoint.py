"""``checkpoint.pt``: the trainer's state in a file that cannot run code when read, with a manifest.

The checkpoint holds only tensors and primitive containers (dict, list, tuple, str, int, float, bool, None), so it is
read with ``torch.load(weights_only=True)``; NumPy's RNG state is stored as a tensor. ``checkpoint.json`` next to it
records the format version, the config hash of the run and the size and SHA-256 of ``checkpoint.pt``; it is checked
before the checkpoint is parsed. Writing is crash-safe: the manifest first lists both the new and the previous
checkpoint, then the checkpoint is replaced atomically, then the manifest lists only the new one, so a kill at any
point leaves a checkpoint that the manifest vouches for.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hetrec.io import DamagedFileError, atomic_write, atomic_write_text, sha256_file

__all__ = ["save_checkpoint", "load_checkpoint", "rng_state", "set_rng_state", "append_log", "truncate_log",
           "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = 2
"""2: weights_only-loadable contents and the checkpoint.json manifest."""


def _manifest_path(path: Path) -> Path:
    return path.with_suffix(".json")


def rng_state() -> dict:
    """Python, NumPy and torch RNG states as primitive values and tensors."""
    name, key, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": {"name": str(name), "key": torch.from_numpy(np.asarray(key, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }


def set_rng_state(state: dict) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n["name"], n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])


def _plain(obj: Any) -> Any:
    """``obj`` with NumPy scalars/arrays turned into Python numbers/tensors (what weights_only can read)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(v) for v in obj)
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj.copy())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _record(path: Path) -> dict:
    return {"size": path.stat().st_size, "sha256": sha256_file(path)}


def save_checkpoint(state: dict, path: str | os.PathLike, config_hash: str | None = None) -> None:
    """Write ``state`` to ``path`` (atomically) and its manifest ``<path stem>.json``."""
    path = Path(path)
    mpath = _manifest_path(path)
    doc = {"kind": "checkpoint", "format_version": CHECKPOINT_FORMAT, "config_hash": config_hash, "file": path.name}
    previous = [_record(path)] if path.exists() else []
    with atomic_write(path) as tmp:
        torch.save(_plain(state), tmp)
        new = _record(tmp)
        atomic_write_text(mpath, json.dumps({**doc, "accept": [new, *previous]}))
    atomic_write_text(mpath, json.dumps({**doc, "accept": [new]}))


def load_checkpoint(path: str | os.PathLike, map_location: Any = None, config_hash: str | None = None) -> dict:
    """Verify ``<path stem>.json`` and read ``path`` with ``torch.load(weights_only=True)``.

    Raises:
        DamagedFileError: the checkpoint or its manifest is missing, truncated, altered or unreadable, or was
            written for another config (``config_hash`` given and different); the message names the file and the fix.
    """
    path = Path(path)
    mpath = _manifest_path(path)
    fix = (f"delete {path.name} and {mpath.name} to start this run over, restore the folder {path.parent} from a "
           f"backup, or choose a new hydra.run.dir")
    try:
        m = json.loads(mpath.read_text())
        accept = m["accept"]
    except FileNotFoundError:
        raise DamagedFileError(mpath, "missing (written with every checkpoint since checkpoint format "
                                      f"{CHECKPOINT_FORMAT}; an older hetrec wrote this one)", fix) from None
    except (ValueError, KeyError, TypeError) as e:
        raise DamagedFileError(mpath, f"unreadable ({type(e).__name__}: {e})", fix) from None
    if m.get("kind") != "checkpoint" or m.get("format_version") != CHECKPOINT_FORMAT:
        raise DamagedFileError(mpath, f"is a {m.get('kind')!r} of format {m.get('format_version')!r}; this hetrec "
                                      f"reads checkpoint format {CHECKPOINT_FORMAT}", fix)
    if config_hash is not None and m.get("config_hash") not in (None, config_hash):
        raise DamagedFileError(path, "was written by a run with another config", fix)
    rec = _record(path)
    if not any(rec == a for a in accept):
        sizes = sorted({a.get("size") for a in accept})
        problem = (f"has {rec['size']} bytes, {mpath.name} records {sizes}" if rec["size"] not in sizes
                   else f"content differs from {mpath.name}'s SHA-256")
        raise DamagedFileError(path, f"{problem} (truncated or altered)", fix)
    try:
        return torch.load(path, weights_only=True, map_location=map_location)
    except Exception as e:
        raise DamagedFileError(path, f"cannot be read ({type(e).__name__}: {str(e)[:300]})", fix) from None


def append_log(path: Path, record: dict) -> None:
    """Append one JSON line to the training log ``path`` (flushed and fsynced: it survives a kill)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def truncate_log(path: Path, epoch: int) -> None:
    """Keep only the log lines of epochs up to the checkpointed ``epoch`` (a killed run may have logged past it)."""
    if not path.exists():
        return
    keep = []
    for ln in path.read_text().splitlines():
        try:
            rec = json.loads(ln) if ln.strip() else None
        except json.JSONDecodeError:  # a line cut by the kill (only the last one can be): it is past the checkpoint
            rec = None
        if rec is not None and rec.get("epoch", 0) <= epoch:
            keep.append(ln)
    atomic_write_text(path, "".join(ln + "\n" for ln in keep))
