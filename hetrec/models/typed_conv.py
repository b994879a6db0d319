"""The parts of a typed layer (re-exported by :mod:`hetrec.models.base`): ``TypedConv``, one module per relation,
combined per destination type (DGL's ``HeteroGraphConv`` plus learned relation weights), the per-relation layer of the
built-in encoders and of ``LayeredEncoder`` plugins; ``RootTerm``, a node type's own term; ``dst_part``/``dst_types``,
a block's destination rows and types."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from hetrec._dgl import dgl
from hetrec.types import CanonicalEType

dglnn = dgl.nn

__all__ = ["TypedConv", "RootTerm", "dst_part", "dst_types", "RELATION_AGGREGATES"]

RELATION_AGGREGATES = ("sum", "mean", "max", "weighted", "attention")


class TypedConv(dglnn.HeteroGraphConv):
    """One module per relation, their outputs combined per destination type (DGL's ``HeteroGraphConv``, plus
    learned relation weights).

    ``aggregate`` is DGL's ``sum``, ``mean`` or ``max``, or one of two learned combinations, so that a relation that
    carries no signal for the task can be weighed down instead of drowning the useful ones:

    - ``weighted``: ``h_t = Σ_r softmax_r(a)_r h_r`` over the relations arriving at type ``t``, one learned logit
      ``a_r`` per relation (all 0 at the start, i.e. ``mean``);
    - ``attention``: semantic attention (HAN; Wang et al., 2019):
      ``β_r = softmax_r(mean_i q_t·tanh(W_t h_{r,i} + b_t))`` and ``h_t = Σ_r β_r h_r``.

    Module names and state-dict keys are DGL's (``mods.<str(canonical etype)>``).

    Args:
        mods: ``{canonical etype: module}``, each called as ``module(rel_graph, (h_src, h_dst), **kwargs)``.
        aggregate: ``sum`` | ``mean`` | ``max`` | ``weighted`` | ``attention``. Default ``sum``.
        out_dim: output size of the modules (needed by ``attention``). Default 0.

    Shapes:
        input: ``{ntype: [N_src, D_in]}`` (or a pair ``(src, dst)`` of such dicts) -> ``{ntype: [N_dst, out_dim]}``.
    """

    def __init__(self, mods: Mapping[CanonicalEType, nn.Module], aggregate: str = "sum", out_dim: int = 0) -> None:
        if aggregate not in RELATION_AGGREGATES:
            raise ValueError(
                f"unknown relation aggregate {aggregate!r}; choose one of {', '.join(RELATION_AGGREGATES)} "
                f"(e.g. encoder.relation_aggregate=weighted)"
            )
        learned = aggregate in ("weighted", "attention")
        super().__init__(dict(mods), aggregate="sum" if learned else aggregate)
        self.aggregate = aggregate
        self.etype_index = {tuple(et): i for i, et in enumerate(mods)}
        self.relation_logits = nn.Parameter(torch.zeros(len(self.etype_index))) if aggregate == "weighted" else None
        self.attention = None
        if aggregate == "attention":
            if int(out_dim) < 1:
                raise ValueError("TypedConv(aggregate='attention') needs the modules' out_dim")
            into = Counter(et[2] for et in self.etype_index)
            dst = sorted(nt for nt, n in into.items() if n > 1)  # one relation: its weight is 1, nothing to learn
            self.attention = nn.ModuleDict(
                {nt: nn.Sequential(nn.Linear(out_dim, out_dim), nn.Tanh(), nn.Linear(out_dim, 1, bias=False))
                 for nt in dst}
            )

    def forward(self, g: Any, inputs: Any, mod_args: Any = None, mod_kwargs: Any = None) -> dict[str, torch.Tensor]:
        if self.aggregate not in ("weighted", "attention"):
            return super().forward(g, inputs, mod_args, mod_kwargs)
        mod_kwargs = mod_kwargs or {}
        src_in, dst_in = inputs if isinstance(inputs, tuple) else (inputs, inputs)
        outputs: dict[str, list[tuple[int, torch.Tensor]]] = {}
        for et in g.canonical_etypes:
            s, r, d = et
            if s not in src_in or d not in dst_in:
                continue
            y = self.mods[str(et)](g[et], (src_in[s], dst_in[d]), **mod_kwargs.get(r, {}))
            outputs.setdefault(d, []).append((self.etype_index[et], y))
        res = {}
        for nt, items in outputs.items():
            if len(items) == 1:
                res[nt] = items[0][1]
                continue
            ys = torch.stack([y for _, y in items])  # [R, N, D]
            if self.relation_logits is not None:
                w = torch.softmax(self.relation_logits[[i for i, _ in items]], 0)
            else:
                att = self.attention[nt](ys).squeeze(-1)  # [R, N]
                w = torch.softmax(att.mean(1), 0) if att.shape[1] else att.new_full((len(items),), 1 / len(items))
            res[nt] = (w.view(-1, 1, 1) * ys).sum(0)
        return res

    def relation_weights(self) -> dict[CanonicalEType, float]:
        """The learned share of each relation among those arriving at its destination type (``weighted`` only)."""
        if self.relation_logits is None:
            return {}
        out = {}
        for nt in {et[2] for et in self.etype_index}:
            ets = [et for et in self.etype_index if et[2] == nt]
            w = torch.softmax(self.relation_logits.detach()[[self.etype_index[et] for et in ets]], 0)
            out.update({et: float(v) for et, v in zip(ets, w)})
        return out


def dst_types(g: Any) -> list[str]:
    """The node types a layer outputs: a block's destination types, or every node type of a full graph (DGL's
    ``dsttypes`` of a full graph with only one-way relations between two types would drop the source type)."""
    return list(g.dsttypes) if g.is_block else list(g.ntypes)


def dst_part(g: Any, h: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The destination-node rows of ``h``: all rows for a graph; for a block, the rows of its destination nodes.

    DGL puts a block's destination nodes first among its source nodes, so this is normally
    ``h[nt][:num_dst_nodes]``. DGL 2.1's ``to_block`` breaks that order for a node type that receives no edge in the
    block (e.g. a type without incoming relations): there the rows are found through the original node ids
    (``dgl.NID``). The check costs one comparison of id vectors per type and layer.
    """
    if not g.is_block:
        return dict(h)
    out: dict[str, torch.Tensor] = {}
    for nt in g.dsttypes:
        if nt not in h:
            continue
        n = g.num_dst_nodes(nt)
        t = h[nt]
        src_ids = g.srcnodes[nt].data.get(dgl.NID) if n else None
        dst_ids = g.dstnodes[nt].data.get(dgl.NID) if n else None
        if src_ids is None or dst_ids is None or torch.equal(src_ids[:n], dst_ids):
            out[nt] = t[:n]
            continue
        order = torch.argsort(src_ids)
        pos = order[torch.searchsorted(src_ids[order], dst_ids).clamp_(max=len(src_ids) - 1)]
        if not torch.equal(src_ids[pos], dst_ids):
            raise ValueError(f"block: destination nodes of type '{nt}' are not among its source nodes")
        out[nt] = t[pos]
    return out


