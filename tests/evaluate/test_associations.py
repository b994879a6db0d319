"""Association metrics on held-out baskets, against brute-force references; item-item quality of embeddings on
planted structure."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from hetrec.evaluate.associations import evaluate_basket_completion, evaluate_pairs, heldout_pairs, item_quality


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


def test_item_quality_same_category_identical_embeddings_agree_fully():
    cat = np.repeat(np.arange(3), 15)  # 3 categories x 15 items, each category one (orthogonal) point
    emb = torch.eye(3)[torch.from_numpy(cat)] * 2.0
    got = item_quality(emb, item_category=cat)
    assert got["category_agreement@10"] == 1.0
    assert got["category_agreement_random@10"] == pytest.approx(14 / 44)
    assert got["category_queries"] == 45 and "copurchase_hit@10" not in got


def test_item_quality_random_embeddings_agree_at_chance():
    rng = np.random.default_rng(0)
    cat = rng.integers(0, 4, 600)
    cat[:50] = -1  # no category: never a query, never agrees
    got = item_quality(torch.from_numpy(rng.normal(size=(600, 32))), item_category=cat, max_queries=400, seed=3)
    assert got["category_queries"] == 400
    sizes = np.bincount(cat[cat >= 0])
    chance = ((sizes - 1) / 599 * sizes).sum() / sizes.sum()  # over all items with a category
    assert got["category_agreement_random@10"] == pytest.approx(chance, abs=0.01)
    assert got["category_agreement@10"] == pytest.approx(got["category_agreement_random@10"], abs=0.03)


def test_item_quality_copurchase_hit_counts_pairs():
    rng = np.random.default_rng(1)
    emb = torch.from_numpy(rng.normal(size=(100, 16)))
    emb[7] = emb[3]  # planted pair (3, 7): identical vectors, each the other's nearest neighbour
    emb[6] = -emb[5]  # pair (5, 6): opposite vectors, each the other's farthest
    rows, cols = [0, 0, 1, 1, 2], [3, 7, 5, 6, 9]  # baskets {3, 7}, {5, 6}, {9} (no pair)
    baskets = sp.csr_matrix((np.ones(5, np.float32), (rows, cols)), shape=(3, 100))
    got = item_quality(emb, heldout_baskets=baskets)
    assert got["copurchase_pairs"] == 4 and got["copurchase_hit@10"] == 0.5
    assert item_quality(emb, heldout_baskets=baskets[:1])["copurchase_hit@10"] == 1.0
    assert set(item_quality(emb)) == {"cosine_spread"}


def test_item_quality_cosine_spread_and_seed():
    same = item_quality(torch.ones(50, 8))["cosine_spread"]
    assert same["std"] == pytest.approx(0.0, abs=1e-6)
    assert same["mean"] == pytest.approx(1.0, abs=1e-6) and same["p05"] == pytest.approx(1.0, abs=1e-6)
    emb = torch.from_numpy(np.random.default_rng(2).normal(size=(300, 256)))
    spread = item_quality(emb, num_pairs=5000)["cosine_spread"]
    assert abs(spread["mean"]) < 0.01 and spread["std"] == pytest.approx(1 / 16, rel=0.1)  # 1/sqrt(dim)
    assert spread["p05"] < spread["p50"] < spread["p95"]
    cat = np.arange(300) % 7
    assert item_quality(emb, item_category=cat, max_queries=50, seed=4) == item_quality(
        emb, item_category=cat, max_queries=50, seed=4)
    assert item_quality(emb, seed=4)["cosine_spread"] != item_quality(emb, seed=5)["cosine_spread"]
