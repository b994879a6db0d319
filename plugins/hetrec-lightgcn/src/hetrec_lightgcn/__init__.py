"""hetrec-lightgcn: the LightGCN encoder (He et al., 2020) as a hetrec plugin.

Registered through the ``hetrec.encoders`` entry point ``lightgcn``; its Hydra config ships in
``hetrec_lightgcn/conf/encoder/lightgcn.yaml``, so ``hetrec-train encoder=lightgcn`` works once this package is
installed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from hetrec.dgl import dgl, fn, ops
from hetrec.models.base import Encoder, dst_part, dst_types
from hetrec.types import CanonicalEType

__all__ = ["LightGCN"]
__version__ = "0.1.0"


class _LayerMean(torch.autograd.Function):
    """``(x + M x + ... + M^K x) / (K + 1)`` for the layer ``M = diag(b) A diag(a)`` (``A`` the adjacency of a
    homogeneous DGL graph, ``a = deg_out^-1/2``, ``b = deg_in^-1/2``); backward applies ``M^T = diag(a) A^T diag(b)``
    the same way. Each layer is one DGL ``copy_u``/``sum`` product and two fused row scalings, with no intermediates
    kept for autograd: on CPU this replaces the ~10 full-size elementwise ops per layer and direction (scaling,
    zero-filling, accumulation and their gradients) that dominated the per-relation path's step time."""

    @staticmethod
    def forward(ctx, x, fwd, bwd, a, b, k):
        ctx.bwd, ctx.a, ctx.b, ctx.k = bwd, a, b, k
        return _LayerMean.run(x, fwd, a, b, k)

    @staticmethod
    def run(x: torch.Tensor, g: Any, a: torch.Tensor, b: torch.Tensor, k: int) -> torch.Tensor:
        acc, y, ab = x.clone(), x * a, a * b
        for i in range(k):
            z = ops.gspmm(g, "copy_lhs", "sum", y, None)
            acc.addcmul_(z, b)
            if i + 1 < k:
                y = z.mul_(ab)
        return acc.div_(k + 1)

    @staticmethod
    def backward(ctx, grad):
        return _LayerMean.run(grad, ctx.bwd, ctx.b, ctx.a, ctx.k), None, None, None, None, None


