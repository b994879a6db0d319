"""The encoder contract every built-in and plugin encoder follows, and the layer stack the built-ins share.

An encoder turns input node representations ``x`` (one tensor per node type) into embeddings of ``out_dim`` for every
destination node type, by message passing over a typed heterograph. It works on a full graph (transductive,
full-batch training and inference) and on a list of sampled DGL blocks (mini-batch training), one block per layer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from hetrec._dgl import dgl
from hetrec.models.typed_conv import RELATION_AGGREGATES, RootTerm, TypedConv, dst_part, dst_types
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

    Construction rule: a subclass's ``__init__`` calls ``super().__init__(etypes, in_dims, **base_options)`` first
    and then stores its own settings; :meth:`build` runs once, right after the outermost ``__init__`` has returned
    (every subclass ``__init__`` is wrapped for this when the class is defined), so modules that depend on the
    subclass's settings (``LayeredEncoder``'s layers, made by ``make_layer``) are built with those settings in place.
    Subclasses pass base options through ``**options`` and need not restate them. Modules built in :meth:`build` do
    not exist yet inside ``__init__``; work on them by overriding :meth:`build` (call ``super().build()`` first).
    """

    sampled_equals_full: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "_builds_after", False):
            cls.__init__ = _build_after(init)  # type: ignore[method-assign]

    def build(self) -> None:
        """Build what depends on every constructor argument; called once after ``__init__`` (see the class)."""

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
                f"{name}: expected a DGLGraph or a list of {self.num_layers} blocks, "
                f"got {type(graph_or_blocks).__name__}"
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


def _build_after(init: Callable[..., None]) -> Callable[..., None]:
    """Wrap a subclass ``__init__`` so that :meth:`Encoder.build` runs once, when the outermost ``__init__`` of the
    instance (the most derived class's, which calls the others through ``super()``) has returned."""

    @functools.wraps(init)
    def __init__(self: Encoder, *args: Any, **kwargs: Any) -> None:
        depth = self.__dict__.get("_init_depth", 0)
        object.__setattr__(self, "_init_depth", depth + 1)
        try:
            init(self, *args, **kwargs)
        finally:
            object.__setattr__(self, "_init_depth", depth)
            if depth == 0:
                del self.__dict__["_init_depth"]
        if depth == 0:
            self.build()

    __init__._builds_after = True  # type: ignore[attr-defined]
    return __init__


LAYER_COMBINES = ("last", "mean", "sum", "weighted")
class LayeredEncoder(Encoder):
    """A stack of typed message-passing layers with the options the built-in encoders share.

    Layer ``i`` maps ``{ntype: [N, d_i(ntype)]}`` to ``{ntype: [N_dst, d_{i+1}]}`` where ``d_0 = in_dims``,
    ``d_1 .. d_{L-1} = hidden_dim`` and ``d_L = out_dim``. Between layers: optional layer norm, activation,
    dropout; an optional residual connection adds a layer's input to its output when both have the same size.
    The last layer has no activation (embeddings feed a scorer). Subclasses implement :meth:`make_layer`; the
    returned module is called as ``layer(g, h) -> {dst ntype: Tensor}`` and must return every destination type.
    The layers are made after the subclass's ``__init__`` has returned (see :class:`Encoder`), so a subclass is::

        def __init__(self, etypes, in_dims, *, num_heads=2, **options):
            super().__init__(etypes, in_dims, **options)  # num_layers, hidden_dim, out_dim, ... pass through
            self.num_heads = num_heads                    # make_layer may use it

        def make_layer(self, index, in_dims, out_dim):
            return MyLayer(self.etypes, in_dims, out_dim, self.num_heads)

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
        self.hidden_dim = int(hidden_dim)
        self.residual = bool(residual)
        self.layer_norm = bool(layer_norm)
        self.layer_combine = str(layer_combine)
        self.edge_dropout = float(edge_dropout)
        self.dropout = nn.Dropout(float(dropout))
        self.activation = make_activation(activation, name)
        self.layers = nn.ModuleList()  # filled by build(), once the subclass's __init__ has stored its settings
        self.norms = nn.ModuleList()
        self.layer_logits = None

    def build(self) -> None:
        """Make the layers with :meth:`make_layer` (called once, after the subclass's ``__init__``; see
        :class:`Encoder`), the input projections and the layer-combination weights."""
        super().build()
        name = type(self).__name__
        if len(self.layers):
            raise RuntimeError(f"{name}: build() ran twice; it is called once, after __init__")
        if self.layer_combine != "last" and self.num_layers > 1 and self.hidden_dim != self.out_dim:
            raise ValueError(
                f"{name}: layer_combine={self.layer_combine} adds up every layer's output, so hidden_dim must equal "
                f"out_dim (got {self.hidden_dim} and {self.out_dim}); set encoder.hidden_dim={self.out_dim}"
            )
        # per-type linear maps of the input to out_dim: for the layer-0 term of a layer combination, and in front of
        # the first layer of encoders whose layers keep the size (project_inputs, e.g. GCN without weights)
        project = self.project_inputs or self.layer_combine != "last"
        self.input_proj = nn.ModuleDict(
            {
                nt: nn.Linear(d, self.out_dim, bias=False)
                for nt, d in self.in_dims.items()
                if project and d != self.out_dim
            }
        )
        dims: dict[str, int] = {
            nt: self.out_dim if self.project_inputs and nt in self.input_proj else self.in_dims.get(nt, 0)
            for nt in self.ntypes
        }
        for i in range(self.num_layers):
            out = self.out_dim if i == self.num_layers - 1 else self.hidden_dim
            self.layers.append(self.make_layer(i, dict(dims), out))
            last = i == self.num_layers - 1
            if self.layer_norm and not last:
                self.norms.append(nn.ModuleDict({nt: nn.LayerNorm(out) for nt in self.ntypes}))
            dims = {nt: out for nt in self.ntypes}
        if self.layer_combine == "weighted":
            self.layer_logits = nn.Parameter(torch.zeros(self.num_layers + 1))

    #: subclasses whose layers cannot change the size (e.g. GCN without weights) set this: inputs whose size differs
    #: from ``out_dim`` are first mapped to it by a per-type linear layer
    project_inputs: ClassVar[bool] = False

    def make_layer(self, index: int, in_dims: dict[str, int], out_dim: int) -> nn.Module:
        """Build layer ``index`` from per-type input sizes (0 = the type has no input) to ``out_dim``. Called by
        :meth:`build` after the subclass's ``__init__``, so every setting the subclass stored is available."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_layer(index, in_dims, out_dim)")

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
