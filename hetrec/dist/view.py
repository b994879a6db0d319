"""What a trainer of rank > 0 builds its model and objective from, without the partition folder's ``graph_data/``.

Only rank 0 loads the whole ``GraphData`` (it evaluates: full-ranking needs every node's embedding). The other
trainers need far less, and take it from the partition (:func:`trainer_view`):

- node types and counts, relations: the ``DistGraph`` (``num_nodes``, ``canonical_etypes``);
- the training pairs the objective's negative samplers are bound to (and count for ``popularity`` sampling): the
  target relation's edges, and those of any other relation the objective predicts (``objective.target``,
  ``objective.aux_relation``), read from the servers (``DistGraph.find_edges``) and mapped to original ids;
- target, reverse relations, feature sizes and held-out counts: ``partition.json`` (written at partition time);
- the cold items never used as negatives (``cold_items`` split): the ``cold_*/dst`` arrays of ``heldout.npz``.

The result is a :class:`~hetrec.graph.data.GraphData` whose graph has every node but only the edges of those
relations, whose ``splits`` hold the training pairs (held-out splits are empty, except the cold items' destinations),
and whose ``features`` are zero-stride placeholders of the right shape (one row expanded, no memory): a trainer reads
the real rows from the servers (``DistGraph.nodes[nt].data["feat"]``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from hetrec._dgl import dgl
from hetrec.errors import ConfigError

__all__ = ["trainer_view", "has_view_metadata", "objective_relations", "pull_edges"]

CHUNK = 1 << 20


def has_view_metadata(folder: str | Path) -> bool:
    """Whether ``partition.json`` carries what :func:`trainer_view` needs (partition folders written before it did
    not: their trainers fall back to loading ``graph_data/``)."""
    p = Path(folder) / "partition.json"
    if not p.exists():
        return False
    summary = json.loads(p.read_text())
    return all(k in summary for k in ("reverse_etypes", "feat_dims", "target"))


def objective_relations(cfg, etypes: list[tuple], target: tuple) -> list[tuple]:
    """The relations (other than ``target``, whose pairs are ``splits["train"]``) whose edges the objective of
    ``cfg`` reads from ``data.graph``: ``objective.target`` when it is another relation, and ``objective.aux_relation``
    when ``objective.aux_weight > 0`` (as :class:`~hetrec.objectives.objective.LinkObjective` does)."""
    from hetrec.objectives.objective import resolve_relation

    obj = cfg.objective
    out = []
    if obj.get("target") is not None:
        main = resolve_relation(etypes, obj.target, "objective.target")
        if main != tuple(target):
            out.append(main)
    if float(obj.get("aux_weight", 0) or 0) > 0:
        aux = resolve_relation(etypes, obj.get("aux_relation", "co_bought"), "objective.aux_relation")
        if aux not in out and aux != tuple(target):
            out.append(aux)
    return out


def pull_edges(g, etype: tuple, to_orig: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Every edge of ``etype`` of the ``DistGraph`` ``g`` as ``(src, dst)`` in original node ids (int64), read from
    the servers in chunks of a million edges."""
    n = int(g.num_edges(etype))
    srcs, dsts = [], []
    for lo in range(0, n, CHUNK):
        s, d = g.find_edges(torch.arange(lo, min(n, lo + CHUNK)), etype=etype)
        srcs.append(to_orig[etype[0]][s.long()])
        dsts.append(to_orig[etype[2]][d.long()])
    if not srcs:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    return torch.cat(srcs), torch.cat(dsts)


def trainer_view(folder: str | Path, g, to_orig: dict[str, torch.Tensor], cfg):
    """The light :class:`~hetrec.graph.data.GraphData` of a trainer of rank > 0 (see the module docstring).

    Args:
        folder: the partition folder. g: the opened ``DistGraph``. to_orig: per node type, shuffled id -> original
            id (``id_maps.npz``). cfg: the job's config (which relations the objective reads).
    """
    from hetrec.graph.data import GraphData

    folder = Path(folder)
    summary = json.loads((folder / "partition.json").read_text())
    etypes = [tuple(et) for et in g.canonical_etypes]
    target = tuple(summary["target"])
    if target not in etypes:
        raise ConfigError(f"{folder / 'partition.json'}: target {target} is not a relation of the partitioned graph "
                          f"({etypes}); partition again (hetrec-train train.mode=partition ...)")
    num_nodes = {nt: int(g.num_nodes(nt)) for nt in g.ntypes}
    train = pull_edges(g, target, to_orig)
    empty = torch.zeros(0, dtype=torch.long)
    edges = {et: (empty, empty) for et in etypes}
    for et in objective_relations(cfg, etypes, target):
        edges[et] = pull_edges(g, et, to_orig)
    graph = dgl.heterograph(edges, num_nodes_dict=num_nodes)
    splits = {"train": train, "valid": (empty, empty), "test": (empty, empty)}
    held = folder / "heldout.npz"
    if held.exists():
        with np.load(held, allow_pickle=False) as z:  # the cold items' destinations only (an npz reads per key)
            for k in z.files:
                split, side = k.split("/", 1)
                if split.startswith("cold_") and side == "dst":
                    splits[split] = (empty, torch.from_numpy(z[k]).long())
    features = {nt: torch.zeros(1, int(d)).expand(num_nodes[nt], int(d))
                for nt, d in summary["feat_dims"].items() if nt in num_nodes}
    return GraphData(graph=graph, features=features, target=target, splits=splits,
                     reverse_etypes=dict(summary["reverse_etypes"]), idmaps={},
                     split_hash=str(summary.get("split_hash", "")), name=str(summary.get("dataset", "")),
                     info={"view": "trainer", "heldout_pairs": summary.get("heldout_pairs", {})})
