"""SyntheticShop: determinism, shape of the log, and planted structure that can be recovered."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from hetrec.data.datasets import SyntheticShop

SMALL = dict(num_users=300, num_items=200, num_interactions=8000, num_pairs=20)


@pytest.fixture(scope="module")
def shop():
    return SyntheticShop(**SMALL, seed=3).load()


def test_same_seed_same_shop_other_seed_other_shop(shop):
    again = SyntheticShop(**SMALL, seed=3).load()
    pd.testing.assert_frame_equal(shop.interactions, again.interactions)
    pd.testing.assert_frame_equal(shop.item_attrs, again.item_attrs)
    pd.testing.assert_frame_equal(shop.user_attrs, again.user_attrs)
    for k, v in shop.planted.items():
        np.testing.assert_array_equal(v, again.planted[k])
    other = SyntheticShop(**SMALL, seed=4).load()
    assert not shop.interactions["item"].equals(other.interactions["item"])
    assert SyntheticShop(**SMALL, seed=3).fingerprint() == SyntheticShop(**SMALL, seed=3).fingerprint()
    assert SyntheticShop(**SMALL, seed=3).fingerprint() != SyntheticShop(**SMALL, seed=4).fingerprint()


def test_log_shape_funnel_time_and_attributes(shop):
    df = shop.interactions
    assert len(df) == SMALL["num_interactions"] and shop.num_users == 300 and shop.num_items == 200
    n = df["event"].value_counts()
    assert n["clicks"] > n["carts"] > n["purchases"] > 0
    assert (df["basket"] >= 0).to_numpy().tolist() == (df["event"] == "purchases").to_numpy().tolist()
    assert df["timestamp"].is_monotonic_increasing and shop.has_time
    start = pd.Timestamp("2025-01-01").timestamp()
    assert start <= df["timestamp"].min() and df["timestamp"].max() <= start + 91 * 86400
    assert df["user"].nunique() == 300  # every user has at least one session
    assert set(shop.item_attrs.columns) == {"category", "price", "brand", "title"}
    assert shop.item_attrs["category"].str.count(">").eq(2).all()  # dept>category>subcategory
    assert (shop.item_attrs["price"] > 0).all()
    leaf = shop.item_attrs["category"].str.rsplit(">", n=1).str[1]
    assert all(w in t for w, t in zip(leaf, shop.item_attrs["title"]))  # titles name the product kind
    assert set(shop.user_attrs.columns) == {"age_band", "region", "segment"}


def test_popularity_is_heavy_tailed(shop):
    clicks = shop.interactions.query("event == 'clicks'")["item"].value_counts().to_numpy()
    top = clicks[: len(clicks) // 10].sum() / clicks.sum()
    assert top > 0.35  # top 10% of items get a large share of clicks


def test_planted_pairs_are_bought_together_far_above_chance(shop):
    pairs = shop.planted["complementary_pairs"]
    assert pairs.dtype == np.int64 and pairs.shape == (20, 2) and len(np.unique(pairs)) == 40
    cat = shop.item_attrs["category"].to_numpy()
    mid = np.asarray([c.rsplit(">", 1)[0] for c in cat])
    assert (mid[pairs[:, 0]] == mid[pairs[:, 1]]).all() and (cat[pairs[:, 0]] != cat[pairs[:, 1]]).all()
    p = shop.interactions.query("event == 'purchases'")
    nb = int(p["basket"].max()) + 1
    m = sp.csr_matrix((np.ones(len(p)), (p["basket"], p["item"])), shape=(nb, shop.num_items))
    m.data[:] = 1.0
    co = (m.T @ m).tocsr()
    count = m.sum(0).A1
    both = co[pairs[:, 0], pairs[:, 1]].A1
    lift = both * nb / np.maximum(count[pairs[:, 0]] * count[pairs[:, 1]], 1)
    rng = np.random.default_rng(0)
    r = rng.integers(0, shop.num_items, (4000, 2))
    r = r[r[:, 0] != r[:, 1]]
    assert both.mean() > 50 * co[r[:, 0], r[:, 1]].A1.mean()
    assert np.median(lift) > 10 and (both > 0).mean() >= 0.8


def test_segments_prefer_their_categories(shop):
    df = shop.interactions.query("event == 'clicks'")
    seg = shop.planted["user_segment"][df["user"].to_numpy()]
    icat = shop.planted["item_category"][df["item"].to_numpy()]
    prefs = shop.planted["segment_categories"]
    for s in range(len(prefs)):
        inside = np.isin(icat, prefs[s])
        own, others = inside[seg == s].mean(), inside[seg != s].mean()
        assert own > 0.5 and own > 2 * others
    assert (shop.user_attrs["segment"] == [f"segment_{s}" for s in shop.planted["user_segment"]]).all()


def test_bad_sizes_say_the_fix():
    with pytest.raises(ValueError, match="dataset.num_pairs"):
        SyntheticShop(num_items=10, num_pairs=6)
    with pytest.raises(ValueError, match="dataset.cart_rate"):
        SyntheticShop(cart_rate=1.5)


def test_tiny_and_unusual_shapes_still_work():
    s = SyntheticShop(num_users=3, num_items=5, num_interactions=50, num_pairs=1, num_departments=8,
                      categories_per_department=5, subcategories_per_category=4).load()
    assert len(s.interactions) == 50 and s.num_items == 5
    assert "Department 8" in s.info["departments"]
