"""``hetrec-train train.mode=partition``: the training heterograph, split into parts for DGL's distributed engine.

The graph is the one ``hetrec-train`` trains on (same Hydra config, dataset, split, leak-free rules, ``co_bought``,
features; :func:`hetrec.train.app.load_data`, so the graph cache is shared). Only training edges are in it: held-out
pairs are never part of any partition. Layout of the output folder (``dist.partition_dir``, default
``<run dir>/partitions``), written under a temporary name and renamed when complete::

    parts/hetrec.json      dgl.distributed.partition_graph's config (what DGL servers load, DGL_CONF_PATH)
    parts/part<i>/         the parts: graph structure, node features ``feat`` (node types with features), edge
                           ``weight``; node and edge ids are reshuffled by DGL (contiguous per part)
    id_maps.npz            ``node/<ntype>`` and ``edge/<src>:<rel>:<dst>``: shuffled id -> original id
    heldout.npz            ``<split>/src``, ``<split>/dst`` of every held-out split (``valid``, ``test``, and
                           ``cold_valid``/``cold_test`` of a ``cold_items`` split): held-out pairs, original ids
    graph_data/            the whole GraphData (hetrec.graph.cache format): what rank 0 builds the model from and
                           evaluates on (full-ranking evaluation needs every node's embedding); the other trainers
                           never load it (:mod:`hetrec.dist.view`)
    config.yaml            the resolved Hydra config the graph was built with
    partition.json         parts, method, split hash, nodes and edges per part and relation, and what the other
                           trainers build their model from: target, reverse relations, feature sizes
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from hetrec._dgl import dgl
from hetrec.errors import ConfigError
from hetrec.io import atomic_write_text

log = logging.getLogger("hetrec.dist")

__all__ = ["GRAPH_NAME", "FEAT", "partition_job", "write_partitions", "load_id_maps", "etype_key", "part_config"]

GRAPH_NAME = "hetrec"
FEAT = "feat"
METHODS = ("metis", "random")


def etype_key(et) -> str:
    return ":".join(et)


def part_config(folder: str | os.PathLike) -> Path:
    """The partition config json (``DGL_CONF_PATH``) of a partition folder; raises naming the fix when absent."""
    p = Path(folder) / "parts" / f"{GRAPH_NAME}.json"
    if not p.exists():
        raise ConfigError(
            f"{folder} is not a partition folder (no {p.relative_to(folder) if p.is_relative_to(folder) else p}); "
            f"write one with hetrec-train train.mode=partition dist.parts=<N> dist.partition_dir={folder} "
            f"<the same overrides>"
        )
    return p


def load_id_maps(folder: str | os.PathLike, edges: bool = True
                 ) -> tuple[dict[str, torch.Tensor], dict[tuple, torch.Tensor]]:
    """``(nodes, edges)``: per node type / canonical edge type, shuffled id -> original id (int64 tensors).
    ``edges=False`` reads the node maps only (a trainer needs no edge map; the npz is read key by key)."""
    nmaps, emaps = {}, {}
    with np.load(Path(folder) / "id_maps.npz", allow_pickle=False) as z:
        for k in z.files:
            kind, name = k.split("/", 1)
            if kind == "node":
                nmaps[name] = torch.from_numpy(z[k]).long()
            elif edges:
                emaps[tuple(name.split(":"))] = torch.from_numpy(z[k]).long()
    return nmaps, emaps


def write_partitions(data, out: str | os.PathLike, parts: int, method: str = "metis", cfg: DictConfig | None = None,
                     ) -> dict:
    """Partition ``data.graph`` (training edges only) into ``parts`` with ``method`` and write the folder layout of
    this module into ``out`` (atomically: a temporary sibling renamed at the end). Returns the summary written to
    ``partition.json``."""
    from hetrec.graph.cache import save_graph_data

    if int(parts) < 1:
        raise ConfigError(f"dist.parts={parts} must be >= 1; e.g. dist.parts=2")
    if method not in METHODS:
        raise ConfigError(f"dist.part_method={method!r} is unknown; use dist.part_method=metis or random")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"partition folder {out} exists and is not empty; choose another dist.partition_dir or "
                          f"remove it")
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.perf_counter()
    g = data.graph
    # a copy that shares the structure: node features go in as ndata so the servers hold (and serve) them
    g = dgl.heterograph({et: g.edges(etype=et) for et in g.canonical_etypes},
                        num_nodes_dict={nt: g.num_nodes(nt) for nt in g.ntypes})
    for et in data.graph.canonical_etypes:
        for k, v in data.graph.edges[et].data.items():
            g.edges[et].data[k] = v
    for nt, f in data.features.items():
        g.nodes[nt].data[FEAT] = f.float()
    orig_nids, orig_eids = dgl.distributed.partition_graph(
        g, GRAPH_NAME, int(parts), str(tmp / "parts"), part_method=method, balance_edges=True, return_mapping=True,
    )
    if not isinstance(orig_nids, dict):  # one node/edge type: DGL returns plain tensors
        orig_nids, orig_eids = {g.ntypes[0]: orig_nids}, {g.canonical_etypes[0]: orig_eids}
    arrays = {f"node/{nt}": v.numpy() for nt, v in orig_nids.items()}
    arrays.update({f"edge/{etype_key(g.to_canonical_etype(et))}": v.numpy() for et, v in orig_eids.items()})
    np.savez(tmp / "id_maps.npz", **arrays)
    held = {}
    for split in sorted(s for s in data.splits if s != "train"):
        pairs = data.splits[split]
        if pairs is not None:
            held[f"{split}/src"] = torch.as_tensor(pairs[0]).numpy()
            held[f"{split}/dst"] = torch.as_tensor(pairs[1]).numpy()
    np.savez(tmp / "heldout.npz", **held)
    (tmp / "graph_data").mkdir()
    save_graph_data(data, tmp / "graph_data")
    if cfg is not None:
        atomic_write_text(tmp / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    pconf = json.loads((tmp / "parts" / f"{GRAPH_NAME}.json").read_text())
    summary = {
        "graph_name": GRAPH_NAME,
        "parts": int(parts),
        "method": method,
        "split_hash": data.split_hash,
        "dataset": data.name,
        "target": list(data.target),
        "num_nodes": {nt: int(data.graph.num_nodes(nt)) for nt in data.graph.ntypes},
        "num_edges": {etype_key(et): int(data.graph.num_edges(et)) for et in data.graph.canonical_etypes},
        "heldout_pairs": {k[:-4]: int(len(v)) for k, v in held.items() if k.endswith("/src")},
        # what trainers of rank > 0 build the model from (hetrec.dist.view), without graph_data/
        "reverse_etypes": dict(data.reverse_etypes),
        "feat_dims": {nt: int(f.shape[1]) for nt, f in data.features.items()},
        "node_map": pconf.get("node_map"),
        "edge_map": pconf.get("edge_map"),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    atomic_write_text(tmp / "partition.json", json.dumps(summary, indent=1))
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.rmdir()  # empty (checked above)
    os.replace(tmp, out)
    return summary


def partition_job(cfg: DictConfig, run_dir: Path) -> None:
    """The ``train.mode=partition`` job: build (or load from cache) the graph of ``cfg`` and partition it."""
    from hetrec.train.app import load_data, validate_against_data, validate_config

    validate_config(cfg)
    data = load_data(cfg)
    validate_against_data(cfg, data)
    dc = cfg.get("dist") or {}
    out = Path(dc.get("partition_dir") or run_dir / "partitions")
    summary = write_partitions(data, out, int(dc.get("parts", 2)), str(dc.get("part_method", "metis")), cfg)
    edges = sum(summary["num_edges"].values())
    print(f"hetrec-train: {summary['parts']} partitions ({summary['method']}) of {edges:,} training edges in {out} "
          f"({summary['seconds']:.1f} s)")
    print(f"  train on them: hetrec-dist launch --partition-dir {out} --trainers <T> -- <the same overrides>")
    return None
