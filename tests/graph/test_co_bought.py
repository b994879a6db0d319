"""co_bought derivation against a brute-force Python count (count, support, confidence, lift, filters, top-k)."""

from __future__ import annotations

import itertools
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

from hetrec.graph.builder import GraphBuilder
from hetrec.graph.co_bought import basket_matrix, co_occurrence

from .shops import make_shop


def _random_baskets(seed=0, num_baskets=60, num_items=15):
    rng = np.random.default_rng(seed)
    pop = 1.0 / np.arange(1, num_items + 1) ** 0.7
    baskets = []
    for _ in range(num_baskets):
        k = int(rng.integers(1, 6))
        baskets.append(rng.choice(num_items, k, p=pop / pop.sum()).tolist())  # may repeat an item
    return baskets


def _brute(baskets, min_count, min_support, min_lift, top_k):
    sets = [set(b) for b in baskets if b]
    B = len(sets)
    single = Counter(i for s in sets for i in s)
    pair = Counter((a, b) for s in sets for a, b in itertools.permutations(s, 2))
    rows = []
    for (a, b), n in pair.items():
        sup = n / B
        conf = n / single[a]
        lift = Fraction(n * B, single[a] * single[b])  # exact, so that ties are ties
        if n >= min_count and sup >= min_support and lift >= min_lift:
            rows.append((a, b, n, sup, conf, lift))
    out = []
    for a in sorted({r[0] for r in rows}):
        mine = sorted((r for r in rows if r[0] == a), key=lambda r: (-r[5], -r[2], r[1]))
        out.extend(mine[:top_k] if top_k else mine)
    return [r[:5] + (float(r[5]),) for r in out]


@pytest.mark.parametrize(
    "min_count,min_support,min_lift,top_k",
    [(1, 0.0, 0.0, None), (2, 0.0, 1.0, 3), (1, 0.04, 0.0, 2), (2, 0.0, 1.5, None), (1, 0.0, 0.0, 1)],
)
def test_co_occurrence_matches_brute_force(min_count, min_support, min_lift, top_k):
    baskets = _random_baskets()
    bid = np.concatenate([[k] * len(b) for k, b in enumerate(baskets)]).astype(np.int64)
    items = np.concatenate(baskets).astype(np.int64)
    X, ids = basket_matrix(bid, items, 15)
    assert X.shape == (len(baskets), 15) and X.max() == 1.0  # repeated items collapse
    got = co_occurrence(X, min_count=min_count, min_support=min_support, min_lift=min_lift, top_k=top_k)
    want = _brute(baskets, min_count, min_support, min_lift, top_k)
    assert len(want) > 0
    assert list(zip(got["src"].tolist(), got["dst"].tolist())) == [(r[0], r[1]) for r in want]
    assert got["count"].tolist() == [r[2] for r in want]
    np.testing.assert_allclose(got["support"], [r[3] for r in want], rtol=1e-12)
    np.testing.assert_allclose(got["confidence"], [r[4] for r in want], rtol=1e-12)
    np.testing.assert_allclose(got["lift"], [r[5] for r in want], rtol=1e-12)


def test_basket_matrix_skips_rows_without_basket_and_big_baskets():
    bid = np.array([-1, 3, 3, 3, 7, 7, 9], dtype=np.int64)
    it = np.array([0, 1, 2, 1, 0, 2, 4], dtype=np.int64)
    X, ids = basket_matrix(bid, it, 5)
    assert ids.tolist() == [3, 7, 9]
    assert X.toarray().tolist() == [[0, 1, 1, 0, 0], [1, 0, 1, 0, 0], [0, 0, 0, 0, 1]]
    X2, ids2 = basket_matrix(bid, it, 5, max_basket_size=1)
    assert ids2.tolist() == [9]


def test_builder_co_bought_edges_equal_brute_force():
    baskets = _random_baskets(seed=3, num_baskets=40, num_items=12)
    rows = []
    for k, b in enumerate(baskets):
        for j, item in enumerate(b):
            rows.append((k % 7, item, "purchases", 1000 * k + j, k))
    shop = make_shop(rows, num_users=7, num_items=12)
    gd = GraphBuilder(
        target="purchases", split={"strategy": "random", "valid_ratio": 0.0, "test_ratio": 0.0},
        co_bought={"min_count": 2, "min_lift": 1.0, "top_k": 3, "weight": "lift"}, categories=False,
    ).build(shop)
    want = _brute(baskets, 2, 0.0, 1.0, 3)
    src, dst = gd.graph.edges(etype="co_bought")
    assert list(zip(src.tolist(), dst.tolist())) == [(r[0], r[1]) for r in want]
    e = gd.graph.edges["co_bought"].data
    np.testing.assert_allclose(e["lift"].numpy(), [r[5] for r in want], rtol=1e-6)
    np.testing.assert_allclose(e["weight"].numpy(), [r[5] for r in want], rtol=1e-6)
    np.testing.assert_allclose(e["confidence"].numpy(), [r[4] for r in want], rtol=1e-6)
    assert e["count"].tolist() == [r[2] for r in want]
    assert gd.co_bought["src"].tolist() == src.tolist()
    assert gd.train_baskets.shape == (len(baskets), 12)
