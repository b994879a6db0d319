"""graph.split.strategy=cold_items: cold items lose every edge (any relation, reverses, co_bought), keep attributes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hetrec.graph.builder import GraphBuilder
from hetrec.graph.splits import split_interactions

from .shops import pair_set, random_shop


def _shop(seed=0):
    shop = random_shop(seed=seed, num_users=40, num_items=30, n=900)
    rng = np.random.default_rng(seed)
    shop.item_attrs = pd.DataFrame({"category": [f"c{k % 4}" for k in range(shop.num_items)],
                                    "price": rng.random(shop.num_items)})
    shop.attr_kinds = {"item": {"category": "categorical", "price": "numeric"}}
    return shop


def _build(shop, seed=0, **split):
    b = GraphBuilder(
        target="clicks", split={"strategy": "cold_items", "seed": seed, "cold_share": 0.2, **split},
        co_bought={"min_count": 1, "min_lift": 0.0, "top_k": None},
    )
    return b.build(shop)


def test_cold_items_have_no_edge_but_keep_attributes():
    shop = _shop()
    gd = _build(shop)
    cv, ct = pair_set(gd.splits["cold_valid"]), pair_set(gd.splits["cold_test"])
    cold_v, cold_t = {i for _, i in cv}, {i for _, i in ct}
    assert cold_v and cold_t and not cold_v & cold_t
    cold = cold_v | cold_t
    eligible = set(shop.interactions.loc[shop.interactions.event == "clicks", "item"])
    assert len(cold) == round(0.2 * len(eligible))
    # every target pair of a cold item is in its launch's truth, none in train/valid/test
    df = shop.interactions
    clicks = df[df.event == "clicks"]
    assert cv | ct == {(u, i) for u, i in zip(clicks.user, clicks.item) if i in cold}
    for s in ("train", "valid", "test"):
        assert not {i for _, i in pair_set(gd.splits[s])} & cold, s
    # no edge of a cold item in any item-touching relation, forward or reverse, co_bought included
    g = gd.graph
    assert "co_bought" in g.etypes and g.num_edges("co_bought") > 0
    for s, r, d in g.canonical_etypes:
        src, dst = (t.numpy() for t in g.edges(etype=(s, r, d)))
        if r in ("in", "rev_in"):  # category edges are attributes: they stay
            continue
        if s == "item":
            assert not set(src.tolist()) & cold, (s, r, d)
        if d == "item":
            assert not set(dst.tolist()) & cold, (s, r, d)
    # no basket of the training baskets holds a cold item (any event's rows are gone)
    X = gd.train_baskets
    assert not set(X.indices.tolist()) & cold
    assert not set(gd.co_bought["src"].tolist()) & cold and not set(gd.co_bought["dst"].tolist()) & cold
    # attributes stay: features for every item, the cold items' category edges present
    assert gd.features["item"].shape[0] == shop.num_items
    cat_items = set(g.edges(etype=("item", "in", "category"))[0].tolist())
    assert cold <= cat_items


def test_cold_items_seeded_and_independent_of_warm_ratios():
    shop = _shop(seed=2)
    a, b = _build(shop, seed=3), _build(shop, seed=3)
    for s in ("train", "valid", "test", "cold_valid", "cold_test"):
        assert pair_set(a.splits[s]) == pair_set(b.splits[s])
    assert a.split_hash == b.split_hash
    c = _build(shop, seed=4)
    assert pair_set(c.splits["cold_test"]) != pair_set(a.splits["cold_test"])
    # refit (valid_ratio=0) keeps both launches
    d = _build(shop, seed=3, valid_ratio=0.0)
    assert pair_set(d.splits["cold_test"]) == pair_set(a.splits["cold_test"])
    assert pair_set(d.splits["cold_valid"]) == pair_set(a.splits["cold_valid"])
    assert len(d.splits["valid"][0]) == 0


def test_cold_options_leave_other_cache_keys_alone_and_errors():
    plain = GraphBuilder(split={"strategy": "random"})
    assert "cold_share" not in plain.config()["split"]
    assert GraphBuilder(split={"strategy": "random", "cold_share": 0.3}).config_hash() == plain.config_hash()
    assert GraphBuilder(split={"strategy": "cold_items"}).config()["split"]["cold_share"] == 0.1
    with pytest.raises(ValueError, match="cold_share"):
        GraphBuilder(split={"strategy": "cold_items", "cold_share": 1.5})
    with pytest.raises(ValueError, match="cold_valid_share"):
        GraphBuilder(split={"strategy": "cold_items", "cold_valid_share": 1.0})
    shop = _shop()
    with pytest.raises(ValueError, match="cold items"):
        split_interactions(shop.interactions, shop.num_items, "clicks", strategy="cold_items", cold_share=0.001)
