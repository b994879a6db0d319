"""Leakage guard: no held-out (valid/test) interaction is reachable from anything a model trains on.

Checked for every split strategy on a graph built by the real GraphBuilder from a small synthetic shop:
1. message-passing graph: no held-out (user, item) pair is an edge of ANY user-item relation or its reverse;
   with ``global_time`` no edge is supported only by rows at/after the first cut;
2. ``co_bought`` derivation: ``train_baskets`` equals the basket matrix of the rows left after removing every
   interaction of a held-out pair (and, for ``global_time``, everything after the cut), and every co_bought edge's
   count is the co-occurrence in those baskets;
3. negative-sampler exclusion source: the objective's positive lookup holds exactly the training pairs;
4. baselines: MostPopular counts equal train-only counts, and no baseline's scores change when the held-out pairs
   are replaced.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from hetrec.data.datasets import SyntheticShop
from hetrec.evaluate.baselines import EASE, AssociationRules, ItemKNN, MostPopular, PersonalizedPageRank
from hetrec.graph.builder import GraphBuilder
from hetrec.graph.co_bought import basket_matrix

SHOP = SyntheticShop(num_users=120, num_items=60, num_interactions=3000, num_pairs=10, seed=3)


def _build(strategy: str):
    shop = SHOP.load()
    split = {"strategy": strategy, "valid_ratio": 0.1, "test_ratio": 0.2, "seed": 0}
    if strategy == "global_time":
        ts = np.sort(shop.interactions["timestamp"].to_numpy())
        split.update(valid_cut_time=int(ts[int(0.7 * len(ts))]), cut_time=int(ts[int(0.85 * len(ts))]))
    builder = GraphBuilder(target="clicks" if "clicks" in shop.events else shop.events[0], split=split,
                           co_bought={"enabled": True, "min_count": 1, "min_lift": 0.0, "top_k": None})
    return shop, builder.build(shop), split


def _keys(u, i, n_items):
    return np.asarray(u, dtype=np.int64) * n_items + np.asarray(i, dtype=np.int64)


@pytest.fixture(scope="module", params=["random", "leave_last", "global_time"])
def built(request):
    return _build(request.param)


def test_no_heldout_pair_in_any_relation(built):
    shop, data, split = built
    n_items = data.num_items
    held = np.concatenate([_keys(*data.splits[s], n_items) for s in ("valid", "test")])
    assert len(held) > 0, "the split must hold something out for this test to mean anything"
    checked = 0
    for st, et, dt in data.graph.canonical_etypes:
        if {st, dt} != {"user", "item"}:
            continue
        s, d = data.graph.edges(etype=(st, et, dt))
        u, i = (s, d) if st == "user" else (d, s)
        leaked = np.isin(_keys(u.numpy(), i.numpy(), n_items), held)
        assert not leaked.any(), f"relation {et}: {int(leaked.sum())} held-out pairs are message-passing edges"
        checked += 1
    assert checked >= 2  # the target relation and its reverse at least
    train = _keys(*data.splits["train"], n_items)
    assert not np.isin(train, held).any(), "a pair is both training and held out"
    if split["strategy"] == "global_time":
        df = shop.interactions
        early = df[df["timestamp"] < split["valid_cut_time"]]
        early_keys = set(_keys(early["user"], early["item"], n_items).tolist())
        for st, et, dt in data.graph.canonical_etypes:
            if st == "user" and dt == "item":
                s, d = data.graph.edges(etype=(st, et, dt))
                late = [k for k in _keys(s.numpy(), d.numpy(), n_items).tolist() if k not in early_keys]
                assert not late, f"relation {et}: {len(late)} edges exist only at/after the first cut"


def test_co_bought_comes_from_leak_free_baskets(built):
    shop, data, split = built
    if data.train_baskets is None:
        pytest.skip("this synthetic shop has no baskets")
    df = shop.interactions
    n_items = data.num_items
    held = np.concatenate([_keys(*data.splits[s], n_items) for s in ("valid", "test")])
    keep = ~np.isin(_keys(df["user"], df["item"], n_items), held)
    if split["strategy"] == "global_time":
        keep &= df["timestamp"].to_numpy() < split["valid_cut_time"]
    expected, _ = basket_matrix(df["basket"].to_numpy(np.int64)[keep], df["item"].to_numpy(np.int64)[keep], n_items)
    got = data.train_baskets
    assert got.shape == expected.shape and (got != expected).nnz == 0, "train_baskets contain held-out interactions"
    leaky, _ = basket_matrix(df["basket"].to_numpy(np.int64), df["item"].to_numpy(np.int64), n_items)
    assert leaky.nnz > expected.nnz, "held-out pairs had no basket rows: the basket check would be vacuous"
    co = (expected.T @ expected).tocsr()
    src, dst = (t.numpy().copy() for t in data.graph.edges(etype=("item", "co_bought", "item")))
    counts = np.asarray(co[src, dst]).ravel()
    assert (counts > 0).all(), "a co_bought edge has no support in the leak-free training baskets"
    if data.co_bought is not None:
        c = data.co_bought
        assert np.allclose(np.asarray(co[np.array(c["src"]), np.array(c["dst"])]).ravel(), c["count"])


def test_negative_sampler_excludes_only_training_pairs(built):
    _, data, _ = built
    from hetrec.objectives.objective import LinkObjective

    obj = LinkObjective(data, dim=8)
    lookup = obj.tasks[0].sampler.lookup
    got = lookup.csr.astype(np.float32)
    train = data.interaction_matrix("train")
    assert (got != train.astype(bool).astype(np.float32)).nnz == 0
    for s in ("valid", "test"):
        u, i = data.splits[s]
        assert not lookup.contains(u, i).any(), f"{s} pairs are in the sampler's exclusion (positive) set"


def test_baselines_see_training_data_only(built):
    _, data, _ = built
    pop = MostPopular().fit(data)
    train_counts = np.bincount(data.splits["train"][1].numpy(), minlength=data.num_items)
    assert np.array_equal(pop.counts.numpy(), train_counts)
    all_counts = train_counts + sum(np.bincount(data.splits[s][1].numpy(), minlength=data.num_items)
                                    for s in ("valid", "test"))
    assert not np.array_equal(pop.counts.numpy(), all_counts)
    # replacing the held-out pairs by others must not change any fitted model
    rng = np.random.default_rng(0)
    fake = {s: (torch.from_numpy(rng.integers(0, data.num_users, 50)), torch.from_numpy(rng.integers(0, data.num_items,
            50))) for s in ("valid", "test")}
    other = dataclasses.replace(data, splits={"train": data.splits["train"], **fake})
    users = torch.arange(data.num_users)
    for make in (MostPopular, lambda: ItemKNN(k=10), lambda: EASE(lam=50.0), AssociationRules,
                 lambda: PersonalizedPageRank(iterations=5)):
        a, b = make().fit(data).score(users), make().fit(other).score(users)
        assert torch.allclose(a, b), f"{type(make()).__name__} depends on held-out pairs"