class LightGCN(Encoder):
    """LightGCN: simplified graph convolution for recommendation (He et al., 2020).

    No feature transform, no nonlinearity: each layer propagates ``e^{k+1}_v = Σ_{w ∈ N(v)} e^k_w / sqrt(|N(v)||N(w)|)``
    over the user-item relations, and the output is the mean of the layers ``(e^0 + e^1 + ... + e^K) / (K + 1)``
    (layer 0 included). ``N(v)`` is the union of the chosen relations, so with ``clicks`` and ``purchases`` (and
    their reverses) a node's degree counts both. Propagation is DGL's ``multi_update_all`` with
    ``fn.copy_u``/``fn.sum`` between the two halves of the precomputed symmetric normalisation (sources scaled by
    ``deg^-1/2`` before, destinations after: the same as an edge weight ``1/sqrt(deg(u) deg(v))``, several times
    faster on CPU than ``fn.u_mul_e``). On a full graph whose propagated node types all receive a chosen relation,
    the layers run instead through one cached homogeneous operator and a custom autograd function (same arithmetic,
    no per-step normalisation, no stored per-layer intermediates; ~1.5x faster per training step on Gowalla).

    Node types outside the chosen relations (e.g. categories) are returned as their layer-0 representation. With
    ``out_dim=None`` the output size is the input size (every node type must have the same one); otherwise each
    node type's input is first mapped to ``out_dim`` by its own linear layer (only for types whose size differs).
    The symmetric normalisation uses degrees in the graph it is given (in sampled blocks: the block's), hence
    ``sampled_equals_full = False``.

    Args:
        etypes: canonical relations of the graph (``g.canonical_etypes``).
        in_dims: input size per node type.
        num_layers: propagation layers ``K``. Default 3.
        out_dim: output size, the key every hetrec encoder uses; ``None`` = the input size. Default ``None``.
        relations: relation names to propagate over; ``None`` = every relation between ``user_type`` and
            ``item_type`` (both directions). Default ``None``.
        user_type: user node type. Default ``"user"``.
        item_type: item node type. Default ``"item"``.

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
        num_layers: int = 3,
        out_dim: int | None = None,
        relations: Sequence[str] | None = None,
        user_type: str = "user",
        item_type: str = "item",
    ) -> None:
        etypes = [tuple(e) for e in etypes]
        dims = {str(k): int(v) for k, v in in_dims.items()}
        if out_dim is None:
            sizes = sorted(set(dims.values()))
            if len(sizes) != 1:
                raise ValueError(
                    f"LightGCN: node types have different input sizes {dims}; LightGCN has no feature transform, so "
                    f"give every type the same size or set encoder.out_dim=64 to project them first"
                )
            out_dim = sizes[0]
        super().__init__(etypes, dims, num_layers=num_layers, out_dim=int(out_dim))
        if relations is None:
            pair = {user_type, item_type}
            chosen = [et for et in self.etypes if {et[0], et[2]} == pair]
            if not chosen:
                raise ValueError(
                    f"LightGCN: no relation between '{user_type}' and '{item_type}' in {self.etypes}; set "
                    f"encoder.user_type / encoder.item_type to the graph's node types or list encoder.relations"
                )
        else:
            names = [str(r) for r in relations]
            by_name = {et[1]: et for et in self.etypes}
            missing = [r for r in names if r not in by_name]
            if missing:
                raise ValueError(
                    f"LightGCN: relations {missing} are not in the graph (relations: {sorted(by_name)}); fix "
                    f"encoder.relations"
                )
            chosen = [by_name[r] for r in names]
        self.relations: list[CanonicalEType] = chosen
        self.proj = nn.ModuleDict(
            {nt: nn.Linear(d, self.out_dim, bias=False) for nt, d in dims.items() if d != self.out_dim}
        )
        self._op_cache: tuple | None = None  # (graph, operator) of the last full graph; not part of the state

    def _scales(self, g: Any, rels: list[CanonicalEType]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """``deg_out^-1/2`` of the source nodes and ``deg_in^-1/2`` of the destination nodes, degrees counted over the
        union of ``rels`` (the edge weight ``1 / sqrt(deg(src) deg(dst))`` is their product)."""
        out_deg: dict[str, torch.Tensor] = {}
        in_deg: dict[str, torch.Tensor] = {}
        for et in rels:
            s, _, d = et
            o = g.out_degrees(etype=et)
            i = g.in_degrees(etype=et)
            out_deg[s] = out_deg[s] + o if s in out_deg else o
            in_deg[d] = in_deg[d] + i if d in in_deg else i
        inv_out = {nt: v.float().clamp(min=1.0).rsqrt().unsqueeze(1) for nt, v in out_deg.items()}
        inv_in = {nt: v.float().clamp(min=1.0).rsqrt().unsqueeze(1) for nt, v in in_deg.items()}
        return inv_out, inv_in

    def __getstate__(self) -> dict:
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__
        return {**state, "_op_cache": None}  # a cache of graphs: rebuilt on demand, never pickled

    def _operator(self, g: Any) -> tuple | None:
        """The layer over the propagated node types stacked in one index space, as a homogeneous graph (and its
        reverse, for the backward pass) plus the source and destination scalings ``deg_out^-1/2`` and
        ``deg_in^-1/2``. Cached for the last full graph seen (the trainer passes the same graph every step), so the
        normalisation is computed once, not once per step. ``None`` when some propagated type receives no relation
        (it would keep its layer-0 row: the per-relation path handles that)."""
        cache = self._op_cache
        if cache is not None and cache[0] is g:
            return cache[1]
        present = set(g.canonical_etypes)
        rels = [et for et in self.relations if et in present]
        inv_out, inv_in = self._scales(g, rels)
        types = [nt for nt in g.ntypes if any(nt in (et[0], et[2]) for et in rels)]
        op = None
        if rels and all(nt in inv_in for nt in types):
            offsets, n = {}, 0
            for nt in types:
                offsets[nt] = n
                n += g.num_nodes(nt)
            src, dst = [], []
            for et in rels:
                u, v = g.edges(etype=et)
                src.append(u.long() + offsets[et[0]])
                dst.append(v.long() + offsets[et[2]])
            src_t, dst_t = torch.cat(src), torch.cat(dst)
            fwd = dgl.graph((src_t, dst_t), num_nodes=n, device=g.device)
            bwd = dgl.graph((dst_t, src_t), num_nodes=n, device=g.device)
            ones = torch.ones(1, 1, device=g.device)
            a = torch.cat([inv_out[nt] if nt in inv_out else ones.expand(g.num_nodes(nt), 1) for nt in types])
            b = torch.cat([inv_in[nt] for nt in types])
            op = (fwd, bwd, a, b, types)
        self._op_cache = (g, op)
        return op

    def _propagate_full(self, g: Any, h: dict[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
        """Full-graph propagation through the cached operator; ``None`` where the per-relation path must run."""
        op = self._operator(g)
        if op is None or any(nt not in h for nt in op[4]):
            return None
        fwd, bwd, a, b, types = op
        out = {nt: t for nt, t in h.items() if nt in g.ntypes}  # not propagated: layer 0 every layer, so its mean
        x = torch.cat([h[nt] for nt in types]) if len(types) > 1 else h[types[0]]
        res = _LayerMean.apply(x, fwd, bwd, a.to(x.dtype), b.to(x.dtype), self.num_layers)
        out.update(zip(types, res.split([h[nt].shape[0] for nt in types])))
        return out

    def propagate(self, graphs: Sequence[Any], x: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        h = {nt: self.proj[nt](t) if nt in self.proj else t for nt, t in x.items()}
        if not graphs[0].is_block and all(g is graphs[0] for g in graphs):
            out = self._propagate_full(graphs[0], h)
            if out is not None:
                return out
        layers = [h]
        full = not graphs[0].is_block
        scales = self._scales(graphs[0], self.relations) if full else None
        for g in graphs:
            present = set(g.canonical_etypes)
            rels = [et for et in self.relations if et in present]
            inv_out, inv_in = scales if full else self._scales(g, rels)
            src_nodes, dst_nodes = (g.srcnodes, g.dstnodes) if g.is_block else (g.nodes, g.nodes)
            with g.local_scope():
                # scale sources, sum over neighbours (DGL's copy_u/sum fast path), scale destinations
                for nt in inv_out:
                    src_nodes[nt].data["h"] = h[nt] * inv_out[nt]
                g.multi_update_all({et: (fn.copy_u("h", "m"), fn.sum("m", "h_new")) for et in rels}, "sum")
                hd = dst_part(g, h)
                new = {}
                for nt in dst_types(g):
                    if nt not in hd:
                        continue
                    if nt in inv_in and "h_new" in dst_nodes[nt].data:
                        new[nt] = dst_nodes[nt].data["h_new"] * inv_in[nt]
                    else:  # not part of the user-item propagation: keep the layer-0 representation
                        new[nt] = hd[nt]
            layers.append(new)
            h = new
        # mean over layers 0..K, each restricted to the last graph's destination nodes
        acc = {nt: t.clone() for nt, t in layers[-1].items()}
        for k in range(len(layers) - 1):
            rows = layers[k]
            for g in graphs[k:]:
                rows = dst_part(g, rows) if g.is_block else rows
            for nt in acc:
                if nt in rows:
                    acc[nt] = acc[nt] + rows[nt]
        return {nt: t / (len(graphs) + 1) for nt, t in acc.items()}

    def extra_repr(self) -> str:
        rels = ", ".join(r for _, r, _ in self.relations)
        return f"num_layers={self.num_layers}, out_dim={self.out_dim}, relations=[{rels}]"
