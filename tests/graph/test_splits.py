"""Every split strategy: its own rule, and no leakage of held-out pairs into the graph, baskets or co_bought."""

from __future__ import annotations

from collections import defaultdict

import pytest

from hetrec.graph.builder import GraphBuilder
from hetrec.graph.splits import split_interactions

from .shops import make_shop, pair_set, random_shop

STRATEGIES = [
    ("random", {}),
    ("leave_last", {}),
    ("global_time", {}),
    ("global_time", {"cut_time": 20 * 86400, "valid_cut_time": 15 * 86400}),
    ("given", {}),
    ("given_carved", {}),
]


def _build(strategy, extra, seed=0):
    with_split = strategy.startswith("given")
    shop = random_shop(seed=seed, with_split=with_split)
    if strategy == "given_carved":  # no validation rows: carved per user from training
        shop.interactions["split"] = shop.interactions["split"].replace("valid", "train")
        strategy = "given"
    b = GraphBuilder(
        target="clicks", split={"strategy": strategy, "seed": seed, **extra},
        co_bought={"min_count": 1, "min_lift": 0.0, "top_k": None}, categories=False, features=False,
    )
    return shop, b.build(shop)


def _expected_train_baskets(shop, held, cut):
    """Brute force: basket -> set of items over rows that are not held out (and before the cut)."""
    df = shop.interactions
    out = defaultdict(set)
    for u, i, t, b, s in zip(df.user, df.item, df.timestamp, df.basket,
                             df["split"] if "split" in df else ["train"] * len(df)):
        if b < 0 or (u, i) in held or (cut is not None and t >= cut) or s != "train":
            continue
        out[b].add(i)
    return [out[b] for b in sorted(out)]


@pytest.mark.parametrize("strategy,extra", STRATEGIES)
def test_no_leakage(strategy, extra):
    shop, gd = _build(strategy, extra)
    train, valid, test = (pair_set(gd.splits[s]) for s in ("train", "valid", "test"))
    assert valid and test, "the case must hold something out"
    held = valid | test
    assert not (train & valid) and not (train & test) and not (valid & test)
    df = shop.interactions
    clicks = df[df.event == "clicks"]
    assert train | held == set(zip(clicks.user, clicks.item))
    g = gd.graph
    # training pairs are exactly the target edges
    assert pair_set(g.edges(etype=("user", "clicks", "item"))) == train
    # no held-out pair in any user-item relation (forward or reverse)
    for s, r, d in g.canonical_etypes:
        src, dst = g.edges(etype=(s, r, d))
        if (s, d) == ("user", "item"):
            assert not pair_set((src, dst)) & held, (s, r, d)
        if (s, d) == ("item", "user"):
            assert not pair_set((dst, src)) & held, (s, r, d)
    cut = gd.info["split_params"].get("valid_cut_time") or gd.info["split_params"].get("cut_time")
    want = _expected_train_baskets(shop, held, cut if strategy.startswith("global") else None)
    X = gd.train_baskets
    got = [set(X.indices[X.indptr[k]:X.indptr[k + 1]].tolist()) for k in range(X.shape[0])]
    assert got == want
    # co_bought derives from those baskets only
    co = set(zip(gd.co_bought["src"].tolist(), gd.co_bought["dst"].tolist()))
    want_co = {(a, b) for s in want for a in s for b in s if a != b}
    assert co == want_co


def test_held_out_pair_does_not_create_co_bought_edge():
    # user 0 clicks item 1 (the test pair) and buys items 0 and 1 together: the only basket joining 0 and 1.
    # Everything of the pair (0, 1) must go, so (0, 1) is not co-bought; the control build (nothing held out) has it.
    rows = [
        (0, 0, "clicks", 1, -1, 1.0, "train"),
        (0, 1, "clicks", 2, -1, 1.0, "test"),
        (0, 0, "purchases", 3, 0, 1.0, "train"),
        (0, 1, "purchases", 3, 0, 1.0, "train"),
        (1, 0, "clicks", 4, -1, 1.0, "train"),
        (1, 2, "clicks", 5, -1, 1.0, "train"),
        (1, 0, "purchases", 6, 1, 1.0, "train"),
        (1, 2, "purchases", 6, 1, 1.0, "train"),
    ]
    cfg = dict(target="clicks", co_bought={"min_count": 1, "min_lift": 0.0}, categories=False, features=False)
    gd = GraphBuilder(split={"strategy": "given", "valid_ratio": 0.0}, **cfg).build(make_shop(rows))
    co = pair_set(gd.graph.edges(etype="co_bought"))
    assert co == {(0, 2), (2, 0)}
    assert (0, 1) not in pair_set(gd.graph.edges(etype="purchases"))
    assert pair_set(gd.splits["test"]) == {(0, 1)}
    control = GraphBuilder(split={"strategy": "given", "valid_ratio": 0.0}, **cfg).build(
        make_shop([r[:6] + ("train",) for r in rows])
    )
    assert {(0, 1), (1, 0)} <= pair_set(control.graph.edges(etype="co_bought"))


