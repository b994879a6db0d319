"""``train.mode=partition``: DGL's partitions of the training graph hold every edge and feature exactly once, and
none of the held-out pairs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from hetrec._dgl import dgl
from hetrec.dist.partition import load_id_maps, part_config, write_partitions
from hetrec.errors import ConfigError
from hetrec.train.app import load_data

CONF = str(Path(__file__).resolve().parents[2] / "conf")
TINY = ["dataset.num_users=300", "dataset.num_items=150", "dataset.num_interactions=6000", "dataset.num_pairs=20",
        "dataset.num_brands=10"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from hetrec.registry import register_configs

    register_configs()  # the encoder configs (encoder/gcn is the default)
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("config", overrides=[f"cache_dir={tmp_path_factory.mktemp('cache')}", *TINY])
    return load_data(cfg)


def _edges_of_parts(folder: Path, nparts: int):
    """(canonical etype, original src, original dst) of every inner edge of every part, and features per ntype in
    shuffled-id order."""
    nmap, _ = load_id_maps(folder)
    edges, feats = [], {}
    for i in range(nparts):
        g, nfeat, _efeat, gpb, _name, _ntypes, _etypes = dgl.distributed.load_partition(str(part_config(folder)), i)
        inner = g.edata["inner_edge"].bool()
        src, dst = g.edges()
        gs, gd = g.ndata[dgl.NID][src[inner]], g.ndata[dgl.NID][dst[inner]]
        etids = g.edata[dgl.ETYPE][inner]
        st, sl = gpb.map_to_per_ntype(gs)
        dt, dl = gpb.map_to_per_ntype(gd)
        for k, et in enumerate(gpb.canonical_etypes):
            m = etids == k
            s_nt, d_nt = gpb.ntypes[int(st[m][0])] if m.any() else et[0], et[2]
            assert s_nt == et[0] and (not m.any() or gpb.ntypes[int(dt[m][0])] == d_nt)
            for a, b in zip(nmap[et[0]][sl[m]].tolist(), nmap[et[2]][dl[m]].tolist()):
                edges.append((et, a, b))
        for key, v in nfeat.items():
            nt, name = key.split("/")
            feats.setdefault(nt, []).append(v)
    return edges, {nt: torch.cat(v) for nt, v in feats.items()}


@pytest.mark.parametrize("method", ["metis", "random"])
def test_partitions_hold_every_training_edge_and_feature_once_and_no_heldout_pair(data, tmp_path, method):
    out = tmp_path / "parts"
    summary = write_partitions(data, out, 2, method)
    for name in ("parts/hetrec.json", "parts/part0/graph.dgl", "parts/part1/node_feat.dgl", "id_maps.npz",
                 "heldout.npz", "graph_data/manifest.json", "partition.json"):
        assert (out / name).exists(), name
    meta = json.loads((out / "partition.json").read_text())
    assert meta["parts"] == 2 == summary["parts"]
    # what trainers of rank > 0 build their model from (hetrec.dist.view), without graph_data/
    assert meta["reverse_etypes"] == data.reverse_etypes and meta["target"] == list(data.target)
    assert meta["feat_dims"] == {nt: int(f.shape[1]) for nt, f in data.features.items()}
    assert meta["heldout_pairs"]["valid"] == len(data.splits["valid"][0]) > 0
    assert not list(tmp_path.glob(".parts.tmp-*"))  # written under a temporary name, renamed
    edges, feats = _edges_of_parts(out, 2)
    g = data.graph
    expect = []
    for et in g.canonical_etypes:
        s, d = g.edges(etype=et)
        expect += [(tuple(et), a, b) for a, b in zip(s.tolist(), d.tolist())]
    assert sorted(edges) == sorted(expect)  # every edge exactly once (multiset equality)
    nmap, emap = load_id_maps(out)
    assert set(feats) == set(data.features) and data.features
    for nt, f in data.features.items():
        assert torch.equal(feats[nt], f[nmap[nt]])  # shuffled-id order, every row
    for et in g.canonical_etypes:
        assert torch.equal(torch.sort(emap[tuple(et)]).values, torch.arange(g.num_edges(et)))
    held = np.load(out / "heldout.npz")
    target = tuple(data.target)
    in_parts = {(a, b) for et, a, b in edges if et == target}
    test = set(zip(held["test/src"].tolist(), held["test/dst"].tolist()))
    valid = set(zip(held["valid/src"].tolist(), held["valid/dst"].tolist()))
    assert test and valid
    assert not (test | valid) & in_parts
    rev = (target[2], data.reverse_etypes[target[1]], target[0])
    assert not {(b, a) for a, b in test | valid} & {(a, b) for et, a, b in edges if et == rev}


def test_partition_refuses_bad_options_and_a_used_folder(data, tmp_path):
    with pytest.raises(ConfigError, match="dist.part_method"):
        write_partitions(data, tmp_path / "a", 2, "spectral")
    with pytest.raises(ConfigError, match="dist.parts"):
        write_partitions(data, tmp_path / "b", 0)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x").write_text("x")
    with pytest.raises(ConfigError, match="not empty"):
        write_partitions(data, tmp_path / "c", 2)
    with pytest.raises(ConfigError, match="train.mode=partition"):
        part_config(tmp_path / "c")
