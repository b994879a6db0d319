"""Graphs of the real datasets (HETREC_DATA): MovieLens-100k u1 and the Gowalla LightGCN split."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hetrec.graph.builder import GraphBuilder

from .shops import pair_set

DATA = os.environ.get("HETREC_DATA")


def _need(folder: str) -> Path:
    if not DATA:
        pytest.skip("HETREC_DATA is not set (point it at the shared datasets folder)")
    p = Path(DATA) / folder
    if not p.exists():
        pytest.skip(f"{p} does not exist")
    return Path(DATA)


@pytest.mark.data
def test_ml100k_u1_graph():
    root = _need("ml-100k/raw")
    from hetrec.data.datasets import MovieLens100K

    ds = MovieLens100K(root=str(root), split="u1")
    gd = GraphBuilder(target=ds.target, split={"strategy": "given", "valid_ratio": 0.0}).build(ds.load())
    assert gd.graph.num_nodes("user") == 943 and gd.graph.num_nodes("item") == 1682
    assert len(gd.splits["train"][0]) == 80000 and len(gd.splits["test"][0]) == 20000
    assert not pair_set(gd.graph.edges(etype="rates")) & pair_set(gd.splits["test"])
    assert gd.features["user"].shape[0] == 943 and gd.features["item"].shape[0] == 1682


@pytest.mark.data
@pytest.mark.slow
def test_gowalla_lightgcn_graph():
    root = _need("gowalla-lightgcn/train.txt")
    from hetrec.data.datasets import LightGCNText

    ds = LightGCNText(root=str(root), name="gowalla-lightgcn")
    gd = GraphBuilder(target=ds.target, split={"strategy": "given", "valid_ratio": 0.0}).build(ds.load())
    # the LightGCN paper's Gowalla: 29,858 users, 40,981 items, 1,027,370 interactions (810,128 train)
    assert gd.graph.num_nodes("user") == 29858 and gd.graph.num_nodes("item") == 40981
    assert len(gd.splits["train"][0]) == 810128 and len(gd.splits["test"][0]) == 217242
