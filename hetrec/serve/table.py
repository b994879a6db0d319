"""Precomputed top-K of every known user, and the memory-mapped serving cache shared by server processes.

The recommendations of a known user change only with a new artifact, so :class:`TopTable` computes them once, at
load time: for every user the top ``K`` items of the run's scorer, the user's training items excluded, through the
same :meth:`~hetrec.serve.index.ItemIndex.search` call the live path makes. ``ServingModel.recommend(user=U, k)`` with
``k <= K``, no filter and ``exclude_seen`` answers from the table; the live path searches ``max(k, K)`` items and keeps
the first ``k`` in that same case, so both give identical answers (tests compare them for every user). Filters
(category, in-stock list), ``k > K``, ``exclude_seen=false`` and histories take the live path.

Cost: ``num_users x K x 20`` bytes (five int32/float32 arrays; 100 MB for 100,000 users at K 50) and one index query
per user at build time, run on all cores; the table is written to the artifact's ``index_cache/`` (file name = a hash
of everything it depends on, so a stale table is never reused) and read back memory-mapped, so several server
processes (``hetrec serve --workers N``) share one copy in the page cache. :func:`cached_array` does the same for the
derived item/user vectors.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hetrec.io import atomic_write

if TYPE_CHECKING:
    from hetrec.serve.model import ServingModel

__all__ = ["TopTable", "cached_array", "array_hash"]

DEFAULT_TABLE_K = 50
TABLE_FORMAT = 2
"""Part of the table's cache key: a new format (or a change in how its parts are computed) never reads an old one."""


def array_hash(*arrays: np.ndarray, extra: str = "") -> str:
    """A short hex digest of the arrays' bytes, shapes and dtypes (and ``extra``)."""
    h = hashlib.sha1(extra.encode())
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.shape}{a.dtype}".encode())
        h.update(a.view(np.uint8).reshape(-1))
    return h.hexdigest()[:16]


def _save_npy(path: Path, arr: np.ndarray) -> None:
    with atomic_write(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, arr, allow_pickle=False)


def _mapped(path: Path) -> np.ndarray:
    """``path`` memory-mapped read-only, as a plain ndarray view (indexing an ``np.memmap`` runs Python code)."""
    return np.asarray(np.load(path, mmap_mode="r", allow_pickle=False))


def _load_npy(path: Path, shape: tuple, dtype: np.dtype) -> np.ndarray | None:
    try:
        arr = _mapped(path)
    except (OSError, ValueError):
        return None
    if arr.shape != tuple(shape) or arr.dtype != dtype:
        return None
    return arr


def cached_array(cache_dir: Path | None, name: str, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """``compute()``, stored once as ``cache_dir/<name>_<key>.npy`` and returned memory-mapped read-only (shared by
    every process that maps it). Without a writable ``cache_dir`` the computed array itself."""
    if cache_dir is None:
        return compute()
    path = cache_dir / f"{name}_{key}.npy"
    if path.exists():
        try:
            return _mapped(path)
        except (OSError, ValueError):
            pass  # damaged cache file: recompute and overwrite
    arr = np.ascontiguousarray(compute())
    try:
        _save_npy(path, arr)
        return _mapped(path)
    except OSError:
        return arr


class TopTable:
    """Top-``k`` unfiltered recommendations of every known user (see the module docstring).

    Besides the items, the table keeps what their reasons point at (:func:`~hetrec.serve.explain.reason_links`:
    closest history item, its similarity, the history item most often bought together with it), which depends on
    the user only, so an answer from the table only formats.

    Shapes:
        ids, closest, co_with ``[num_users, k]`` int32 (``-1``: padding / none), scores, similarity
        ``[num_users, k]`` float32, counts ``[num_users]`` int32.
    """

    PARTS = ("ids", "scores", "counts", "closest", "similarity", "co_with")

    def __init__(self, ids: np.ndarray, scores: np.ndarray, counts: np.ndarray, closest: np.ndarray,
                 similarity: np.ndarray, co_with: np.ndarray) -> None:
        self.ids, self.scores, self.counts = ids, scores, counts
        self.closest, self.similarity, self.co_with = closest, similarity, co_with
        self.k = int(ids.shape[1])

    def get(self, u: int, k: int) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The first ``k`` (<= ``self.k``) ids and scores of user ``u``, and their reason links."""
        n = min(int(k), int(self.counts[u]))
        links = (self.closest[u, :n].astype(np.int64), self.similarity[u, :n], self.co_with[u, :n].astype(np.int64))
        return self.ids[u, :n].astype(np.int64), self.scores[u, :n], links

    @staticmethod
    def compute(model: ServingModel, k: int, threads: int | None = None) -> tuple[np.ndarray, ...]:
        """The parts (:attr:`PARTS`) by the live search of every user, on ``threads`` threads (faiss and numpy
        release the GIL; default: all cores)."""
        from hetrec.serve.explain import reason_links

        n = len(model.users)
        ids, closest, co_with = (np.full((n, k), -1, dtype=np.int32) for _ in range(3))
        scores, similarity = np.zeros((n, k), dtype=np.float32), np.zeros((n, k), dtype=np.float32)
        counts = np.zeros(n, dtype=np.int32)
        index = model.index("recommend")
        query, history = model.user_query, model.evidence.history

        def run(lo: int, hi: int) -> None:
            for u in range(lo, hi):
                hist = history(u)
                i, s = index.search(query[u], k, exclude=hist)
                ids[u, : len(i)], scores[u, : len(i)], counts[u] = i, s, len(i)
                if len(i) and len(hist):
                    c, sim, co = reason_links(model, i, hist)
                    closest[u, : len(i)], similarity[u, : len(i)], co_with[u, : len(i)] = c, sim, co

        threads = max(1, int(threads or os.cpu_count() or 1))
        step = max(1, -(-n // (threads * 8)))
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda lo: run(lo, min(n, lo + step)), range(0, n, step)))
        return ids, scores, counts, closest, similarity, co_with

    @classmethod
    def build(cls, model: ServingModel, k: int, cache_dir: Path | None = None) -> TopTable:
        """The table of ``model`` (read memory-mapped from ``cache_dir`` when a matching one was built before)."""
        k = int(k)
        n = len(model.users)
        index = model.index("recommend")
        key = array_hash(model.user_query, model.evidence.train.indptr, model.evidence.train.indices,
                         extra=f"{TABLE_FORMAT}|{k}|{sorted(index.describe().items())}|"
                               f"{model.index_key('recommend')}")
        if cache_dir is not None:
            paths = [cache_dir / f"table_{part}_{key}.npy" for part in cls.PARTS]
            specs = [(n, k), (n, k), (n,), (n, k), (n, k), (n, k)]
            dtypes = [np.int32, np.float32, np.int32, np.int32, np.float32, np.int32]
            loaded = [_load_npy(p, s, np.dtype(d)) for p, s, d in zip(paths, specs, dtypes)]
            if all(a is not None for a in loaded):
                return cls(*loaded)
        parts = cls.compute(model, k)
        if cache_dir is not None:
            try:
                for p, a in zip(paths, parts):
                    _save_npy(p, a)
                return cls(*(_mapped(p) for p in paths))
            except OSError:
                pass  # unwritable cache folder: keep the table in memory
        return cls(*parts)
