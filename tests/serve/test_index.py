"""Retrieval indexes: exact top-K, HNSW and IVF recall, filters, k edge cases, auto switch, on-disk cache."""

from __future__ import annotations

import numpy as np
import pytest

from hetrec.serve.index import ExactIndex, HNSWIndex, IVFIndex, build_index


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((20, 16)).astype(np.float32)
    x = centres[rng.integers(0, 20, 3000)] + 0.3 * rng.standard_normal((3000, 16)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute(x: np.ndarray, q: np.ndarray, k: int, ok: np.ndarray | None = None) -> np.ndarray:
    s = x @ q
    if ok is not None:
        s = np.where(ok, s, -np.inf)
    return np.argsort(-s, kind="stable")[:k]


def test_exact_matches_brute_force_and_sorts(vectors):
    idx = ExactIndex(vectors)
    ids, scores = idx.search(vectors[7], 10)
    assert list(ids) == list(brute(vectors, vectors[7], 10))
    assert np.all(np.diff(scores) <= 1e-6)
    assert ids[0] == 7


@pytest.mark.parametrize("cls,opts", [(HNSWIndex, {"m": 16, "ef_construction": 40, "ef_search": 64}),
                                      (IVFIndex, {"nlist": 32, "nprobe": 8})])
def test_ann_recall_against_exact(vectors, cls, opts):
    idx = cls(vectors, **opts)
    rng = np.random.default_rng(1)
    rec = []
    for qi in rng.choice(len(vectors), 50, replace=False):
        ids, _ = idx.search(vectors[qi], 10, exclude=[qi])
        truth = brute(vectors, vectors[qi], 11)
        truth = [t for t in truth if t != qi][:10]
        assert qi not in ids
        rec.append(len(set(ids) & set(truth)) / 10)
    assert np.mean(rec) >= 0.9


@pytest.mark.parametrize("kind", ["exact", "hnsw", "ivf"])
def test_filters_and_k_edges(vectors, kind):
    idx = build_index(vectors, kind=kind, nlist=16, nprobe=16) if kind == "ivf" else build_index(vectors, kind=kind)
    n = len(vectors)
    assert len(idx.search(vectors[0], 0)[0]) == 0
    ids, _ = idx.search(vectors[0], n + 50, exclude=[0, 1])
    assert len(ids) == n - 2 and len(set(ids)) == n - 2 and 0 not in ids
    # a small allowed set: exactly its best members, even those far from the query
    allowed = np.zeros(n, dtype=bool)
    allowed[[5, 900, 1800, 2999]] = True
    ids, _ = idx.search(vectors[0], 3, allowed=allowed)
    assert list(ids) == list(brute(vectors, vectors[0], 3, allowed))
    # a large allowed set: only allowed ids, k of them, and excluded ones dropped
    allowed = np.arange(n) % 2 == 0
    ids, _ = idx.search(vectors[0], 20, exclude=[0, 2], allowed=allowed)
    assert len(ids) == 20 and allowed[ids].all() and not {0, 2} & set(ids)


def test_auto_switches_at_threshold(vectors):
    assert build_index(vectors, kind="auto", auto_threshold=len(vectors) + 1).kind == "exact"
    assert build_index(vectors, kind="auto", auto_threshold=len(vectors), nlist=16).kind == "ivf"
    with pytest.raises(ValueError, match="unknown index kind 'annoy'"):
        build_index(vectors, kind="annoy")


def test_ann_cache_roundtrip(vectors, tmp_path):
    path = tmp_path / "hnsw.faiss"
    a = build_index(vectors, kind="hnsw", cache_path=path, m=8)
    assert path.exists()
    b = build_index(vectors, kind="hnsw", cache_path=path, m=8)
    np.testing.assert_array_equal(a.search(vectors[3], 5)[0], b.search(vectors[3], 5)[0])
    # a cache that does not match the vectors' shape is ignored and rebuilt
    c = build_index(vectors[:100], kind="hnsw", cache_path=path, m=8)
    assert c.size == 100