class RootTerm(nn.Module):
    """Per-node-type linear "self" transform ``h_i W_t`` (bias-free), the root term of a typed layer.

    Every destination node gets it, so node types with no incoming relation (or nodes with no in-edges) still get
    an embedding from their own input.

    Args:
        in_dims: input size per node type (0 or missing: the type has no input and gets no root term).
        out_dim: output size.
        bias: add a per-type bias. Default ``True``.
    """

    def __init__(self, in_dims: Mapping[str, int], out_dim: int, bias: bool = True) -> None:
        super().__init__()
        self.lins = nn.ModuleDict({nt: nn.Linear(d, out_dim, bias=bias) for nt, d in in_dims.items() if d > 0})

    def forward(self, nt: str, h: torch.Tensor) -> torch.Tensor:
        return self.lins[nt](h)

    def __contains__(self, nt: str) -> bool:
        return nt in self.lins

    def add_to(self, g: Any, out: Mapping[str, torch.Tensor], h_dst: Mapping[str, torch.Tensor],
               missing: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, torch.Tensor]:
        """A typed layer's output: per destination type of ``g``, the relations' result ``out[nt]`` plus this root
        term where the type has one; ``missing(h_dst[nt])`` for a type that gets neither."""
        res = {}
        for nt in dst_types(g):
            t = out.get(nt)
            if nt in self:
                r = self(nt, h_dst[nt])
                t = r if t is None else t + r
            res[nt] = missing(h_dst[nt]) if t is None else t
        return res
