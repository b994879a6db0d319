"""Top-K retrieval over item embeddings: exact inner product for small catalogues, faiss HNSW / IVF for large ones.

Every index answers the same question, "the ``k`` rows of ``E`` with the largest inner product with ``q``", and every
index honours the same two filters: ``exclude`` (ids that must not come back, e.g. the items a user has already
bought) and ``allowed`` (a boolean mask of the ids that may come back, e.g. a category or an in-stock list).

- :class:`ExactIndex`: ``E @ q`` and ``torch.topk``; exact, about 10 ms per query per million items on one core.
- :class:`HNSWIndex`: faiss ``IndexHNSWFlat`` with ``METRIC_INNER_PRODUCT`` (Malkov & Yashunin, 2018), a
  hierarchical navigable small-world graph; sub-millisecond queries on millions of items, recall tuned by
  ``ef_search``.
- :class:`IVFIndex`: faiss ``IndexIVFFlat`` (inverted lists over a k-means coarse quantizer, Jégou et al., 2011);
  fast to build, recall tuned by ``nprobe``.

ANN indexes cannot filter inside the graph walk cheaply, so they over-fetch (``k`` + number excluded + margin,
growing 4x per retry) and drop filtered ids; when the filter keeps only a small part of the catalogue, or the
over-fetch grows past ``max_fetch``, the search falls back to exact search over the allowed rows, so a filtered
query never returns fewer than the ``k`` items that pass the filter.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from hetrec.io import atomic_write

__all__ = ["ItemIndex", "ExactIndex", "HNSWIndex", "IVFIndex", "build_index", "INDEX_KINDS"]

INDEX_KINDS = ("auto", "exact", "hnsw", "ivf")
AUTO_ANN = "ivf"
"""The ANN index ``auto`` picks for large catalogues. On the 1M x 64 clustered catalogue of ``benchmarks/serve.py``
(2 shared cores) IVF (nlist 4000, nprobe 16) reached recall@20 0.974 at 0.23 ms median per query and built in ~70 s;
HNSW (M 32, efConstruction 64) needed efSearch 192 for 0.977 at 0.72 ms and took ~430 s to build."""
BUILD_DEFAULTS = {"hnsw": {"m": 32, "ef_construction": 64}, "ivf": {"nlist": None, "train_size": None, "seed": 0}}
"""Options that shape a built ANN index (the rest, ``ef_search`` and ``nprobe``, only tune searches)."""


def _as_matrix(x: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.ascontiguousarray(np.asarray(x, dtype=np.float32))


class ItemIndex:
    """Inner-product top-K over the rows of an embedding matrix (base class; see the module docstring).

    Args:
        vectors: the item vectors, one row per internal item id.

    Shapes:
        vectors: ``[N, D]`` float32.
    """

    kind = "base"

    def __init__(self, vectors: np.ndarray | torch.Tensor) -> None:
        self.vectors = _as_matrix(vectors)
        if self.vectors.ndim != 2:
            raise ValueError(f"{type(self).__name__}: vectors must be 2-d [num_items, dim], got {self.vectors.shape}")
        with warnings.catch_warnings():  # read-only (memory-mapped) vectors: the index never writes to them
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            self._tensor = torch.from_numpy(self.vectors)
        self.max_fetch = 4096

    @property
    def size(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def describe(self) -> dict:
        """What the index is, for ``/health`` and logs."""
        return {"kind": self.kind, "size": self.size, "dim": self.dim}

    # ------------------------------------------------------------------ search
    def search(
        self,
        query: np.ndarray | torch.Tensor,
        k: int,
        exclude: Sequence[int] | np.ndarray | None = None,
        allowed: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best ids for one query, best first, honouring the filters.

        Args:
            query: one query vector.
            k: number of results wanted (``0`` gives empty arrays; more than the items that pass the filters gives
                all of them).
            exclude: ids that must not be returned. Default none.
            allowed: boolean mask over all ids; only ``True`` ids may be returned. Default all.

        Returns:
            ``(ids int64 [k'], scores float32 [k'])`` with ``k' = min(k, number of ids passing the filters)``.

        Shapes:
            query: ``[D]``.
        """
        q = _as_matrix(query).reshape(-1)
        if q.shape[0] != self.dim:
            raise ValueError(f"{type(self).__name__}: query has {q.shape[0]} dimensions, the index has {self.dim}")
        k = int(k)
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        excl = np.unique(np.asarray(exclude if exclude is not None else [], dtype=np.int64))
        excl = excl[(excl >= 0) & (excl < self.size)]
        mask = None
        if allowed is not None:
            mask = np.asarray(allowed, dtype=bool)
            if mask.shape != (self.size,):
                raise ValueError(f"allowed must be a boolean mask of shape ({self.size},), got {mask.shape}")
            if len(excl):
                mask = mask.copy()
                mask[excl] = False
            n_ok = int(mask.sum())
        else:
            n_ok = self.size - len(excl)
        k = min(k, n_ok)
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if mask is not None and n_ok <= max(4 * k, self.size // 20):
            return self._exact_subset(q, k, np.flatnonzero(mask))
        return self._search(q, k, excl, mask)

    def _search(
        self, q: np.ndarray, k: int, excl: np.ndarray, mask: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _exact_subset(self, q: np.ndarray, k: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores = self.vectors[rows] @ q
        top = np.argpartition(-scores, k - 1)[:k] if k < len(rows) else np.arange(len(rows))
        top = top[np.argsort(-scores[top], kind="stable")]
        return rows[top].astype(np.int64), scores[top].astype(np.float32)

    def search_batch(self, queries: np.ndarray | torch.Tensor, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Unfiltered top-``k`` for many queries at once (benchmarks, offline jobs).

        Shapes:
            queries: ``[Q, D]`` -> ``(ids [Q, k], scores [Q, k])``.
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write the index to ``path`` atomically (ANN indexes only; an exact index has nothing to save)."""

    @classmethod
    def load_or_none(cls, path: str | os.PathLike, vectors: np.ndarray) -> ItemIndex | None:
        return None


class ExactIndex(ItemIndex):
    """Exact inner-product top-K with ``torch`` (batched matrix product + ``topk``).

    Args:
        vectors: ``[N, D]`` item vectors.
    """

    kind = "exact"

    def _search(
        self, q: np.ndarray, k: int, excl: np.ndarray, mask: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        scores = self._tensor @ torch.from_numpy(q)
        if mask is not None:
            scores[torch.from_numpy(~mask)] = -torch.inf
        elif len(excl):
            scores[torch.from_numpy(excl)] = -torch.inf
        val, idx = torch.topk(scores, k)
        return idx.numpy().astype(np.int64), val.numpy().astype(np.float32)

    def search_batch(
        self, queries: np.ndarray | torch.Tensor, k: int, chunk: int = 1024
    ) -> tuple[np.ndarray, np.ndarray]:
        q = torch.from_numpy(_as_matrix(queries))
        k = min(int(k), self.size)
        ids, vals = [], []
        for s in range(0, q.shape[0], chunk):
            v, i = torch.topk(q[s : s + chunk] @ self._tensor.T, k, dim=1)
            ids.append(i)
            vals.append(v)
        return torch.cat(ids).numpy().astype(np.int64), torch.cat(vals).numpy()


class _FaissIndex(ItemIndex):
    """Shared over-fetch-and-filter search of the faiss indexes."""

    index: object

    def _raw(self, q: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        d, i = self.index.search(q.reshape(1, -1), n)  # type: ignore[attr-defined]
        return i[0], d[0]

    def _search(
        self, q: np.ndarray, k: int, excl: np.ndarray, mask: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        fetch = min(self.size, k + len(excl) + 16)
        while True:
            ids, scores = self._raw(q, fetch)
            ok = ids >= 0
            if mask is not None:
                ok &= mask[np.where(ok, ids, 0)]
            elif len(excl):
                ok &= ~np.isin(ids, excl)
            ids, scores = ids[ok], scores[ok]
            if len(ids) >= k or fetch >= self.size:
                break
            if fetch * 4 > self.max_fetch:
                rows = np.flatnonzero(mask) if mask is not None else np.setdiff1d(np.arange(self.size), excl)
                return self._exact_subset(q, k, rows)
            fetch = min(self.size, fetch * 4)
        return ids[:k].astype(np.int64), scores[:k].astype(np.float32)

    def search_batch(self, queries: np.ndarray | torch.Tensor, k: int) -> tuple[np.ndarray, np.ndarray]:
        d, i = self.index.search(_as_matrix(queries), min(int(k), self.size))  # type: ignore[attr-defined]
        return i.astype(np.int64), d

    def save(self, path: str | os.PathLike) -> None:
        import faiss

        with atomic_write(path) as tmp:
            faiss.write_index(self.index, str(tmp))


class HNSWIndex(_FaissIndex):
    """faiss ``IndexHNSWFlat`` over inner product (HNSW graph, Malkov & Yashunin, 2018).

    Args:
        vectors: ``[N, D]`` item vectors.
        m: graph degree (links per node). Default 32.
        ef_construction: candidate list size while building (higher: better graph, slower build). Default 64.
        ef_search: candidate list size while searching (higher: better recall, slower queries). Default 128.
        index: an already built faiss index over ``vectors`` (e.g. read from disk); skips the build.
    """

    kind = "hnsw"

    def __init__(
        self,
        vectors: np.ndarray | torch.Tensor,
        m: int = 32,
        ef_construction: int = 64,
        ef_search: int = 128,
        index: object | None = None,
    ) -> None:
        import faiss

        super().__init__(vectors)
        if index is None:
            index = faiss.IndexHNSWFlat(self.dim, int(m), faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = int(ef_construction)
            index.add(self.vectors)
        if index.ntotal != self.size or index.d != self.dim:
            raise ValueError(f"HNSW index holds {index.ntotal} x {index.d} vectors, expected {self.size} x {self.dim}")
        self.index = index
        self.m = int(index.hnsw.nb_neighbors(1))
        self.ef_construction = int(index.hnsw.efConstruction)
        self.ef_search = int(ef_search)

    @property
    def ef_search(self) -> int:
        return int(self.index.hnsw.efSearch)

    @ef_search.setter
    def ef_search(self, value: int) -> None:
        self.index.hnsw.efSearch = int(value)

    def _raw(self, q: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        if n > self.ef_search:  # HNSW returns at most efSearch candidates: widen this search only (thread-safe)
            import faiss

            params = faiss.SearchParametersHNSW()
            params.efSearch = int(n)
            d, i = self.index.search(q.reshape(1, -1), n, params=params)  # type: ignore[attr-defined]
            return i[0], d[0]
        return super()._raw(q, n)

    def describe(self) -> dict:
        return {**super().describe(), "m": self.m, "ef_construction": self.ef_construction, "ef_search": self.ef_search}

    @classmethod
    def load_or_none(cls, path: str | os.PathLike, vectors: np.ndarray, ef_search: int = 128) -> HNSWIndex | None:
        import faiss

        if not Path(path).exists():
            return None
        index = faiss.read_index(str(path))
        if not isinstance(index, faiss.IndexHNSWFlat) or index.ntotal != len(vectors) or index.d != vectors.shape[1]:
            return None
        return cls(vectors, index=index, ef_search=ef_search)


class IVFIndex(_FaissIndex):
    """faiss ``IndexIVFFlat`` over inner product (inverted file with a k-means coarse quantizer, Jégou et al., 2011).

    Args:
        vectors: ``[N, D]`` item vectors.
        nlist: number of k-means cells; default ``4 * sqrt(N)`` rounded, at least 1.
        nprobe: cells visited per query (higher: better recall, slower). Default 32.
        train_size: vectors sampled to train the quantizer. Default ``40 * nlist`` (faiss' advice is >= 39 per
            cell), at most N.
        seed: sampling seed. Default 0.
        index: an already built faiss index over ``vectors``; skips the build.
    """

    kind = "ivf"

    def __init__(
        self,
        vectors: np.ndarray | torch.Tensor,
        nlist: int | None = None,
        nprobe: int = 32,
        train_size: int | None = None,
        seed: int = 0,
        index: object | None = None,
    ) -> None:
        import faiss

        super().__init__(vectors)
        if index is None:
            nlist = int(nlist or max(1, round(4 * np.sqrt(self.size))))
            nlist = max(1, min(nlist, self.size))
            quantizer = faiss.IndexFlatIP(self.dim)
            index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
            rng = np.random.default_rng(seed)
            sample = self.vectors
            train_size = int(train_size or 40 * nlist)
            if self.size > train_size:
                sample = self.vectors[np.sort(rng.choice(self.size, train_size, replace=False))]
            index.train(sample)
            index.add(self.vectors)
            index.quantizer_trains_alone = 0
            self._quantizer = quantizer  # keep the quantizer alive alongside the index
        self.index = index
        self.index.nprobe = int(nprobe)

    def describe(self) -> dict:
        return {**super().describe(), "nlist": int(self.index.nlist), "nprobe": int(self.index.nprobe)}

    @classmethod
    def load_or_none(cls, path: str | os.PathLike, vectors: np.ndarray, nprobe: int = 32) -> IVFIndex | None:
        import faiss

        if not Path(path).exists():
            return None
        index = faiss.read_index(str(path))
        if not isinstance(index, faiss.IndexIVFFlat) or index.ntotal != len(vectors) or index.d != vectors.shape[1]:
            return None
        return cls(vectors, index=index, nprobe=nprobe)


def build_index(
    vectors: np.ndarray | torch.Tensor,
    kind: str = "auto",
    auto_threshold: int = 50_000,
    cache_path: str | os.PathLike | None = None,
    **options: object,
) -> ItemIndex:
    """Build the index named by ``kind`` (``auto``: exact below ``auto_threshold`` items, :data:`AUTO_ANN` at or above).

    Args:
        vectors: ``[N, D]`` item vectors.
        kind: ``auto`` | ``exact`` | ``hnsw`` | ``ivf``. Default ``auto``.
        auto_threshold: catalogue size at which ``auto`` switches from exact to ANN. Default 50,000.
        cache_path: where to read a previously built ANN index from (when it matches ``vectors``' shape) and to
            write a newly built one to (best effort: an unwritable folder only skips the cache). Default none.
        **options: passed to the index class (``m``, ``ef_construction``, ``ef_search`` for HNSW; ``nlist``,
            ``nprobe`` for IVF).
    """
    if kind not in INDEX_KINDS:
        raise ValueError(f"unknown index kind {kind!r}; choose one of {', '.join(INDEX_KINDS)} (e.g. index=hnsw)")
    vectors = _as_matrix(vectors)
    allowed = {"m", "ef_construction", "ef_search", "nlist", "nprobe", "train_size", "seed"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(f"unknown index option(s) {unknown}; known: {sorted(allowed)}")
    if kind == "auto":
        kind = "exact" if len(vectors) < int(auto_threshold) else AUTO_ANN
    if kind == "exact":
        return ExactIndex(vectors)
    own = {"hnsw": ("m", "ef_construction", "ef_search"), "ivf": ("nlist", "nprobe", "train_size", "seed")}[kind]
    options = {k: v for k, v in options.items() if k in own}  # options of the other ANN kind do not apply
    cls: type[HNSWIndex] | type[IVFIndex] = HNSWIndex if kind == "hnsw" else IVFIndex
    if cache_path is not None:
        search_opt = {"ef_search": options["ef_search"]} if "ef_search" in options and kind == "hnsw" else {}
        if "nprobe" in options and kind == "ivf":
            search_opt = {"nprobe": options["nprobe"]}
        cached = cls.load_or_none(cache_path, vectors, **search_opt)  # type: ignore[arg-type]
        if cached is not None:
            return cached
    index = cls(vectors, **options)  # type: ignore[arg-type]
    if cache_path is not None:
        try:
            index.save(cache_path)
        except OSError:
            pass
    return index
