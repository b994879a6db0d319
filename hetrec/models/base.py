"""The encoder contract every built-in and plugin encoder follows, and the layer stack the built-ins share.

An encoder turns input node representations ``x`` (one tensor per node type) into embeddings of ``out_dim`` for every
destination node type, by message passing over a typed heterograph. It works on a full graph (transductive,
full-batch training and inference) and on a list of sampled DGL blocks (mini-batch training), one block per layer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from hetrec._dgl import dgl
from dgl import nn as dglnn  # noqa: E402  (after hetrec._dgl)
from hetrec.types import CanonicalEType

__all__ = [
    "Encoder", "LayeredEncoder", "RootTerm", "TypedConv", "dst_part", "dst_types", "make_activation", "ACTIVATIONS",
    "LAYER_COMBINES", "RELATION_AGGREGATES",
]

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "prelu": nn.PReLU,
    "tanh": nn.Tanh,
    "none": nn.Identity,
}


def make_activation(name: str | None, owner: str = "encoder") -> nn.Module:
    """Return a fresh activation module by name (``relu``, ``leaky_relu``, ``elu``, ``gelu``, ``prelu``, ``tanh``,
    ``none``); ``None`` means ``none``."""
    key = "none" if name is None else str(name).lower()
    if key not in ACTIVATIONS:
        raise ValueError(
            f"{owner}: unknown activation {name!r}; choose one of {', '.join(sorted(ACTIVATIONS))} "
            f"(e.g. encoder.activation=relu)"
        )
    return ACTIVATIONS[key]()


class Encoder(nn.Module):
    """Base class of hetrec encoders: typed message passing from input representations to node embeddings.

    Subclasses implement :meth:`propagate`; :meth:`forward` validates the input (graph or blocks, features) and
    calls it with one graph per layer. Everything that comes from the data (relations, input sizes) is passed at
    construction; everything else is a hyperparameter with a default, so that a Hydra config holds only
    hyperparameters: ``instantiate(cfg.encoder, etypes=g.canonical_etypes, in_dims=dims)``.

    Args:
        etypes: canonical relations ``(src type, relation, dst type)`` of the graphs the encoder will see.
        in_dims: input size per node type (every node type of ``etypes`` needs one).
        num_layers: message-passing layers (= sampled blocks per mini-batch). Default 2.
        out_dim: embedding size of the output. Default 64.

    Attributes:
        out_dim: embedding size of every output node type.
        num_layers: number of layers; a list of blocks passed to :meth:`forward` must have this length.
        sampled_equals_full: ``True`` when the output for a subset of seed nodes computed on blocks sampled with
            full fan-out equals the full-graph output for those nodes (true for mean/sum aggregators normalised by
            the destination's in-degree; false for symmetric normalisation, which needs the sources' degrees in
            the whole graph). With every node as a seed, the two always agree.

    Shapes:
        x: ``{ntype: [num_src_nodes(ntype), in_dims[ntype]]}``
        output: ``{ntype: [num_dst_nodes(ntype), out_dim]}`` for every destination node type (for a full graph:
        every node type).
    """

    sampled_equals_full: ClassVar[bool] = True

    def __init__(
        self,
        etypes: Iterable[CanonicalEType],
        in_dims: Mapping[str, int],
        *,
        num_layers: int = 2,
        out_dim: int = 64,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.etypes: list[CanonicalEType] = []
        for et in etypes:  # tuples, lists, or OmegaConf ListConfigs (hydra.utils.instantiate passes those)
            et = tuple(et) if not isinstance(et, str) and hasattr(et, "__iter__") else et
            if not (isinstance(et, tuple) and len(et) == 3 and all(isinstance(p, str) for p in et)):
                raise ValueError(
                    f"{name}: relation {et!r} is not a canonical etype (src type, relation, dst type); "
                    f"pass etypes=g.canonical_etypes"
                )
            self.etypes.append((et[0], et[1], et[2]))
        if not self.etypes:
            raise ValueError(f"{name}: etypes is empty; pass etypes=g.canonical_etypes of a graph with relations")
        if len(set(self.etypes)) != len(self.etypes):
            raise ValueError(f"{name}: etypes has duplicates: {self.etypes}")
        self.in_dims: dict[str, int] = {str(k): int(v) for k, v in in_dims.items()}
        missing = sorted(({s for s, _, _ in self.etypes} | {d for _, _, d in self.etypes}) - set(self.in_dims))
        if missing:
            raise ValueError(
                f"{name}: in_dims has no size for node type(s) {missing} (got {sorted(self.in_dims)}); "
                f"pass in_dims={{ntype: x[ntype].shape[1]}} for every node type (hetrec.models.NodeInput gives "
                f"every type an input)"
            )
        bad = {k: v for k, v in self.in_dims.items() if v <= 0}
        if bad:
            raise ValueError(f"{name}: in_dims must be positive, got {bad}")
        if int(num_layers) < 1:
            raise ValueError(f"{name}: num_layers must be >= 1, got {num_layers} (e.g. encoder.num_layers=2)")
        if int(out_dim) < 1:
            raise ValueError(f"{name}: out_dim must be >= 1, got {out_dim} (e.g. encoder.out_dim=64)")
        self.num_layers = int(num_layers)
        self.out_dim = int(out_dim)
        self.ntypes: list[str] = sorted(
            {s for s, _, _ in self.etypes} | {d for _, _, d in self.etypes} | set(self.in_dims)
        )

    # ------------------------------------------------------------------ contract
    def forward(self, graph_or_blocks: Any, x: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Embed every destination node type.

        Args:
            graph_or_blocks: a ``dgl.DGLGraph`` (full graph, used by every layer) or a list of ``num_layers`` DGL
                blocks (first block = input layer), e.g. from ``dgl.dataloading.NeighborSampler``.
            x: input representation per node type; rows are the (first block's) source nodes.

        Returns:
            ``{ntype: Tensor[num_dst_nodes, out_dim]}`` for every destination node type of the last graph.
        """
        graphs = self._layer_graphs(graph_or_blocks)
        self._check_inputs(graphs[0], x)
        return self.propagate(graphs, dict(x))

    def propagate(self, graphs: Sequence[Any], x: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Run the layers: ``graphs[i]`` is the graph (full graph or block) of layer ``i``; implement in subclasses."""
        raise NotImplementedError(f"{type(self).__name__} must implement propagate(graphs, x)")

    def extra_repr(self) -> str:
        return f"num_layers={self.num_layers}, out_dim={self.out_dim}, relations={len(self.etypes)}"

    # ------------------------------------------------------------------ helpers
    def _layer_graphs(self, graph_or_blocks: Any) -> list[Any]:
        name = type(self).__name__
        if isinstance(graph_or_blocks, dgl.DGLGraph):
            graphs = [graph_or_blocks] * self.num_layers
        elif isinstance(graph_or_blocks, (list, tuple)):
            graphs = list(graph_or_blocks)
            if len(graphs) != self.num_layers:
                raise ValueError(
                    f"{name}(num_layers={self.num_layers}) got {len(graphs)} blocks; set train.fanouts to "
                    f"{self.num_layers} values (one per layer) or encoder.num_layers={len(graphs)}"
                )
            for i, b in enumerate(graphs):
                if not isinstance(b, dgl.DGLGraph) or not b.is_block:
                    raise TypeError(
                        f"{name}: element {i} of the block list is {type(b).__name__}, not a DGL block; "
                        f"pass the blocks from a dgl.dataloading sampler or one full graph"
                    )
        else:
            raise TypeError(
                f"{name}: expected a DGLGraph or a list of {self.num_layers} blocks, got {type(graph_or_blocks).__name__}"
            )
        known = set(self.etypes)
        for g in graphs[:1] if graphs[0] is graphs[-1] else graphs:
            unknown = [et for et in g.canonical_etypes if et not in known]
            if unknown:
                raise ValueError(
                    f"{name}: the graph has relation(s) {unknown} this encoder was not built for "
                    f"(built for {self.etypes}); build it with etypes=g.canonical_etypes of the same graph"
                )
        return graphs

    def _check_inputs(self, g: Any, x: Mapping[str, torch.Tensor]) -> None:
        name = type(self).__name__
        for nt in g.srctypes if g.is_block else g.ntypes:
            n = g.num_src_nodes(nt) if g.is_block else g.num_nodes(nt)
            if nt not in x:
                if n > 0:
                    raise KeyError(
                        f"{name}: no input for node type '{nt}' (got {sorted(x)}); pass x['{nt}'] with shape "
                        f"[{n}, {self.in_dims.get(nt, '?')}]"
                    )
                continue
            t = x[nt]
            if t.dim() != 2 or t.shape[0] != n:
                raise ValueError(
                    f"{name}: x['{nt}'] has shape {tuple(t.shape)}, expected [{n}, {self.in_dims.get(nt, '?')}] "
                    f"(one row per {'source ' if g.is_block else ''}node of type '{nt}')"
                )
            if nt in self.in_dims and t.shape[1] != self.in_dims[nt]:
                raise ValueError(
                    f"{name}: x['{nt}'] has {t.shape[1]} columns but in_dims['{nt}'] = {self.in_dims[nt]}; "
                    f"build the encoder with in_dims={{ntype: x[ntype].shape[1]}}"
                )


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


LAYER_COMBINES = ("last", "mean", "sum", "weighted")
RELATION_AGGREGATES = ("sum", "mean", "max", "weighted", "attention")


class TypedConv(dglnn.HeteroGraphConv):
    """One module per relation, their outputs combined per destination type (DGL's ``HeteroGraphConv``, plus
    learned relation weights).

    ``aggregate`` is DGL's ``sum``, ``mean`` or ``max``, or one of two learned combinations, so that a relation that
    carries no signal for the task can be weighed down instead of drowning the useful ones:

    - ``weighted``: ``h_t = Σ_r softmax_r(a)_r h_r`` over the relations arriving at type ``t``, one learned logit
      ``a_r`` per relation (all 0 at the start, i.e. ``mean``);
    - ``attention``: semantic attention (HAN; Wang et al., 2019): ``β_r = softmax_r(mean_i q_t·tanh(W_t h_{r,i} + b_t))``
      and ``h_t = Σ_r β_r h_r``.

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


class LayeredEncoder(Encoder):
    """A stack of typed message-passing layers with the options the built-in encoders share.

    Layer ``i`` maps ``{ntype: [N, d_i(ntype)]}`` to ``{ntype: [N_dst, d_{i+1}]}`` where ``d_0 = in_dims``,
    ``d_1 .. d_{L-1} = hidden_dim`` and ``d_L = out_dim``. Between layers: optional layer norm, activation,
    dropout; an optional residual connection adds a layer's input to its output when both have the same size.
    The last layer has no activation (embeddings feed a scorer). Subclasses implement :meth:`make_layer`; the
    returned module is called as ``layer(g, h) -> {dst ntype: Tensor}`` and must return every destination type.

    The options that make LightGCN (He et al., 2020) strong are options here, so every built-in can use them:
    ``activation="none"`` (linear propagation), ``layer_combine="mean"`` (the output is the mean of the input and
    every layer's output, so each node keeps its own id embedding next to its 1..L-hop neighbourhood),
    ``edge_dropout`` (DropEdge; Rong et al., 2020) and, through each layer's :class:`TypedConv`, learned relation
    weights (``relation_aggregate="weighted"`` or ``"attention"``).

    Args:
        etypes: see :class:`Encoder`.
        in_dims: see :class:`Encoder`.
        num_layers: number of layers. Default 2.
        hidden_dim: size of the intermediate layers. Default 64.
        out_dim: output embedding size. Default 64.
        dropout: dropout on every layer's input. Default 0.0.
        activation: nonlinearity between layers (``relu``, ``leaky_relu``, ``elu``, ``gelu``, ``prelu``, ``tanh``,
            ``none``). Default ``relu``.
        layer_norm: apply ``LayerNorm`` per node type after each hidden layer. Default ``False``.
        residual: add each hidden layer's input to its output where the sizes match. Default ``False``.
        layer_combine: the output: ``last`` (the last layer), ``mean`` or ``sum`` of the input (layer 0, mapped to
            ``out_dim`` by a per-type linear map where its size differs) and every layer's output, or ``weighted``
            (a learned softmax over those ``L + 1`` terms). Anything but ``last`` needs ``hidden_dim == out_dim``.
            Default ``last``.
        edge_dropout: share of each relation's edges dropped at every training step on a full graph (on sampled
            blocks neighbour sampling already drops edges, so it is not applied there). Default 0.0.
    """

    def __init__(
        self,
        etypes: Iterable[CanonicalEType],
        in_dims: Mapping[str, int],
        *,
        num_layers: int = 2,
        hidden_dim: int = 64,
        out_dim: int = 64,
        dropout: float = 0.0,
        activation: str | None = "relu",
        layer_norm: bool = False,
        residual: bool = False,
        layer_combine: str = "last",
        edge_dropout: float = 0.0,
    ) -> None:
        super().__init__(etypes, in_dims, num_layers=num_layers, out_dim=out_dim)
        name = type(self).__name__
        if int(hidden_dim) < 1:
            raise ValueError(f"{name}: hidden_dim must be >= 1, got {hidden_dim} (e.g. encoder.hidden_dim=64)")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout} (e.g. encoder.dropout=0.1)")
        if not 0.0 <= float(edge_dropout) < 1.0:
            raise ValueError(
                f"{name}: edge_dropout must be in [0, 1), got {edge_dropout} (e.g. encoder.edge_dropout=0.1)"
            )
        if layer_combine not in LAYER_COMBINES:
            raise ValueError(
                f"{name}: unknown layer_combine {layer_combine!r}; choose one of {', '.join(LAYER_COMBINES)} "
                f"(e.g. encoder.layer_combine=mean)"
            )
        if layer_combine != "last" and self.num_layers > 1 and int(hidden_dim) != self.out_dim:
            raise ValueError(
                f"{name}: layer_combine={layer_combine} adds up every layer's output, so hidden_dim must equal "
                f"out_dim (got {hidden_dim} and {self.out_dim}); set encoder.hidden_dim={self.out_dim}"
            )
        self.hidden_dim = int(hidden_dim)
        self.residual = bool(residual)
        self.layer_combine = str(layer_combine)
        self.edge_dropout = float(edge_dropout)
        self.dropout = nn.Dropout(float(dropout))
        self.activation = make_activation(activation, name)
        self.layers = nn.ModuleList()
        self.norms = nn.ModuleList()
        # per-type linear maps of the input to out_dim: for the layer-0 term of a layer combination, and in front of
        # the first layer of encoders whose layers keep the size (project_inputs, e.g. GCN without weights)
        project = self.project_inputs or self.layer_combine != "last"
        self.input_proj = nn.ModuleDict(
            {nt: nn.Linear(d, self.out_dim, bias=False) for nt, d in self.in_dims.items() if project and d != self.out_dim}
        )
        dims: dict[str, int] = {
            nt: self.out_dim if self.project_inputs and nt in self.input_proj else self.in_dims.get(nt, 0)
            for nt in self.ntypes
        }
        for i in range(self.num_layers):
            out = self.out_dim if i == self.num_layers - 1 else self.hidden_dim
            self.layers.append(self.make_layer(i, dict(dims), out))
            last = i == self.num_layers - 1
            if layer_norm and not last:
                self.norms.append(nn.ModuleDict({nt: nn.LayerNorm(out) for nt in self.ntypes}))
            dims = {nt: out for nt in self.ntypes}
        self.layer_logits = nn.Parameter(torch.zeros(self.num_layers + 1)) if layer_combine == "weighted" else None

    #: subclasses whose layers cannot change the size (e.g. GCN without weights) set this: inputs whose size differs
    #: from ``out_dim`` are first mapped to it by a per-type linear layer
    project_inputs: ClassVar[bool] = False

    def make_layer(self, index: int, in_dims: dict[str, int], out_dim: int) -> nn.Module:
        """Build layer ``index`` from per-type input sizes (0 = the type has no input) to ``out_dim``."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        extra = f", layer_combine={self.layer_combine}" if self.layer_combine != "last" else ""
        extra += f", edge_dropout={self.edge_dropout}" if self.edge_dropout else ""
        return super().extra_repr() + extra

    def _drop_edges(self, graphs: list[Any]) -> list[Any]:
        """DropEdge on a full graph while training: one random edge subgraph (all nodes kept) for every layer."""
        g = graphs[0]
        if not (self.training and self.edge_dropout > 0 and not g.is_block and all(x is g for x in graphs)):
            return graphs
        keep = {
            et: torch.nonzero(torch.rand(g.num_edges(et), device=g.device) >= self.edge_dropout).squeeze(1)
            for et in g.canonical_etypes
        }
        sub = dgl.edge_subgraph(g, keep, relabel_nodes=False, store_ids=False)
        return [sub] * len(graphs)

    def propagate(self, graphs: Sequence[Any], x: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        graphs = self._drop_edges(list(graphs))
        x0 = {nt: self.input_proj[nt](t) if nt in self.input_proj else t for nt, t in x.items()}
        h = x0 if self.project_inputs else x
        terms: list[dict[str, torch.Tensor]] = [x0] if self.layer_combine != "last" else []
        for i, (layer, g) in enumerate(zip(self.layers, graphs)):
            h_in = {nt: self.dropout(t) for nt, t in h.items()}
            out = layer(g, h_in)
            if i < self.num_layers - 1:
                if self.norms:
                    out = {nt: self.norms[i][nt](t) for nt, t in out.items()}
                out = {nt: self.activation(t) for nt, t in out.items()}
                if self.residual:
                    prev = dst_part(g, h)
                    out = {nt: t + prev[nt] if nt in prev and prev[nt].shape == t.shape else t for nt, t in out.items()}
            h = out
            if terms:
                terms.append(out)
        if not terms:
            return h
        return self._combine_layers(terms, graphs)

    def _combine_layers(self, terms: list[dict[str, torch.Tensor]], graphs: Sequence[Any]) -> dict[str, torch.Tensor]:
        """Mean / sum / learned mix of the layer-0 input and every layer's output, each cut to the last graph's
        destination nodes (term ``k`` lives on the destination nodes of graph ``k - 1``)."""
        if self.layer_combine == "weighted":
            w = torch.softmax(self.layer_logits, 0)
        else:
            scale = 1.0 / len(terms) if self.layer_combine == "mean" else 1.0
            w = [scale] * len(terms)
        out = {nt: t * w[-1] for nt, t in terms[-1].items()}
        for k, rows in enumerate(terms[:-1]):
            for g in graphs[k:]:
                if g.is_block:
                    rows = dst_part(g, rows)
            for nt in out:
                if nt in rows:
                    out[nt] = out[nt] + rows[nt] * w[k]
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
