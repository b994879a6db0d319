"""GraphBuilder: relations, dedup weights, reverse ordering, categories, config and error messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from hetrec.graph.builder import GraphBuilder

from .shops import make_shop, pair_set, random_shop

NO_SPLIT = {"strategy": "random", "valid_ratio": 0.0, "test_ratio": 0.0}
CONF = Path(__file__).resolve().parents[2] / "conf" / "graph" / "default.yaml"


def test_dedup_weights_and_counts():
    rows = [
        (0, 1, "clicks", 1, -1, 1.0), (0, 1, "clicks", 2, -1, 2.0), (1, 0, "clicks", 3, -1, 1.0),
        (0, 1, "rates", 4, -1, 4.0), (0, 1, "rates", 5, -1, 2.0),
    ]
    shop = make_shop(rows, num_items=3)
    for how, want in (("sum", 3.0), ("count", 2.0), ("mean", 1.5), ("max", 2.0)):
        gd = GraphBuilder(target="clicks", split=NO_SPLIT, edge_weight=how, features=False).build(shop)
        src, dst = gd.graph.edges(etype="clicks")
        assert list(zip(src.tolist(), dst.tolist())) == [(0, 1), (1, 0)]
        w = gd.graph.edges["clicks"].data["weight"]
        assert w.dtype == torch.float32 and w.tolist() == [want, 1.0]
        assert gd.graph.edges["clicks"].data["count"].tolist() == [2, 1]
    assert gd.graph.num_nodes("item") == 3  # items without edges are nodes too
    assert "co_bought" not in gd.graph.etypes  # no baskets, no co_bought


def test_reverse_edges_mirror_forward_edges_in_order():
    gd = GraphBuilder(target="clicks", co_bought={"min_count": 1, "min_lift": 0.0}, features=False).build(
        random_shop(seed=7)
    )
    g = gd.graph
    seen = 0
    for fwd, rev in gd.reverse_etypes.items():
        if fwd.startswith("rev_"):
            continue
        (s, _, d), = [e for e in g.canonical_etypes if e[1] == fwd]
        fs, fd = g.edges(etype=(s, fwd, d))
        rs, rd = g.edges(etype=(d, rev, s))
        assert torch.equal(fs, rd) and torch.equal(fd, rs)
        for k in g.edges[(s, fwd, d)].data:
            assert torch.equal(g.edges[(s, fwd, d)].data[k], g.edges[(d, rev, s)].data[k])
        seen += 1
    assert seen == 4  # clicks, carts, purchases, co_bought
    for et in g.canonical_etypes:
        assert g.edges[et].data["weight"].dtype == torch.float32
    assert g.idtype == torch.int64


def test_categories_leaf_and_parents():
    attrs = pd.DataFrame({"category": ["Food>Dairy>Milk", "Food > Dairy > Cheese", None, "Food>Dairy>Milk"]})
    shop = make_shop([(0, 0, "clicks", 1, -1), (0, 3, "clicks", 2, -1)], num_items=4, item_attrs=attrs,
                     attr_kinds={"user": {}, "item": {"category": "categorical"}})
    gd = GraphBuilder(target="clicks", split=NO_SPLIT).build(shop)
    cats = gd.idmaps["category"].raw_ids.tolist()
    assert cats == ["Food>Dairy>Milk", "Food>Dairy>Cheese"]
    src, dst = gd.graph.edges(etype="in")
    assert list(zip(src.tolist(), [cats[d] for d in dst.tolist()])) == [
        (0, "Food>Dairy>Milk"), (1, "Food>Dairy>Cheese"), (3, "Food>Dairy>Milk")]
    assert gd.item_categories().tolist() == [0, 1, -1, 0]
    gd = GraphBuilder(target="clicks", split=NO_SPLIT, categories={"parents": True}).build(shop)
    cats = gd.idmaps["category"].raw_ids
    src, dst = gd.graph.edges(etype="in")
    got = {(s, cats[d]) for s, d in zip(src.tolist(), dst.tolist())}
    assert got == {(0, "Food"), (0, "Food>Dairy"), (0, "Food>Dairy>Milk"), (1, "Food"), (1, "Food>Dairy"),
                   (1, "Food>Dairy>Cheese"), (3, "Food"), (3, "Food>Dairy"), (3, "Food>Dairy>Milk")}
    assert gd.graph.num_nodes("category") == 4
    leaf = gd.item_categories()  # with parents: the item's smallest category, its leaf
    assert [None if c < 0 else cats[c] for c in leaf] == ["Food>Dairy>Milk", "Food>Dairy>Cheese", None,
                                                          "Food>Dairy>Milk"]
    off = GraphBuilder(target="clicks", split=NO_SPLIT, categories=False).build(shop)
    assert "category" not in off.graph.ntypes and off.item_categories() is None


def test_graphdata_contract():
    shop = random_shop(seed=8)
    gd = GraphBuilder(target="purchases", split={"strategy": "random", "seed": 1}).build(shop)
    assert gd.target == ("user", "purchases", "item")
    assert gd.num_users == shop.num_users and gd.num_items == shop.num_items
    m = gd.interaction_matrix("train")
    assert m.shape == (shop.num_users, shop.num_items) and m.nnz == len(gd.splits["train"][0])
    assert gd.reverse_etypes["purchases"] == "rev_purchases"
    assert gd.schema.target_etype == gd.target and len(gd.split_hash) == 12
    assert gd.info["edges"]["user,purchases,item"] == len(gd.splits["train"][0])


def test_yaml_config_instantiates_and_builds():
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = OmegaConf.merge(OmegaConf.create({"dataset": {"target": "carts"}, "seed": 3}),
                          OmegaConf.create({"graph": OmegaConf.load(CONF)}))
    b = instantiate(cfg.graph)
    assert isinstance(b, GraphBuilder) and b.target == "carts" and b.split["seed"] == 3
    gd = b.build(random_shop(seed=9))
    assert gd.target == ("user", "carts", "item")
    # every option of the YAML is a builder option and the defaults agree
    yaml_cfg = OmegaConf.to_container(OmegaConf.load(CONF))
    yaml_cfg.pop("_target_")
    yaml_cfg["target"] = None
    yaml_cfg["split"]["seed"] = 0
    assert GraphBuilder(**yaml_cfg).config() == GraphBuilder().config()


def test_errors_say_what_and_how_to_fix():
    shop = random_shop()
    with pytest.raises(ValueError, match=r"unknown target relation 'buys'.*clicks.*dataset.target=.*graph.target="):
        GraphBuilder(target="buys").build(shop)
    with pytest.raises(ValueError, match="several events.*graph.target="):
        GraphBuilder().build(shop)
    with pytest.raises(ValueError, match="unknown option graph.co_bought.topk; graph.co_bought takes"):
        GraphBuilder(co_bought={"topk": 3})
    with pytest.raises(ValueError, match="graph.edge_weight='median'"):
        GraphBuilder(edge_weight="median")
    with pytest.raises(ValueError, match="graph.features.text=hash or tfidf_svd"):
        GraphBuilder(features={"text": "bert"})
    with pytest.raises(ValueError, match="graph.co_bought.min_count=0 must be >= 1"):
        GraphBuilder(co_bought={"min_count": 0})


def test_missing_items_error_or_drop():
    shop = make_shop([(0, 0, "clicks", 1, -1), (0, 1, "clicks", 2, -1), (1, 1, "clicks", 3, -1)], num_items=2)
    shop.interactions.loc[1, "item"] = 5  # outside the catalogue (hand-made, unchecked)
    with pytest.raises(ValueError, match=r"1 interactions name items outside the catalogue.*graph.missing_items=drop"):
        GraphBuilder(target="clicks", split=NO_SPLIT).build(shop)
    gd = GraphBuilder(target="clicks", split=NO_SPLIT, missing_items="drop").build(shop)
    assert gd.info["dropped_missing_items"] == 1
    assert pair_set(gd.splits["train"]) == {(0, 0), (1, 1)}


def test_synthetic_shop_planted_pairs_are_co_bought():
    datasets = pytest.importorskip("hetrec.data.datasets")
    if not hasattr(datasets, "SyntheticShop"):
        pytest.skip("hetrec.data.datasets.SyntheticShop is not available")
    shop = datasets.SyntheticShop(num_users=500, num_items=300, num_interactions=30000, num_pairs=20).load()
    gd = GraphBuilder(target="clicks", split={"seed": 0}).build(shop)
    co = set(zip(gd.co_bought["src"].tolist(), gd.co_bought["dst"].tolist()))
    planted = [tuple(p) for p in shop.planted["complementary_pairs"].tolist()]
    found = sum((a, b) in co for a, b in planted)
    assert found >= 0.5 * len(planted), (found, len(planted))
    assert set(gd.features) == {"user", "item"} and gd.features["item"].dtype == torch.float32
    assert np.isfinite(gd.features["item"].numpy()).all()


def test_graphdata_pickles_and_float_category_codes():
    import pickle

    attrs = pd.DataFrame({"category": [12.0, np.nan, 7.0]})  # integer codes read as float because of a NaN
    shop = make_shop([(0, 0, "clicks", 1, -1), (0, 2, "clicks", 2, -1)], num_items=3, item_attrs=attrs,
                     attr_kinds={"user": {}, "item": {"category": "categorical"}})
    gd = GraphBuilder(target="clicks", split=NO_SPLIT).build(shop)
    assert gd.idmaps["category"].raw_ids.tolist() == ["12", "7"]
    assert "category=12" in gd.feature_encoders["item"].feature_names
    clone = pickle.loads(pickle.dumps(gd))
    assert clone.graph.canonical_etypes == gd.graph.canonical_etypes
    assert torch.equal(clone.features["item"], gd.features["item"]) and clone.schema == gd.schema


def test_events_choose_the_behaviour_relations():
    """graph.events keeps only the named events (and always the target) as relations; unknown names are refused."""
    shop = random_shop(seed=3)
    full = GraphBuilder(target="purchases", split={"strategy": "random", "seed": 1}).build(shop)
    only = GraphBuilder(target="purchases", split={"strategy": "random", "seed": 1}, events=[]).build(shop)
    two = GraphBuilder(target="purchases", split={"strategy": "random", "seed": 1}, events=["clicks"]).build(shop)
    rels = lambda gd: {r for _, r, _ in gd.graph.canonical_etypes if not r.startswith("rev_")}
    assert {"clicks", "carts", "purchases"} <= rels(full)
    assert "clicks" not in rels(only) and "carts" not in rels(only) and "purchases" in rels(only)
    assert "clicks" in rels(two) and "carts" not in rels(two)
    assert only.split_hash == full.split_hash  # same held-out pairs: only the message-passing relations differ
    assert torch.equal(only.splits["train"][0], full.splits["train"][0])
    with pytest.raises(ValueError, match=r"graph.events names \['views'\].*set graph.events to some of them"):
        GraphBuilder(target="purchases", events=["views"]).build(shop)
