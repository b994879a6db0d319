"""``TypedConv``: one module per relation, combined per destination type (DGL's ``HeteroGraphConv`` plus learned
relation weights); the per-relation layer of the built-in encoders and of ``LayeredEncoder`` plugins."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from hetrec._dgl import dgl
from hetrec.types import CanonicalEType

dglnn = dgl.nn

__all__ = ["TypedConv", "RELATION_AGGREGATES"]

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
