"""Baselines under the Recommender interface, each checked against an independent reference computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from hetrec.evaluate.baselines import (
    EASE,
    MFBPR,
    AssociationRules,
    DeepWalk,
    ItemKNN,
    MostPopular,
    PersonalizedPageRank,
    frequent_itemsets,
    homogeneous_adjacency,
    pair_rules,
)
from hetrec.evaluate.ranking import evaluate_split

from .conftest import graphdata_from_pairs, random_graphdata

ALL = [
    lambda: MostPopular(),
    lambda: ItemKNN(k=5),
    lambda: EASE(lam=10.0),
    lambda: MFBPR(dim=8, epochs=2, batch_size=256),
    lambda: AssociationRules(),
    lambda: PersonalizedPageRank(iterations=5),
    lambda: DeepWalk(dim=8, walks_per_node=2, walk_length=5, batch_size=1024),
]


@pytest.mark.parametrize("make", ALL)
def test_interface_contract(make, small_data):
    model = make().fit(small_data)
    users = torch.tensor([0, 3, 5])
    s = model.score(users)
    assert s.shape == (3, small_data.num_items) and s.dtype == torch.float32 and torch.isfinite(s).all()
    ids, sc = model.similar(torch.tensor([1, 2]), k=4)
    assert ids.shape == (2, 4) and sc.shape == (2, 4)
    assert 1 not in ids[0].tolist() and 2 not in ids[1].tolist()
    m = evaluate_split(small_data, model.score, "test", ks=(5,))
    assert 0.0 <= m["recall@5"] <= 1.0
    with pytest.raises(IndexError, match="user ids"):
        model.score(torch.tensor([small_data.num_users]))


def test_not_fitted_is_a_clear_error():
    with pytest.raises(RuntimeError, match="not fitted"):
        MostPopular().score(torch.tensor([0]))


def test_most_popular_counts_are_train_counts(small_data):
    m = MostPopular().fit(small_data)
    expected = np.bincount(small_data.splits["train"][1].numpy(), minlength=small_data.num_items)
    assert np.array_equal(m.counts.numpy(), expected)


def test_itemknn_matches_dense_cosine_topk():
    d = random_graphdata(num_users=50, num_items=30, density=0.3, seed=1)
    x = d.interaction_matrix("train").toarray().astype(np.float64)
    norms = np.linalg.norm(x, axis=0)
    sim = (x.T @ x) / np.maximum(np.outer(norms, norms), 1e-12)
    np.fill_diagonal(sim, 0.0)
    k = 4
    model = ItemKNN(k=k, block_items=7).fit(d)
    w = model.w.toarray()
    for i in range(sim.shape[1]):
        kept = np.flatnonzero(w[:, i])
        assert i not in kept
        assert np.allclose(w[kept, i], sim[kept, i], atol=1e-6)  # kept weights are the cosine similarities
        top = np.sort(sim[:, i])[::-1][:k]
        assert np.allclose(np.sort(w[kept, i])[::-1], top[top > 0], atol=1e-6)  # ... of the k nearest (ties aside)
    got = model.score(torch.arange(50)).numpy()
    assert np.allclose(got, x @ w, atol=1e-5)


def test_ease_matches_closed_form_and_refuses_large_catalogues():
    d = random_graphdata(num_users=40, num_items=25, density=0.3, seed=2)
    x = d.interaction_matrix("train").toarray().astype(np.float64)
    lam = 5.0
    g = x.T @ x + lam * np.eye(25)
    p = np.linalg.inv(g)
    b = np.eye(25) - p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    got = EASE(lam=lam).fit(d).score(torch.arange(40)).numpy()
    assert np.allclose(got, x @ b, atol=1e-4)
    with pytest.raises(ValueError, match="itemknn"):
        EASE(max_items=10).fit(d)


def _toy_baskets(seed=3, n=300, items=12):
    rng = np.random.default_rng(seed)
    m = rng.random((n, items)) < 0.2
    m[:, 1] |= m[:, 0] & (rng.random(n) < 0.8)  # 0 -> 1 is a strong rule
    return sp.csr_matrix(m.astype(np.float32))


def test_pair_rules_equal_mlxtend_itemsets_and_rules():
    from mlxtend.frequent_patterns import association_rules

    b = _toy_baskets()
    ours = pair_rules(b, min_support=0.03)
    for algo in ("fpgrowth", "apriori"):
        fi = frequent_itemsets(b, min_support=0.03, algorithm=algo, max_len=2)
        pairs = fi[fi.itemsets.map(len) == 2]
        assert len(ours) == 2 * len(pairs)
        sup = {frozenset(s): v for s, v in zip(pairs.itemsets, pairs.support)}
        for a, c, s in ours[["antecedent", "consequent", "support"]].itertuples(index=False):
            assert sup[frozenset((a, c))] == pytest.approx(s)
    rules = association_rules(frequent_itemsets(b, 0.03, max_len=2), num_itemsets=b.shape[0], metric="confidence",
                              min_threshold=0.0)
    ref = pd.DataFrame({"antecedent": [next(iter(a)) for a in rules.antecedents],
                        "consequent": [next(iter(c)) for c in rules.consequents],
                        "confidence": rules.confidence, "lift": rules.lift})
    merged = ours.merge(ref, on=["antecedent", "consequent"], suffixes=("", "_ref"))
    assert len(merged) == len(ours)
    assert np.allclose(merged.confidence, merged.confidence_ref) and np.allclose(merged.lift, merged.lift_ref)


def test_association_rules_recommender_uses_train_baskets():
    b = _toy_baskets()
    users = np.repeat(np.arange(20), 2)
    items = np.tile([0, 5], 20)
    d = graphdata_from_pairs((users, items), 20, 12, baskets=b)
    model = AssociationRules(metric="confidence").fit(d)
    rules = pair_rules(b)
    conf = {(a, c): v for a, c, v in rules[["antecedent", "consequent", "confidence"]].itertuples(index=False)}
    s = model.score(torch.tensor([0])).numpy()[0]
    assert s[1] == pytest.approx(conf[(0, 1)] + conf.get((5, 1), 0.0), abs=1e-5)
    ids, _ = model.similar(torch.tensor([0]), k=1)
    assert ids[0, 0].item() == 1


def test_ppr_matches_linear_solve(small_data):
    model = PersonalizedPageRank(alpha=0.3, iterations=200).fit(small_data)
    a, off = homogeneous_adjacency(small_data)
    deg = np.asarray(a.sum(1)).ravel()
    dinv = np.where(deg > 0, np.maximum(deg, 1) ** -0.5, 0.0)
    s = dinv[:, None] * a.toarray() * dinv[None, :]
    n = a.shape[0]
    e = np.zeros(n)
    e[off["user"] + 4] = 1.0
    r = np.linalg.solve(np.eye(n) - 0.7 * s, 0.3 * e)
    got = model.score(torch.tensor([4])).numpy()[0]
    assert np.allclose(got, r[off["item"] : off["item"] + small_data.num_items], atol=1e-5)


def two_halves():
    """40 users in two groups, each clicking 6 items of its own half of the 20-item catalogue."""
    rng = np.random.default_rng(0)
    u, i = [], []
    for user in range(40):
        half = np.arange(10) + (10 if user % 2 else 0)
        pick = rng.choice(half, 6, replace=False)
        u += [user] * 6
        i += pick.tolist()
    return graphdata_from_pairs((np.array(u), np.array(i)), 40, 20)


def test_mf_bpr_learns_block_structure():
    # two user groups, each clicking its own half of the catalogue: BPR must rank own-half items first
    d = two_halves()
    model = MFBPR(dim=8, epochs=40, lr=0.05, batch_size=64).fit(d)
    assert model.losses[-1] < model.losses[0]
    s = model.score(torch.arange(40))
    own = torch.stack([s[k, (10 if k % 2 else 0) : (20 if k % 2 else 10)].mean() for k in range(40)])
    other = torch.stack([s[k, (0 if k % 2 else 10) : (10 if k % 2 else 20)].mean() for k in range(40)])
    assert (own > other).float().mean() > 0.9


def test_deepwalk_user_scores_follow_walk_cooccurrence():
    """DeepWalk's user->item scores rank items like the exact 3-step walk probability P^3[u, i].

    Item popularity is skewed, so a score that drops popularity (cosine of input embeddings: Spearman ~0.08, bare
    dot product of input and context vectors: ~0.5) or reads the item columns at a wrong node offset (~0.35) fails;
    the skip-gram log-probability reaches ~0.8.
    """
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    nu, ni = 80, 50  # unequal, so a user/item offset mix-up in the homogeneous view misaligns the columns
    pop = 1.0 / np.arange(1, ni + 1) ** 0.8
    u, i = [], []
    for user in range(nu):
        u += [user] * 8
        i += rng.choice(ni, 8, replace=False, p=pop / pop.sum()).tolist()
    u, i = np.array(u), np.array(i)
    d = graphdata_from_pairs((u, i), nu, ni)
    model = DeepWalk(dim=16, walks_per_node=20, walk_length=10, window=3, epochs=3, lr=0.01, batch_size=2048).fit(d)
    a, off = homogeneous_adjacency(d)
    p = (sp.diags(1.0 / np.asarray(a.sum(1)).ravel()) @ a).toarray()
    ref = (p @ p @ p)[off["user"] : off["user"] + nu, off["item"] : off["item"] + ni]
    seen = np.zeros((nu, ni), bool)
    seen[u, i] = True
    s = model.score(torch.arange(nu)).numpy()
    rho = np.mean([spearmanr(s[k][~seen[k]], ref[k][~seen[k]])[0] for k in range(nu)])
    assert rho > 0.7, f"mean Spearman of DeepWalk scores vs P^3 = {rho:.3f}"


def test_deepwalk_recommends_own_community_items():
    """Two planted communities of unequal size: every user's top unseen items come from the user's own community."""
    rng = np.random.default_rng(1)
    u, i = [], []
    for user in range(30):
        own = np.arange(8) if user % 3 == 0 else np.arange(8, 25)  # items 0-7 vs 8-24, users 1/3 vs 2/3
        pick = rng.choice(own, 5, replace=False)
        u += [user] * 5
        i += pick.tolist()
    d = graphdata_from_pairs((np.array(u), np.array(i)), 30, 25)
    model = DeepWalk(dim=16, walks_per_node=20, walk_length=8, window=3, epochs=3, lr=0.01, batch_size=2048).fit(d)
    s = model.score(torch.arange(30))
    s[torch.tensor(u), torch.tensor(i)] = -float("inf")
    top = s.topk(3, dim=1).indices
    own = torch.stack([(top[k] < 8) if k % 3 == 0 else (top[k] >= 8) for k in range(30)])
    assert own.float().mean() >= 0.95, f"share of top-3 items from the user's own community: {own.float().mean():.2f}"


def test_deepwalk_embeds_communities():
    d = two_halves()
    model = DeepWalk(dim=16, walks_per_node=10, walk_length=8, epochs=4, lr=0.05, batch_size=4096).fit(d)
    ids, _ = model.similar(torch.tensor([0, 15]), k=5)
    assert (ids[0] < 10).float().mean() >= 0.8 and (ids[1] >= 10).float().mean() >= 0.8
