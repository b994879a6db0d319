"""``sage``: GraphSAGE on a typed graph (Hamilton et al., 2017)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from hetrec.dgl import dglnn
from hetrec.models.base import RELATION_AGGREGATES, LayeredEncoder, RootTerm, TypedConv, dst_part
from hetrec.types import CanonicalEType

__all__ = ["SAGE"]

AGGREGATORS = ("mean", "pool", "gcn", "lstm")


class _SAGELayer(nn.Module):
    def __init__(
        self,
        etypes: list[CanonicalEType],
        in_dims: Mapping[str, int],
        out_dim: int,
        aggregator: str,
        relation_aggregate: str,
    ) -> None:
        super().__init__()
        self.conv = TypedConv(
            {et: dglnn.SAGEConv((in_dims[et[0]], in_dims[et[2]]), out_dim, aggregator) for et in etypes},
            aggregate=relation_aggregate,
            out_dim=out_dim,
        )
        receiving = {d for _, _, d in etypes}
        self.root = RootTerm({nt: d for nt, d in in_dims.items() if nt not in receiving}, out_dim, bias=True)
        self.out_dim = out_dim

    def forward(self, g: Any, h: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        hd = dst_part(g, h)
        out = self.conv(g, (h, hd) if g.is_block else h)
        return self.root.add_to(g, out, hd, lambda x: x.new_zeros(x.shape[0], self.out_dim))


class SAGE(LayeredEncoder):
    """GraphSAGE over a typed graph (Hamilton et al., 2017).

    For each relation ``r: s -> d``: ``h_i^r = h_i W_self,r + AGG_{j ∈ N_r(i)}(h_j) W_neigh,r`` (DGL's ``SAGEConv``
    with aggregator ``mean``, ``pool`` (max over ``ReLU(h_j W_pool)``), ``gcn`` or ``lstm``); the relations arriving at
    a node type are combined by ``relation_aggregate`` (DGL's ``HeteroGraphConv``). A node type that no relation
    points to gets ``h_i W_t + b_t``. Neighbourhood aggregators normalise by the destination's in-degree only, so
    sampled blocks with full fan-out reproduce the full-graph output exactly.

    Args:
        etypes: canonical relations of the graph (``g.canonical_etypes``).
        in_dims: input size per node type.
        aggregator: ``mean``, ``pool``, ``gcn`` or ``lstm``. Default ``mean``.
        relation_aggregate: how a node type combines its relations: ``sum``, ``mean``, ``max``, or learned
            ``weighted`` / ``attention`` (see :class:`~hetrec.models.base.TypedConv`). Default ``sum``.
        **options: the :class:`~hetrec.models.base.LayeredEncoder` options: ``num_layers`` (2), ``hidden_dim`` (64),
            ``out_dim`` (64), ``dropout`` (0.0), ``activation`` (``relu``), ``layer_norm``, ``residual``,
            ``layer_combine`` (``last``), ``edge_dropout`` (0.0).

    Shapes:
        x: ``{ntype: [num_src_nodes, in_dims[ntype]]}``
        output: ``{ntype: [num_dst_nodes, out_dim]}`` for every destination node type.
    """

    def __init__(
        self,
        etypes: Iterable[CanonicalEType],
        in_dims: Mapping[str, int],
        *,
        aggregator: str = "mean",
        relation_aggregate: str = "sum",
        **options: Any,
    ) -> None:
        super().__init__(etypes, in_dims, **options)
        if aggregator not in AGGREGATORS:
            raise ValueError(
                f"SAGE: unknown aggregator {aggregator!r}; choose one of {', '.join(AGGREGATORS)} "
                f"(e.g. encoder.aggregator=mean)"
            )
        if relation_aggregate not in RELATION_AGGREGATES:
            raise ValueError(
                f"SAGE: unknown relation_aggregate {relation_aggregate!r}; choose one of "
                f"{', '.join(RELATION_AGGREGATES)} (e.g. encoder.relation_aggregate=sum)"
            )
        self.aggregator, self.relation_aggregate = aggregator, relation_aggregate

    def make_layer(self, index: int, in_dims: dict[str, int], out_dim: int) -> nn.Module:
        return _SAGELayer(self.etypes, in_dims, out_dim, self.aggregator, self.relation_aggregate)
