"""A seeded synthetic shop and its graph stay byte-identical when the generator or the builder is made faster.

The fingerprints below were taken from the code before the speed work of issue 13 (commit 987c037: ``np.lexsort``
session order, an object-dtype event column, events factorized from a NumPy copy). Any change of a value, of the row
order or of a dtype changes them; a deliberate change of what the generator produces must update them and say so.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from hetrec.data.datasets.synthetic import SyntheticShop, _order_by
from hetrec.graph.builder import GraphBuilder

SHOP = dict(num_users=3000, num_items=800, num_interactions=50_000, num_pairs=100, num_brands=30, seed=7)


def _h(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.asarray(a)
        if a.dtype == object:
            h.update("\x1f".join(map(str, a.tolist())).encode())
        else:
            h.update(str(a.dtype).encode())
            h.update(np.ascontiguousarray(a).tobytes())
        h.update(b"|")
    return h.hexdigest()[:16]


def shop_fingerprint(shop) -> str:
    df = shop.interactions
    parts = [df[c].to_numpy() for c in ("user", "item", "timestamp", "basket", "weight")]
    parts.append(df["event"].to_numpy(dtype=object))
    parts += [shop.item_attrs[c].to_numpy(dtype=object) for c in shop.item_attrs.columns]
    parts += [shop.user_attrs[c].to_numpy(dtype=object) for c in shop.user_attrs.columns]
    parts += [shop.planted[k] for k in sorted(shop.planted)]
    return _h(*parts)


def graph_fingerprint(data) -> str:
    g = data.graph
    parts = []
    for et in sorted(g.canonical_etypes):
        s, d = g.edges(etype=et)
        parts += [s.numpy(), d.numpy()]
        parts += [g.edges[et].data[k].numpy() for k in sorted(g.edges[et].data)]
    for k in sorted(data.splits):
        parts += [np.asarray(x) for x in data.splits[k]]
    parts += [data.features[k].numpy() for k in sorted(data.features)]
    return _h(*parts)


def test_seeded_shop_is_unchanged():
    shop = SyntheticShop(**SHOP).load()
    assert str(shop.interactions["event"].dtype) == str(pd.Series(["clicks"]).dtype)  # the dtype pandas infers
    assert shop_fingerprint(shop) == SHOP_FP


def test_seeded_graph_is_unchanged():
    data = GraphBuilder(target="clicks").build(SyntheticShop(**SHOP).load())
    assert graph_fingerprint(data) == GRAPH_FP


@pytest.mark.parametrize("span", [5, 10**9])
def test_order_by_matches_lexsort(span):
    rng = np.random.default_rng(0)
    major = rng.integers(0, 50, 5000)
    minor = rng.integers(-span, span, 5000)  # many ties in both keys; a negative minor
    np.testing.assert_array_equal(_order_by(major, minor), np.lexsort((minor, major)))
    huge = major * np.int64(2**40)  # the combined key would overflow: the lexsort fallback
    np.testing.assert_array_equal(_order_by(huge, minor * 2**30), np.lexsort((minor * 2**30, huge)))
    empty = np.zeros(0, np.int64)
    assert len(_order_by(empty, empty)) == 0


# taken at commit 987c037 (before the speed work), see the module docstring
SHOP_FP = "c0a507b802edd1b9"
GRAPH_FP = "9875ed0075470234"
