"""Node feature encoders: standardization, unknown/missing buckets, multi-hot, text, pickling, new rows."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from hetrec.graph.builder import GraphBuilder
from hetrec.graph.features import NodeFeatureEncoder

from .shops import make_shop

ITEMS = pd.DataFrame({
    "price": [1.0, 2.0, np.nan, 5.0],
    "brand": ["acme", "zeta", None, "acme"],
    "genres": ["Action|Comedy", "Drama", "", "Comedy"],
    "title": ["red running shoes", "blue shirt", None, "red shirt"],
})
KINDS = {"price": "numeric", "brand": "categorical", "genres": "multilabel", "title": "text"}


def _enc(**kw):
    return NodeFeatureEncoder(KINDS, text_dim=16, **kw).fit(ITEMS)


def test_numeric_standardized_with_missing_indicator():
    enc = _enc()
    x = enc.transform(ITEMS).numpy()
    names = enc.feature_names
    p, m = x[:, names.index("price")], x[:, names.index("price:missing")]
    obs = np.array([1.0, 2.0, 5.0])
    np.testing.assert_allclose(p[[0, 1, 3]], (obs - obs.mean()) / obs.std(), rtol=1e-6)
    assert p[2] == 0.0 and m.tolist() == [0, 0, 1, 0]


def test_categorical_unknown_and_missing_buckets():
    enc = _enc()
    new = pd.DataFrame({"brand": ["zeta", "brand-new", None, " "]})
    x = enc.transform(new).numpy()
    names = enc.feature_names
    cols = [names.index(n) for n in ("brand=<missing>", "brand=<unknown>", "brand=acme", "brand=zeta")]
    assert x[:, cols].tolist() == [[0, 0, 0, 1], [0, 1, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]]
    assert enc.codes(new)["brand"].tolist() == [3, 1, 0, 0]  # acme (most frequent) = 2, zeta = 3
    small = NodeFeatureEncoder({"brand": "categorical"}, max_categories=1).fit(ITEMS)
    assert small.feature_names == ["brand=<missing>", "brand=<unknown>", "brand=acme"]
    assert small.transform(pd.DataFrame({"brand": ["zeta"]})).tolist() == [[0, 1, 0]]


def test_multilabel_multi_hot():
    enc = _enc()
    x = enc.transform(pd.DataFrame({"genres": ["Comedy|Action", "Horror", None]})).numpy()
    names = enc.feature_names
    g = [names.index(n) for n in ("genres=<missing>", "genres=<unknown>", "genres=Action", "genres=Comedy")]
    assert x[:, g].tolist() == [[0, 0, 1, 1], [0, 1, 0, 0], [1, 0, 0, 0]]


@pytest.mark.parametrize("method", ["hash", "tfidf_svd"])
def test_text_features(method):
    enc = _enc(text=method)
    x = enc.transform(ITEMS).numpy()
    t = x[:, [k for k, n in enumerate(enc.feature_names) if n.startswith("title#")]]
    assert t.shape == (4, 16)
    assert np.allclose(np.linalg.norm(t[[0, 1, 3]], axis=1), 1.0, atol=1e-5)
    assert (t[2] == 0).all()  # missing text
    again = enc.transform(pd.DataFrame({"title": ["blue shirt"]})).numpy()
    np.testing.assert_allclose(again[0, -16:], t[1], rtol=1e-5)


def test_pickle_and_cold_start_rows():
    enc = _enc()
    clone = pickle.loads(pickle.dumps(enc))
    new = pd.DataFrame({"price": [3.0], "brand": ["acme"], "title": ["green running shoes"]})  # no genres column
    a, b = enc.transform(new), clone.transform(new)
    assert torch.equal(a, b) and a.shape == (1, enc.dim) and a.dtype == torch.float32
    assert a[0, enc.feature_names.index("genres=<missing>")] == 1.0


def test_bad_kind_and_absent_column():
    with pytest.raises(ValueError, match="unknown kind 'date'"):
        NodeFeatureEncoder({"price": "date"})
    with pytest.raises(ValueError, match="lacks columns"):
        NodeFeatureEncoder({"weight": "numeric"}).fit(ITEMS)


def test_builder_fills_features_and_encoders():
    users = pd.DataFrame({"age": [20, np.nan], "region": ["N", "S"]})
    shop = make_shop([(0, 0, "clicks", 1, -1), (1, 3, "clicks", 2, -1)], num_items=4, item_attrs=ITEMS,
                     user_attrs=users,
                     attr_kinds={"user": {"age": "numeric", "region": "categorical"}, "item": KINDS})
    gd = GraphBuilder(target="clicks", split={"test_ratio": 0.0, "valid_ratio": 0.0},
                      features={"text_dim": 8}).build(shop)
    assert gd.features["user"].shape == (2, 2 + 4)
    assert gd.features["item"].shape[0] == 4
    assert torch.equal(gd.feature_encoders["item"].transform(ITEMS), gd.features["item"])
    off = GraphBuilder(target="clicks", features=False, split={"test_ratio": 0.0, "valid_ratio": 0.0}).build(shop)
    assert off.features == {} and off.feature_encoders == {}
