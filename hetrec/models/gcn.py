"""``gcn``: graph convolutional network on a typed graph (Kipf & Welling, 2017), one convolution per relation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from hetrec._dgl import dgl  # noqa: F401  (DGL must come through hetrec._dgl)
from dgl import nn as dglnn

from hetrec.models.base import LayeredEncoder, RootTerm, dst_part, dst_types
from hetrec.types import CanonicalEType

__all__ = ["GCN"]


class _KipfRelConv(nn.Module):
    """One relation's graph convolution with a self-loop: ``D̃^-½ Ã D̃^-½ H W`` (bias-free).

    For a relation ``s -> d`` with adjacency ``A`` the destination node ``i`` gets
    ``sum_j h_j W / sqrt((deg_out(j)+1)(deg_in(i)+1))`` plus its self loop (which adds 1 to both degrees, as in Kipf &
    Welling). When ``s == d`` the self loop is exactly Kipf's ``Ã = A + I`` entry,
    ``h_i W / sqrt((deg_in(i)+1)(deg_out(i)+1))``; for a bipartite relation (``s != d``) the destination's own
    representation lives in another space, so it gets its own ``W_self`` and weight ``1 / (deg_in(i)+1)``.
    The neighbour sum is DGL's ``GraphConv(norm="none")`` on degree-scaled sources.
    """

    def __init__(self, in_src: int, in_dst: int, out_dim: int, same_type: bool) -> None:
        super().__init__()
        self.conv = dglnn.GraphConv(in_src, out_dim, norm="none", weight=True, bias=False, allow_zero_in_degree=True)
        self.self_lin = None if same_type and in_src == in_dst else nn.Linear(in_dst, out_dim, bias=False)

    def forward(self, g: Any, feat: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        h_src, h_dst = feat
        out_deg = g.out_degrees().to(h_src.dtype) + 1.0
        in_deg = g.in_degrees().to(h_src.dtype) + 1.0
        # the edge weight 1/sqrt(d_out(j) d_in(i)) factorises: scale sources, sum (DGL's fast copy_u path), scale
        # destinations; an explicit per-edge weight (u_mul_e) is several times slower on CPU
        msg = self.conv(g, (h_src * torch.rsqrt(out_deg).unsqueeze(1), h_dst)) * torch.rsqrt(in_deg).unsqueeze(1)
        if self.self_lin is None:  # Ã = A + I on one node type: the diagonal entry is 1/sqrt(d̃_in(i) d̃_out(i))
            loop = torch.rsqrt(in_deg * out_deg[: in_deg.shape[0]])
            own = h_dst @ self.conv.weight
        else:
            loop = 1.0 / in_deg
            own = self.self_lin(h_dst)
        return msg + own * loop.unsqueeze(1)


class _GCNLayer(nn.Module):
    def __init__(self, etypes: list[CanonicalEType], in_dims: Mapping[str, int], out_dim: int) -> None:
        super().__init__()
        self.conv = dglnn.HeteroGraphConv(
            {et: _KipfRelConv(in_dims[et[0]], in_dims[et[2]], out_dim, et[0] == et[2]) for et in etypes},
            aggregate="sum",
        )
        receiving = {d for _, _, d in etypes}
        # node types that no relation points to keep their own representation (Kipf's self loop alone)
        self.root = RootTerm({nt: d for nt, d in in_dims.items() if nt not in receiving}, out_dim, bias=False)
        self.bias = nn.ParameterDict({nt: nn.Parameter(torch.zeros(out_dim)) for nt in in_dims})

    def forward(self, g: Any, h: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        hd = dst_part(g, h)
        out = self.conv(g, (h, hd) if g.is_block else h)
        res = {}
        for nt in dst_types(g):
            t = out.get(nt)
            if nt in self.root:
                r = self.root(nt, hd[nt])
                t = r if t is None else t + r
            if t is None:  # the graph lacks every relation this encoder knows into this type
                t = hd[nt].new_zeros(hd[nt].shape[0], self.bias[nt].shape[0])
            res[nt] = t + self.bias[nt]
        return res


class GCN(LayeredEncoder):
    """Graph convolutional network over a typed graph (Kipf & Welling, 2017).

    Each relation ``r: s -> d`` is convolved with symmetric normalisation and self-loops,
    ``H'_d += D̃_r^-½ Ã_r D̃_r^-½ H W_r`` (see ``_KipfRelConv`` for the self loop of a bipartite relation), and the
    relations arriving at a node type are summed: ``H'_t = σ(Σ_{r -> t} ... + b_t)``. A node type that no relation
    points to keeps ``H_t W_t`` (its self loop alone). Built from DGL's ``HeteroGraphConv`` and ``GraphConv``.

    Symmetric normalisation uses the source nodes' degrees in the graph it is given; on sampled blocks those are
    the degrees within the block (DGL's usual approximation), so ``sampled_equals_full`` is ``False``.

    Args:
        etypes: canonical relations of the graph (``g.canonical_etypes``).
        in_dims: input size per node type.
        num_layers: graph convolutions. Default 2.
        hidden_dim: size of the hidden layers. Default 64.
        out_dim: embedding size. Default 64.
        dropout: dropout on each layer's input. Default 0.0.
        activation: nonlinearity between layers. Default ``relu``.
        layer_norm: layer norm after hidden layers. Default ``False``.
        residual: residual connections where sizes match. Default ``False``.

    Shapes:
        x: ``{ntype: [num_src_nodes, in_dims[ntype]]}``
        output: ``{ntype: [num_dst_nodes, out_dim]}`` for every destination node type.
    """

    sampled_equals_full = False

    def make_layer(self, index: int, in_dims: dict[str, int], out_dim: int) -> nn.Module:
        return _GCNLayer(self.etypes, in_dims, out_dim)
