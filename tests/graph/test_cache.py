"""Graph cache: hit/miss, keys, atomic writes (a failure leaves nothing), corrupt entries rebuilt."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from hetrec.graph import cache as cache_mod
from hetrec.graph.builder import GraphBuilder
from hetrec.graph.cache import load_or_build

from .shops import random_shop


class FakeDataset:
    name = "fake"
    target = "clicks"

    def __init__(self, seed=0, fail=False):
        self.seed = seed
        self.fail = fail
        self.loads = 0

    def fingerprint(self):
        return f"fake-{self.seed}"

    def load(self):
        self.loads += 1
        if self.fail:
            raise RuntimeError("broken input file")
        shop = random_shop(seed=self.seed)
        shop.item_attrs = pd.DataFrame({"category": ["A>B", "A>C", None] * 10, "price": range(30)})
        shop.attr_kinds = {"user": {}, "item": {"category": "categorical", "price": "numeric"}}
        return shop


def _entries(d):
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_miss_then_hit_roundtrip(tmp_path):
    ds = FakeDataset()
    b = GraphBuilder(split={"seed": 1})  # target comes from the dataset
    built = load_or_build(ds, b, cache_dir=tmp_path)
    assert built.info["cache_hit"] is False and ds.loads == 1
    assert len(_entries(tmp_path)) == 1 and not any(n.startswith(".tmp") for n in _entries(tmp_path))
    hit = load_or_build(ds, b, cache_dir=tmp_path)
    assert hit.info["cache_hit"] is True and ds.loads == 1
    assert hit.target == built.target == ("user", "clicks", "item")
    assert hit.graph.canonical_etypes == built.graph.canonical_etypes
    for et in built.graph.canonical_etypes:
        assert all(torch.equal(a, b) for a, b in zip(hit.graph.edges(etype=et), built.graph.edges(etype=et)))
        for k, v in built.graph.edges[et].data.items():
            assert torch.equal(hit.graph.edges[et].data[k], v)
    for s in ("train", "valid", "test"):
        assert all(torch.equal(a, b) for a, b in zip(hit.splits[s], built.splits[s]))
    assert torch.equal(hit.features["item"], built.features["item"])
    assert torch.equal(hit.feature_encoders["item"].transform(built.item_attrs), built.features["item"])
    assert hit.split_hash == built.split_hash and hit.idmaps["item"] == built.idmaps["item"]
    assert (hit.train_baskets != built.train_baskets).nnz == 0
    assert hit.co_bought["lift"].tolist() == built.co_bought["lift"].tolist()
    assert hit.schema == built.schema and hit.reverse_etypes == built.reverse_etypes


def test_key_depends_on_dataset_and_config(tmp_path):
    load_or_build(FakeDataset(seed=0), GraphBuilder(), cache_dir=tmp_path)
    load_or_build(FakeDataset(seed=1), GraphBuilder(), cache_dir=tmp_path)
    load_or_build(FakeDataset(seed=0), GraphBuilder(co_bought={"top_k": 5}), cache_dir=tmp_path)
    assert len(_entries(tmp_path)) == 3


def test_default_dir_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("HETREC_CACHE", str(tmp_path / "c"))
    load_or_build(FakeDataset(), GraphBuilder())
    assert len(_entries(tmp_path / "c")) == 1


def test_failed_build_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError, match="broken input"):
        load_or_build(FakeDataset(fail=True), GraphBuilder(), cache_dir=tmp_path)
    assert _entries(tmp_path) == []
    with pytest.raises(ValueError, match="unknown target relation"):
        load_or_build(FakeDataset(), GraphBuilder(target="buys"), cache_dir=tmp_path)
    assert _entries(tmp_path) == []


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    real = cache_mod.save_graph_data

    def half_write(data, folder, meta=None):
        real(data, folder, meta)
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod, "save_graph_data", half_write)
    with pytest.raises(OSError, match="disk full"):
        load_or_build(FakeDataset(), GraphBuilder(), cache_dir=tmp_path)
    assert _entries(tmp_path) == []


@pytest.mark.parametrize("damage", ["truncate", "garbage_meta", "missing_graph", "garbage_manifest"])
def test_corrupt_entry_is_rebuilt_with_warning(tmp_path, damage):
    ds = FakeDataset()
    first = load_or_build(ds, GraphBuilder(), cache_dir=tmp_path)
    entry = tmp_path / _entries(tmp_path)[0]
    if damage == "truncate":
        data = (entry / "arrays.npz").read_bytes()
        (entry / "arrays.npz").write_bytes(data[: len(data) // 2])
    elif damage == "garbage_meta":
        (entry / "meta.json").write_text("{not json")
    elif damage == "garbage_manifest":
        (entry / "manifest.json").write_text("{not json")
    else:
        (entry / "graph.bin").unlink()
    with pytest.warns(UserWarning, match="unreadable.*rebuilding"):
        again = load_or_build(ds, GraphBuilder(), cache_dir=tmp_path)
    assert again.info["cache_hit"] is False and ds.loads == 2
    assert again.split_hash == first.split_hash
    assert load_or_build(ds, GraphBuilder(), cache_dir=tmp_path).info["cache_hit"] is True


def test_crafted_pickle_in_cache_is_never_executed(tmp_path, pickle_payload):
    """An attacker who can write the cache folder rewrites arrays.npz with a pickled object array, and the
    manifest to match: loading refuses the object array (no pickle is ever loaded) and rebuilds the entry."""
    import pickle

    import numpy as np

    from hetrec.io import write_manifest

    ds = FakeDataset()
    load_or_build(ds, GraphBuilder(), cache_dir=tmp_path / "c")
    entry = tmp_path / "c" / _entries(tmp_path / "c")[0]
    payload, marker = pickle_payload
    evil = np.empty(1, dtype=object)
    evil[0] = payload
    with open(entry / "arrays.npz", "wb") as f:
        np.savez(f, **{"data/features/item": evil})
    (entry / "data.pkl").write_bytes(pickle.dumps(payload))  # a left-over old-format file: never read
    write_manifest(entry, "graph cache", cache_mod.CACHE_FORMAT)
    with pytest.warns(UserWarning, match="unreadable.*rebuilding"):
        again = load_or_build(ds, GraphBuilder(), cache_dir=tmp_path / "c")
    assert not marker.exists()
    assert again.info["cache_hit"] is False and ds.loads == 2
    assert not (entry / "data.pkl").exists()


def test_entry_holds_no_pickle(tmp_path):
    load_or_build(FakeDataset(), GraphBuilder(), cache_dir=tmp_path)
    entry = tmp_path / _entries(tmp_path)[0]
    names = sorted(p.name for p in entry.iterdir())
    assert not [n for n in names if n.endswith((".pkl", ".pickle", ".pt"))], names
    assert {"graph.bin", "data.json", "arrays.npz", "manifest.json", "feature_encoders.json"} <= set(names)
