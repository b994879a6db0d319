"""Association metrics on held-out baskets, against brute-force references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from hetrec.evaluate.associations import evaluate_basket_completion, evaluate_pairs, heldout_pairs


def _baskets(seed=0, n=40, items=15):
    rng = np.random.default_rng(seed)
    m = rng.random((n, items)) < 0.25
    m[0] = False
    m[0, 3] = True  # a single-item basket: no pair, no completion query
    return sp.csr_matrix(m.astype(np.float32)), m


def test_heldout_pairs_counts():
    b, m = _baskets()
    co = heldout_pairs(b).toarray()
    ref = m.T.astype(int) @ m.astype(int)
    np.fill_diagonal(ref, 0)
    assert np.array_equal(co, ref)


def test_pairs_recall_matches_bruteforce():
    b, m = _baskets(1)
    rng = np.random.default_rng(1)
    sim = rng.permutation(15 * 15).reshape(15, 15).astype(np.float32)
    st = torch.from_numpy(sim)
    got = evaluate_pairs(lambda q: st[q], b, ks=(3,))
    co = m.T.astype(int) @ m.astype(int)
    np.fill_diagonal(co, 0)
    rec, hit = [], []
    for a in range(15):
        rel = set(np.flatnonzero(co[a]))
        if not rel:
            continue
        order = [j for j in np.argsort(-sim[a]) if j != a][:3]
        h = len(rel & set(order))
        rec.append(h / len(rel))
        hit.append(float(h > 0))
    assert got["recall@3"] == pytest.approx(np.mean(rec))
    assert got["hit@3"] == pytest.approx(np.mean(hit))


def test_basket_completion_matches_bruteforce():
    b, m = _baskets(2)
    rng = np.random.default_rng(2)
    sim = rng.random((15, 15)).astype(np.float32)
    st = torch.from_numpy(sim)
    got = evaluate_basket_completion(lambda q: st[q], b, ks=(5,), seed=7, chunk_size=3)
    # the same hidden item per basket as the implementation: seeded draw over baskets with >= 2 items
    sizes = m.sum(1)
    keep = np.flatnonzero(sizes >= 2)
    pick = np.random.default_rng(7).integers(0, sizes[keep])
    hits, ndcg = [], []
    for row, p in zip(keep, pick):
        items = np.flatnonzero(m[row])
        hidden, ctx = items[p], np.delete(items, p)
        score = sim[ctx].sum(0)
        score[ctx] = -np.inf
        top = list(np.argsort(-score)[:5])
        hits.append(float(hidden in top))
        ndcg.append(1 / math.log2(top.index(hidden) + 2) if hidden in top else 0.0)
    assert got["num_users"] == len(keep)
    assert got["hit@5"] == pytest.approx(np.mean(hits)) and got["recall@5"] == pytest.approx(np.mean(hits))
    assert got["ndcg@5"] == pytest.approx(np.mean(ndcg))


def test_basket_completion_needs_pairs():
    with pytest.raises(ValueError, match="two or more items"):
        evaluate_basket_completion(lambda q: torch.zeros(len(q), 4), sp.csr_matrix(np.eye(4, dtype=np.float32)))
