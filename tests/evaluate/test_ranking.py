"""The full-ranking evaluator against a brute-force pure-Python reference on random data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from hetrec.evaluate.ranking import evaluate_embeddings, evaluate_ranking, per_user_metrics, topk_items


def _random_case(num_users=37, num_items=23, seed=0, p_train=0.25, p_test=0.15):
    rng = np.random.default_rng(seed)
    train = rng.random((num_users, num_items)) < p_train
    test = (rng.random((num_users, num_items)) < p_test) & ~train
    test[:5] = False  # users without test items
    train[7] = True  # a user with every item in training: no candidates at all
    test[7] = False
    train[8, :-3] = True  # a user with 3 candidates only (K larger than candidates)
    test[8] = False
    test[8, -2] = True
    # distinct scores everywhere (no ties)
    scores = rng.permutation(num_users * num_items).reshape(num_users, num_items).astype(np.float32)
    return sp.csr_matrix(train.astype(np.float32)), sp.csr_matrix(test.astype(np.float32)), scores


def _reference(scores, train, test, ks):
    """Pure-Python LightGCN-protocol metrics, one user at a time."""
    train = train.toarray() > 0
    test = test.toarray() > 0
    pop = train.sum(0)
    per = {f"{m}@{k}": [] for m in ("recall", "ndcg", "precision", "hit", "mrr", "avg_pop") for k in ks}
    covered = {k: set() for k in ks}
    for u in range(scores.shape[0]):
        rel = {j for j in range(scores.shape[1]) if test[u, j]}
        if not rel:
            continue
        cand = sorted((j for j in range(scores.shape[1]) if not train[u, j]), key=lambda j: -scores[u, j])
        for k in ks:
            top = cand[:k]
            covered[k].update(top)
            hits = [1 if j in rel else 0 for j in top]
            per[f"recall@{k}"].append(sum(hits) / len(rel))
            per[f"precision@{k}"].append(sum(hits) / k)
            per[f"hit@{k}"].append(1.0 if sum(hits) else 0.0)
            dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
            idcg = sum(1 / math.log2(r + 2) for r in range(min(len(rel), k)))
            per[f"ndcg@{k}"].append(dcg / idcg)
            first = next((r for r, h in enumerate(hits) if h), None)
            per[f"mrr@{k}"].append(0.0 if first is None else 1 / (first + 1))
            per[f"avg_pop@{k}"].append(sum(pop[j] for j in top) / len(top) if top else 0.0)
    out = {key: sum(v) / len(v) for key, v in per.items()}
    for k in ks:
        out[f"coverage@{k}"] = len(covered[k]) / scores.shape[1]
    return out


@pytest.mark.parametrize("chunk_size", [1, 4, 4096])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_bruteforce(chunk_size, seed):
    train, test, scores = _random_case(seed=seed)
    ks = (1, 5, 10, 30)  # 30 > number of items (23): K larger than candidates
    st = torch.from_numpy(scores)
    got = evaluate_ranking(lambda u: st[u], test, train, ks=ks, chunk_size=chunk_size)
    ref = _reference(scores, train, test, ks)
    for key, val in ref.items():
        assert got[key] == pytest.approx(val, abs=1e-9), key
    assert got["num_users"] == int((test.getnnz(axis=1) > 0).sum())
    assert torch.equal(st, torch.from_numpy(scores)), "evaluation must not modify the caller's score tensor"


def test_memory_budget_forces_small_chunks_and_same_result():
    train, test, scores = _random_case(num_users=50, num_items=40, seed=3)
    st = torch.from_numpy(scores)
    calls = []

    def fn(u):
        calls.append(len(u))
        return st[u].clone()

    big = evaluate_ranking(fn, test, train, ks=(5,))
    calls.clear()
    tiny = evaluate_ranking(fn, test, train, ks=(5,), memory_budget_mb=40 * 4 * 2 * 7 / 2**20)
    assert max(calls[1:]) <= 7
    assert big == pytest.approx(tiny)


def test_users_subset_and_users_without_truth_are_skipped():
    train, test, scores = _random_case(seed=4)
    st = torch.from_numpy(scores)
    full = evaluate_ranking(lambda u: st[u], test, train, ks=(10,))
    sub = evaluate_ranking(lambda u: st[u], test, train, ks=(10,), users=torch.arange(0, 20))
    only = sp.csr_matrix(test.toarray() * (np.arange(test.shape[0]) < 20)[:, None])
    ref = evaluate_ranking(lambda u: st[u], only, train, ks=(10,))
    assert sub["recall@10"] == pytest.approx(ref["recall@10"])
    assert sub["num_users"] == ref["num_users"] < full["num_users"]


def test_perfect_and_worst_scores():
    rng = np.random.default_rng(5)
    test = sp.csr_matrix((rng.random((30, 50)) < 0.1).astype(np.float32))
    dense = torch.from_numpy(test.toarray())
    perfect = evaluate_ranking(lambda u: dense[u] + 1e-3 * torch.rand(len(u), 50), test, None, ks=(50,))
    assert perfect["recall@50"] == pytest.approx(1.0)
    assert perfect["ndcg@50"] == pytest.approx(1.0)
    assert perfect["mrr@50"] == pytest.approx(1.0)
    worst = evaluate_ranking(lambda u: -dense[u], test, test, ks=(10,))  # every relevant item excluded
    assert worst["recall@10"] == 0.0 and worst["hit@10"] == 0.0


def test_relations_breakdown_and_bootstrap():
    train, test, scores = _random_case(seed=6)
    st = torch.from_numpy(scores)
    dense = test.toarray()
    a = sp.csr_matrix(dense * (np.arange(dense.shape[1]) % 2 == 0))
    b = sp.csr_matrix(dense * (np.arange(dense.shape[1]) % 2 == 1))
    got = evaluate_ranking(
        lambda u: st[u], {"a": a, "b": b}, train, ks=(10,), activity_quantiles=(0.5,), bootstrap=200
    )
    whole = evaluate_ranking(lambda u: st[u], test, train, ks=(10,))
    assert got["recall@10"] == pytest.approx(whole["recall@10"])
    assert got["a/recall@10"] == pytest.approx(evaluate_ranking(lambda u: st[u], a, train, ks=(10,))["recall@10"])
    assert got["b/ndcg@10"] == pytest.approx(evaluate_ranking(lambda u: st[u], b, train, ks=(10,))["ndcg@10"])
    assert got["cold/num_users"] + got["warm/num_users"] == got["num_users"]
    n_c, n_w = got["cold/num_users"], got["warm/num_users"]
    mix = (n_c * got["cold/recall@10"] + n_w * got["warm/recall@10"]) / (n_c + n_w)
    assert mix == pytest.approx(got["recall@10"])
    assert got["recall@10_ci_low"] <= got["recall@10"] <= got["recall@10_ci_high"]
    assert got["recall@10_ci_low"] < got["recall@10_ci_high"]


def test_evaluate_embeddings_equals_score_fn():
    g = torch.Generator().manual_seed(0)
    ue, ie = torch.randn(40, 8, generator=g), torch.randn(60, 8, generator=g)
    train, test, _ = _random_case(num_users=40, num_items=60, seed=7)
    a = evaluate_embeddings(ue, ie, test, train, ks=(5, 20))
    b = evaluate_ranking(lambda u: ue[u] @ ie.T, test, train, ks=(5, 20))
    assert a == pytest.approx(b)


def test_topk_items_masks_and_pads():
    scores = torch.tensor([[0.1, 0.9, 0.5], [0.3, 0.2, 0.1]])
    exclude = sp.csr_matrix(np.array([[0, 1, 0], [1, 1, 1]], dtype=np.float32))
    ids, sc = topk_items(lambda u: scores[u].clone(), np.array([0, 1]), 5, exclude)
    assert ids.tolist() == [[2, 0, -1], [-1, -1, -1]]
    assert sc[0, 0] == pytest.approx(0.5)


def test_bad_inputs_raise_clear_errors():
    test = sp.csr_matrix(np.eye(4, 5, dtype=np.float32))
    with pytest.raises(ValueError, match="4 users"):
        evaluate_ranking(lambda u: torch.zeros(3, 5), test, None)
    with pytest.raises(ValueError, match="item columns"):
        evaluate_ranking(lambda u: torch.zeros(len(u), 6), test, None)
    with pytest.raises(ValueError, match="NaN"):
        evaluate_ranking(lambda u: torch.full((len(u), 5), float("nan")), test, None)
    with pytest.raises(TypeError, match="scipy.sparse"):
        evaluate_ranking(lambda u: torch.zeros(len(u), 5), np.eye(4, 5), None)
    users, per, _ = per_user_metrics(lambda u: torch.rand(len(u), 5), test, None, ks=(2,))
    assert len(users) == 4 and per[""]["recall@2"].shape == (4,)


def test_evaluate_split_excludes_train_and_for_test_also_valid():
    from hetrec.evaluate.ranking import evaluate_split

    from .conftest import random_graphdata

    d = random_graphdata(seed=9)
    st = torch.from_numpy(np.random.default_rng(9).random((d.num_users, d.num_items)).astype(np.float32))
    train, valid, test = (d.interaction_matrix(s) for s in ("train", "valid", "test"))
    both = train + valid
    both.data[:] = 1.0
    assert evaluate_split(d, lambda u: st[u], "test", ks=(5,)) == pytest.approx(
        evaluate_ranking(lambda u: st[u], test, both, ks=(5,), user_activity=np.diff(train.indptr),
                         item_popularity=train.getnnz(axis=0))
    )
    assert evaluate_split(d, lambda u: st[u], "valid", ks=(5,)) == pytest.approx(
        evaluate_ranking(lambda u: st[u], valid, train, ks=(5,))
    )
    with pytest.raises(ValueError, match="'valid' or 'test'"):
        evaluate_split(d, lambda u: st[u], "train")


def test_activity_groups_ties_and_new_users():
    """Users at an edge fall in the lower group; users without training interactions get their own "new" group."""
    rng = np.random.default_rng(8)
    test = sp.csr_matrix((rng.random((40, 30)) < 0.2).astype(np.float32))
    train = sp.lil_matrix((40, 30), dtype=np.float32)
    for u in range(10, 40):  # users 0..9 have no training items; the rest 1 or 3
        train[u, u % 30] = 1.0
        if u >= 30:
            train[u, (u + 1) % 30] = train[u, (u + 2) % 30] = 1.0
    train = train.tocsr()
    st = torch.from_numpy(rng.random((40, 30)).astype(np.float32))
    got = evaluate_ranking(lambda u: st[u], test, train, ks=(10,), activity_quantiles=(0.5,))
    evaluated = np.flatnonzero(np.diff(test.indptr) > 0)
    act = np.diff(train.indptr)[evaluated]
    assert got["cold/num_users"] == float((act <= np.quantile(act, 0.5)).sum())
    assert got["new/num_users"] == float((act == 0).sum()) > 0
    only_new = sp.csr_matrix(test.toarray() * (np.diff(train.indptr) == 0)[:, None])
    assert got["new/recall@10"] == pytest.approx(
        evaluate_ranking(lambda u: st[u], only_new, train, ks=(10,))["recall@10"])
