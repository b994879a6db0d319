"""``rgcn``: relational graph convolutional network (Schlichtkrull et al., 2018)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from hetrec.dgl import dglnn
from hetrec.models.base import RELATION_AGGREGATES, LayeredEncoder, TypedConv, dst_part, dst_types
from hetrec.types import CanonicalEType

__all__ = ["RGCN"]

REGULARIZERS = ("basis", "bdd", "none")
NORMS = ("right", "both", "none")


class _RGCNLayer(nn.Module):
    """``h_i' = Σ_r Σ_{j ∈ N_r(i)} h_j W_r / |N_r(i)| + h_i W_0 + b`` with ``W_r`` from a basis or block-diagonal
    decomposition. Per-relation mean aggregation is DGL's ``GraphConv(norm="right", weight=False)`` inside
    ``HeteroGraphConv``; the basis is DGL's ``WeightBasis``. If node types have different input sizes (only
    possible in the first layer), each type is first projected to ``out_dim`` by its own linear map, so that all
    relations share one weight space, as the decomposition requires."""

    def __init__(
        self,
        etypes: list[CanonicalEType],
        in_dims: Mapping[str, int],
        out_dim: int,
        regularizer: str,
        num_bases: int,
        self_loop: bool,
        relation_aggregate: str,
        norm: str,
    ) -> None:
        super().__init__()
        self.rel_names = [r for _, r, _ in etypes]
        sizes = set(in_dims.values())
        if len(sizes) == 1:
            self.proj = None
            in_dim = sizes.pop()
        else:
            self.proj = nn.ModuleDict({nt: nn.Linear(d, out_dim, bias=False) for nt, d in in_dims.items()})
            in_dim = out_dim
        num_rels = len(self.rel_names)
        self.conv = TypedConv(
            {et: dglnn.GraphConv(in_dim, out_dim, norm=norm, weight=False, bias=False, allow_zero_in_degree=True)
             for et in etypes},
            aggregate=relation_aggregate,
            out_dim=out_dim,
        )
        self.regularizer = regularizer
        self.basis = self.weight = self.blocks = None
        if regularizer == "basis" and 0 < num_bases < num_rels:
            self.basis = dglnn.WeightBasis((in_dim, out_dim), num_bases, num_rels)
        elif regularizer == "bdd" and num_bases > 1:
            if in_dim % num_bases or out_dim % num_bases:
                raise ValueError(
                    f"RGCN: block-diagonal decomposition needs sizes divisible by num_bases={num_bases}, got "
                    f"in {in_dim} and out {out_dim}; set encoder.num_bases to a common divisor (e.g. 4 or 8)"
                )
            self.blocks = nn.Parameter(torch.empty(num_rels, num_bases, in_dim // num_bases, out_dim // num_bases))
            nn.init.xavier_uniform_(self.blocks, gain=nn.init.calculate_gain("relu"))
        else:  # one full matrix per relation
            self.weight = nn.Parameter(torch.empty(num_rels, in_dim, out_dim))
            nn.init.xavier_uniform_(self.weight, gain=nn.init.calculate_gain("relu"))
        self.loop = nn.Linear(in_dim, out_dim, bias=False) if self_loop else None
        self.bias = nn.Parameter(torch.zeros(out_dim))
        self.out_dim = out_dim

    def relation_weights(self) -> torch.Tensor:
        """``[num_relations, in_dim, out_dim]``."""
        if self.basis is not None:
            return self.basis()
        if self.blocks is not None:
            return torch.stack([torch.block_diag(*b) for b in self.blocks.unbind(0)])
        return self.weight

    def forward(self, g: Any, h: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if self.proj is not None:
            h = {nt: self.proj[nt](t) for nt, t in h.items()}
        w = self.relation_weights()
        hd = dst_part(g, h)
        kwargs = {r: {"weight": w[i]} for i, r in enumerate(self.rel_names)}
        out = self.conv(g, (h, hd) if g.is_block else h, mod_kwargs=kwargs)
        res = {}
        for nt in dst_types(g):
            t = out.get(nt)
            if self.loop is not None:
                r = self.loop(hd[nt])
                t = r if t is None else t + r
            if t is None:
                t = hd[nt].new_zeros(hd[nt].shape[0], self.out_dim)
            res[nt] = t + self.bias
        return res


class RGCN(LayeredEncoder):
    """Relational graph convolutional network (Schlichtkrull et al., 2018).

    ``h_i' = σ(h_i W_0 + Σ_r Σ_{j ∈ N_r(i)} h_j W_r / |N_r(i)| + b)``: one weight matrix per relation, shared-weight
    self loop ``W_0``, mean over each relation's neighbours. To keep the parameter count independent of the number
    of relations, ``W_r`` is regularised by basis decomposition ``W_r = Σ_b a_rb V_b`` (``regularizer="basis"``) or
    block-diagonal decomposition (``"bdd"``, ``num_bases`` blocks). Built from DGL's ``HeteroGraphConv``,
    ``GraphConv`` and ``WeightBasis``.

    Args:
        etypes: canonical relations of the graph (``g.canonical_etypes``); relation names must be unique.
        in_dims: input size per node type (if they differ, the first layer projects each type to ``hidden_dim``).
        num_bases: bases (``basis``; used only when fewer than the relations) or blocks (``bdd``). Default 4.
        regularizer: ``basis``, ``bdd`` or ``none``. Default ``basis``.
        self_loop: add ``h_i W_0``. Default ``True`` (without it, nodes with no in-edges get only the bias).
        relation_aggregate: how the relations into a node type combine: ``sum`` (the paper), ``mean``, ``max``, or
            learned ``weighted`` / ``attention`` relation weights (:class:`~hetrec.models.base.TypedConv`), so a
            relation without signal can be weighed down. Default ``sum``.
        norm: neighbour normalisation per relation: ``right`` (mean over ``N_r(i)``, the paper), ``both``
            (symmetric ``1 / sqrt(deg_out(j) deg_in(i))``, as GCN and LightGCN) or ``none`` (sum). Default ``right``.
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
        num_bases: int = 4,
        regularizer: str = "basis",
        self_loop: bool = True,
        relation_aggregate: str = "sum",
        norm: str = "right",
        **options: Any,
    ) -> None:
        etypes = [tuple(e) for e in etypes]
        dup = sorted(r for r, c in Counter(r for _, r, _ in etypes).items() if c > 1)
        if dup:
            raise ValueError(
                f"RGCN: relation name(s) {dup} are used by more than one relation in {etypes}; R-GCN keys its weights "
                f"by relation name, so give each relation a unique name in the graph"
            )
        if regularizer not in REGULARIZERS:
            raise ValueError(
                f"RGCN: unknown regularizer {regularizer!r}; choose one of {', '.join(REGULARIZERS)} "
                f"(e.g. encoder.regularizer=basis)"
            )
        if relation_aggregate not in RELATION_AGGREGATES:
            raise ValueError(
                f"RGCN: unknown relation_aggregate {relation_aggregate!r}; choose one of "
                f"{', '.join(RELATION_AGGREGATES)} (e.g. encoder.relation_aggregate=weighted)"
            )
        if norm not in NORMS:
            raise ValueError(f"RGCN: unknown norm {norm!r}; choose one of {', '.join(NORMS)} (e.g. encoder.norm=both)")
        if int(num_bases) < 0:
            raise ValueError(f"RGCN: num_bases must be >= 0, got {num_bases} (e.g. encoder.num_bases=4)")
        super().__init__(etypes, in_dims, **options)
        self.sampled_equals_full = norm != "both"  # symmetric normalisation needs the sources' full-graph degrees
        self.regularizer, self.num_bases, self.self_loop = str(regularizer), int(num_bases), bool(self_loop)
        self.relation_aggregate, self.norm = str(relation_aggregate), str(norm)

    def make_layer(self, index: int, in_dims: dict[str, int], out_dim: int) -> nn.Module:
        return _RGCNLayer(self.etypes, in_dims, out_dim, self.regularizer, self.num_bases, self.self_loop,
                          self.relation_aggregate, self.norm)