def test_random_is_per_user_seeded_and_keeps_single_pair_users():
    shop = random_shop(seed=1)
    kw = dict(target="clicks", categories=False, features=False, co_bought=False)
    a = GraphBuilder(split={"strategy": "random", "seed": 5}, **kw).build(shop)
    b = GraphBuilder(split={"strategy": "random", "seed": 5}, **kw).build(shop)
    c = GraphBuilder(split={"strategy": "random", "seed": 6}, **kw).build(shop)
    assert a.split_hash == b.split_hash and pair_set(a.splits["test"]) == pair_set(b.splits["test"])
    assert a.split_hash != c.split_hash
    single_user = shop.num_users - 1
    assert (single_user, 0) in pair_set(a.splits["train"])
    # every user keeps a training pair; the held-out share is near the ratios
    n = {s: len(a.splits[s][0]) for s in a.splits}
    total = sum(n.values())
    assert abs(n["test"] / total - 0.2) < 0.06 and abs(n["valid"] / total - 0.1) < 0.05
    users_with_pairs = {u for u, _ in pair_set(a.splits["train"]) | pair_set(a.splits["test"])}
    assert users_with_pairs == {u for u, _ in pair_set(a.splits["train"])}


def test_leave_last_holds_out_latest_pairs():
    shop = random_shop(seed=2)
    gd = GraphBuilder(target="clicks", split={"strategy": "leave_last"}, categories=False, features=False).build(shop)
    df = shop.interactions[shop.interactions.event == "clicks"]
    first = df.groupby(["user", "item"]).timestamp.min().reset_index().sort_values(["user", "timestamp"])
    test, valid = pair_set(gd.splits["test"]), pair_set(gd.splits["valid"])
    for u, grp in first.groupby("user"):
        items = grp["item"].tolist()
        if len(items) == 1:
            assert (u, items[0]) in pair_set(gd.splits["train"])
            continue
        assert (u, items[-1]) in test
        if len(items) >= 3:
            assert (u, items[-2]) in valid
    assert len(test) == int((first.groupby("user").size() >= 2).sum())


def test_global_time_removes_everything_after_the_cut():
    shop = random_shop(seed=3)
    df = shop.interactions
    res = split_interactions(df, shop.num_items, "clicks", "global_time", valid_ratio=0.1, test_ratio=0.2)
    vcut, cut = res.params["valid_cut_time"], res.params["cut_time"]
    assert vcut < cut
    ts = df.timestamp.to_numpy()
    assert (ts[res.keep_rows] < vcut).all()
    # date strings work and match the same cut in seconds
    r2 = split_interactions(df, shop.num_items, "clicks", "global_time", valid_ratio=0.0, cut_time="1970-01-21")
    assert r2.params["cut_time"] == 20 * 86400 and r2.params["valid_cut_time"] is None
    r3 = split_interactions(df, shop.num_items, "clicks", "global_time", valid_ratio=0.0, cut_time=str(20 * 86400))
    assert r3.split_hash == r2.split_hash
    assert (ts[r2.keep_rows] < 20 * 86400).all()
    test_pairs = set(zip(*[a.tolist() for a in r2.test]))
    clicks = df[df.event == "clicks"]
    first = clicks.groupby(["user", "item"]).timestamp.min()
    assert test_pairs == {k for k, t in first.items() if t >= 20 * 86400}


def test_given_uses_split_column():
    shop = random_shop(seed=4, with_split=True)
    gd = GraphBuilder(target="clicks", split={"strategy": "auto"}, features=False).build(shop)
    assert gd.info["split"]["strategy"] == "given"
    df = shop.interactions[shop.interactions.event == "clicks"]
    lab = df.groupby(["user", "item"]).split.agg(set)
    want_test = {k for k, s in lab.items() if "test" in s}
    want_valid = {k for k, s in lab.items() if "valid" in s and "test" not in s}
    assert pair_set(gd.splits["test"]) == want_test and pair_set(gd.splits["valid"]) == want_valid


def test_split_errors():
    shop = random_shop(seed=0, has_time=False)
    with pytest.raises(ValueError, match="needs real timestamps.*graph.split.strategy=random"):
        GraphBuilder(target="clicks", split={"strategy": "leave_last"}).build(shop)
    with pytest.raises(ValueError, match="needs a 'split' column"):
        GraphBuilder(target="clicks", split={"strategy": "given"}).build(shop)
    with pytest.raises(ValueError, match=r"graph.split.test_ratio=1.5 must lie in \[0, 1\)"):
        GraphBuilder(target="clicks", split={"test_ratio": 1.5})
    with pytest.raises(ValueError, match="must be below 1"):
        GraphBuilder(target="clicks", split={"test_ratio": 0.6, "valid_ratio": 0.5})
    with pytest.raises(ValueError, match="unknown split strategy 'temporal'; use one of"):
        GraphBuilder(target="clicks", split={"strategy": "temporal"})
    with pytest.raises(ValueError, match="is not a time"):
        split_interactions(random_shop().interactions, 30, "clicks", "global_time", cut_time="next tuesday")
