"""``gcn``: graph convolutional network on a typed graph (Kipf & Welling, 2017), one convolution per relation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from hetrec.dgl import dglnn
from hetrec.models.base import LayeredEncoder, RootTerm, TypedConv, dst_part
from hetrec.types import CanonicalEType

__all__ = ["GCN"]


class _KipfRelConv(nn.Module):
    """One relation's graph convolution: ``D̃^-½ Ã D̃^-½ H W`` (bias-free).

    For a relation ``s -> d`` with adjacency ``A`` the destination node ``i`` gets
    ``sum_j h_j W / sqrt((deg_out(j)+1)(deg_in(i)+1))`` plus its self loop (which adds 1 to both degrees, as in Kipf &
    Welling). When ``s == d`` the self loop is exactly Kipf's ``Ã = A + I`` entry,
    ``h_i W / sqrt((deg_in(i)+1)(deg_out(i)+1))``; for a bipartite relation (``s != d``) the destination's own
    representation lives in another space, so it gets its own ``W_self`` and weight ``1 / (deg_in(i)+1)``.
    Without the self loop (``self_loop=False``) the weight is LightGCN's ``1 / sqrt(deg_out(j) deg_in(i))``; without
    the transform (``weight=False``) ``W`` (and ``W_self``) are the identity. The neighbour sum is DGL's
    ``GraphConv(norm="none")`` on degree-scaled sources.
    """

    def __init__(self, in_src: int, in_dst: int, out_dim: int, same_type: bool, weight: bool, self_loop: bool) -> None:
        super().__init__()
        self.conv = dglnn.GraphConv(in_src, out_dim, norm="none", weight=weight, bias=False, allow_zero_in_degree=True)
        self.self_loop = self_loop
        self.self_lin = None
        if self_loop and weight and not (same_type and in_src == in_dst):
            self.self_lin = nn.Linear(in_dst, out_dim, bias=False)
        self.shared_loop = same_type and in_src == in_dst

    def forward(self, g: Any, feat: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        h_src, h_dst = feat
        add = 1.0 if self.self_loop else 0.0
        out_deg = (g.out_degrees().to(h_src.dtype) + add).clamp_(min=1.0)
        in_deg = (g.in_degrees().to(h_src.dtype) + add).clamp_(min=1.0)
        # the edge weight 1/sqrt(d_out(j) d_in(i)) factorises: scale sources, sum (DGL's fast copy_u path), scale
        # destinations; an explicit per-edge weight (u_mul_e) is several times slower on CPU
        msg = self.conv(g, (h_src * torch.rsqrt(out_deg).unsqueeze(1), h_dst)) * torch.rsqrt(in_deg).unsqueeze(1)
        if not self.self_loop:
            return msg
        if self.shared_loop:  # Ã = A + I on one node type: the diagonal entry is 1/sqrt(d̃_in(i) d̃_out(i))
            loop = torch.rsqrt(in_deg * out_deg[: in_deg.shape[0]])
            own = h_dst if self.conv.weight is None else h_dst @ self.conv.weight
        else:
            loop = 1.0 / in_deg
            own = h_dst if self.self_lin is None else self.self_lin(h_dst)
        return msg + own * loop.unsqueeze(1)


class _GCNLayer(nn.Module):
    def __init__(
        self,
        etypes: list[CanonicalEType],
        in_dims: Mapping[str, int],
        out_dim: int,
        weight: bool,
        self_loop: bool,
        relation_aggregate: str,
    ) -> None:
        super().__init__()
        self.conv = TypedConv(
            {et: _KipfRelConv(in_dims[et[0]], in_dims[et[2]], out_dim, et[0] == et[2], weight, self_loop)
             for et in etypes},
            aggregate=relation_aggregate,
            out_dim=out_dim,
        )
        receiving = {d for _, _, d in etypes}
        # node types that no relation points to keep their own representation (Kipf's self loop alone)
        keep = {nt: d for nt, d in in_dims.items() if nt not in receiving}
        self.root = RootTerm(keep if weight else {}, out_dim, bias=False)
        self.bias = nn.ParameterDict({nt: nn.Parameter(torch.zeros(out_dim)) for nt in in_dims} if weight else {})
        self.out_dim = out_dim

    def forward(self, g: Any, h: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        hd = dst_part(g, h)
        out = self.conv(g, (h, hd) if g.is_block else h)
        # no relation into a type (and no root term, i.e. weight=False): it keeps its own representation
        res = self.root.add_to(g, out, hd, lambda x: x if not self.bias else x.new_zeros(x.shape[0], self.out_dim))
        return {nt: t + self.bias[nt] if nt in self.bias else t for nt, t in res.items()}


class GCN(LayeredEncoder):
    """Graph convolutional network over a typed graph (Kipf & Welling, 2017).

    Each relation ``r: s -> d`` is convolved with symmetric normalisation and self-loops,
    ``H'_d += D̃_r^-½ Ã_r D̃_r^-½ H W_r`` (see ``_KipfRelConv`` for the self loop of a bipartite relation), and the
    relations arriving at a node type are combined by ``relation_aggregate`` (summed by default, or weighed by
    learned relation weights): ``H'_t = σ(Σ_{r -> t} ... + b_t)``. A node type that no relation points to keeps
    ``H_t W_t`` (its self loop alone). Built from DGL's ``HeteroGraphConv`` and ``GraphConv``.

    With ``weight=False, self_loop=False, activation="none", layer_combine="mean"`` this is LightGCN (He et al.,
    2020) on every relation of the heterograph, each relation normalised on its own and the relations into a node
    type mixed by ``relation_aggregate`` (``weighted``: learned weights); on a graph with one user-item relation it
    is exactly LightGCN.

    Symmetric normalisation uses the source nodes' degrees in the graph it is given; on sampled blocks those are
    the degrees within the block (DGL's usual approximation), so ``sampled_equals_full`` is ``False``.

    Args:
        etypes: canonical relations of the graph (``g.canonical_etypes``).
        in_dims: input size per node type.
        weight: a learned transform ``W_r`` per relation and layer, and a bias per type. ``False``: parameter-free
            propagation; inputs of another size than ``out_dim`` are first mapped to it by a per-type linear layer,
            and ``hidden_dim`` is ignored (every layer has ``out_dim``). Default ``True``.
        self_loop: Kipf's self loop (degrees + 1). Default ``True``.
        relation_aggregate: ``sum``, ``mean``, ``max``, ``weighted`` or ``attention`` (see
            :class:`~hetrec.models.base.TypedConv`). Default ``sum``.
        **options: the :class:`~hetrec.models.base.LayeredEncoder` options: ``num_layers`` (2), ``hidden_dim`` (64),
            ``out_dim`` (64), ``dropout`` (0.0), ``activation`` (``relu``), ``layer_norm``, ``residual``,
            ``layer_combine`` (``last``), ``edge_dropout`` (0.0).

    Shapes:
        x: ``{ntype: [num_src_nodes, in_dims[ntype]]}``
        output: ``{ntype: [num_dst_nodes, out_dim]}`` for every destination node type.
    """

    sampled_equals_full = False

    def __init__(
        self,
        etypes: Iterable[CanonicalEType],
        in_dims: Mapping[str, int],
        *,
        weight: bool = True,
        self_loop: bool = True,
        relation_aggregate: str = "sum",
        **options: Any,
    ) -> None:
        super().__init__(etypes, in_dims, **options)
        self.weight, self.self_loop, self.relation_aggregate = bool(weight), bool(self_loop), str(relation_aggregate)
        if not self.weight:
            self.project_inputs = True  # parameter-free layers keep the size: inputs are mapped to out_dim first
            self.hidden_dim = self.out_dim  # no transform: every layer has the output size

    def make_layer(self, index: int, in_dims: dict[str, int], out_dim: int) -> nn.Module:
        return _GCNLayer(self.etypes, in_dims, out_dim, self.weight, self.self_loop, self.relation_aggregate)
