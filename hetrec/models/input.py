"""`NodeInput`: the input representation of every node type, from learnable id embeddings and node features."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

__all__ = ["NodeInput"]


class NodeInput(nn.Module):
    """Per-node-type input layer: learnable id embedding plus a linear projection of the node features, summed.

    ``x_v = E_t[id(v)] + f_v W_t + b_t`` for a node ``v`` of type ``t``. The id embedding (one row per node, as in
    matrix factorisation and LightGCN) serves transductive use; the feature projection serves inductive and
    cold-start use (:meth:`embed_features` embeds a node from its features alone). A node type with neither (ids
    off and no features) gets one learnable vector shared by all its nodes (a type embedding).

    Args:
        num_nodes: number of nodes per node type.
        feat_dims: feature size per node type; types without features are absent (or 0).
        dim: output size (the encoder's ``in_dims`` are then ``{t: dim}``).
        id_embedding: learn one embedding per node id. Default ``True``.
        init_std: standard deviation of the normal initialisation of id embeddings. Default 0.1.
        id_dropout: in training only, the share of nodes whose id embedding is zeroed in each forward pass, so that
            the feature path (and the graph around the node) learns to represent a node alone, as it must for a new
            product (DropoutNet, Volkovs et al., NeurIPS 2017). A float applies to every node type with features, a
            mapping ``{ntype: share}`` to the types it names. Default 0.0 (off); evaluation never drops.
        dropout_edges: with ``id_dropout``, a dropped node also loses its edges for that step (every relation but
            its attribute relation, ``(item, in, category)`` and reverse), so it looks to the encoder like a new
            product of a ``cold_items`` split: no id, no interactions. Applied by
            :meth:`hetrec.train.model.LinkPredictionModel.embed_full` (full-graph training; mini-batches drop the id
            only). Default ``True``.

    Shapes:
        ids: ``{ntype: [n]}`` int64 node ids; feats: ``{ntype: [n, feat_dims[ntype]]}`` (rows of those ids).
        output: ``{ntype: [n, dim]}`` for every type in ``ids``.
    """

    def __init__(
        self,
        num_nodes: Mapping[str, int],
        feat_dims: Mapping[str, int],
        dim: int,
        id_embedding: bool = True,
        init_std: float = 0.1,
        id_dropout: float | Mapping[str, float] = 0.0,
        dropout_edges: bool = True,
    ) -> None:
        super().__init__()
        if int(dim) < 1:
            raise ValueError(f"NodeInput: dim must be >= 1, got {dim}")
        unknown = sorted(set(feat_dims) - set(num_nodes))
        if unknown:
            raise ValueError(f"NodeInput: feat_dims has node type(s) {unknown} not in num_nodes {sorted(num_nodes)}")
        self.dim = int(dim)
        self.id_embedding = bool(id_embedding)
        self.num_nodes = {str(k): int(v) for k, v in num_nodes.items()}
        self.feat_dims = {str(k): int(v) for k, v in feat_dims.items() if int(v) > 0}
        self.id_dropout = self._dropout_shares(id_dropout)
        self.dropout_edges = bool(dropout_edges)
        self.embeddings = nn.ModuleDict()
        if self.id_embedding:
            for nt, n in self.num_nodes.items():
                emb = nn.Embedding(max(n, 1), self.dim)
                nn.init.normal_(emb.weight, std=float(init_std))
                self.embeddings[nt] = emb
        self.projections = nn.ModuleDict({nt: nn.Linear(d, self.dim) for nt, d in self.feat_dims.items()})
        self.type_vectors = nn.ParameterDict(
            {
                nt: nn.Parameter(torch.randn(self.dim) * float(init_std))
                for nt in self.num_nodes
                if not self.id_embedding and nt not in self.feat_dims
            }
        )

    def _dropout_shares(self, id_dropout: float | Mapping[str, float] | None) -> dict[str, float]:
        if id_dropout is None:
            return {}
        if isinstance(id_dropout, Mapping):
            shares = {str(k): v for k, v in id_dropout.items()}
            unknown = sorted(set(shares) - set(self.num_nodes))
            if unknown:
                raise ValueError(f"NodeInput: id_dropout names node type(s) {unknown} not in {sorted(self.num_nodes)} "
                                 f"(e.g. node_input.id_dropout={{item: 0.5}})")
        else:
            shares = {nt: id_dropout for nt in self.feat_dims}
        for nt, p in shares.items():
            try:
                ok = not isinstance(p, bool) and 0.0 <= float(p) < 1.0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ValueError(f"NodeInput: id_dropout of '{nt}' must be a number in [0, 1), got {p!r} "
                                 f"(e.g. node_input.id_dropout=0.5)")
        if shares and any(float(p) > 0 for p in shares.values()) and not self.id_embedding:
            raise ValueError("NodeInput: id_dropout drops id embeddings, but id_embedding is false; set "
                             "node_input.id_dropout=0.0 or node_input.id_embedding=true")
        return {nt: float(p) for nt, p in shares.items() if float(p) > 0}

    def draw_dropout(self, num_nodes: Mapping[str, int], device: torch.device | str | None = None
                     ) -> dict[str, torch.Tensor]:
        """In training, one ``id_dropout`` draw per node type: ``{ntype: bool [n]}`` (True = id dropped this step);
        ``{}`` in evaluation or without ``id_dropout``. Pass it to :meth:`forward` as ``dropped``."""
        if not self.training:
            return {}
        return {nt: torch.rand(int(num_nodes[nt]), device=device) < p for nt, p in self.id_dropout.items()
                if nt in num_nodes}

    @property
    def out_dims(self) -> dict[str, int]:
        """``{ntype: dim}``: the ``in_dims`` of the encoder that follows."""
        return {nt: self.dim for nt in self.num_nodes}

    def forward(
        self,
        ids: Mapping[str, torch.Tensor],
        feats: Mapping[str, torch.Tensor],
        untrained: Mapping[str, torch.Tensor] | None = None,
        dropped: Mapping[str, torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Input representation of the nodes ``ids[ntype]`` (``feats[ntype]`` holds their feature rows).

        ``untrained[ntype]`` (bool, one per id) marks nodes whose id embedding no training signal reaches (no edge
        in the training graph, e.g. a user whose every interaction is held out): their id part is zero instead of
        its random initial value, so such a node is represented by its features alone (or by nothing, and then an
        item-bias scorer ranks by popularity) rather than by noise. In training, ``id_dropout`` zeroes the id part
        of a random share of the nodes too (torch's global random stream, which the trainer seeds per epoch), or of
        the nodes ``dropped`` names (a :meth:`draw_dropout` the caller also used to drop their edges).
        """
        if dropped is None:
            dropped = self.draw_dropout({nt: idx.shape[0] for nt, idx in ids.items()})
        out: dict[str, torch.Tensor] = {}
        for nt, idx in ids.items():
            if nt not in self.num_nodes:
                raise KeyError(f"NodeInput: unknown node type '{nt}' (known: {sorted(self.num_nodes)})")
            parts = []
            if self.id_embedding:
                e = self.embeddings[nt](idx)
                drop = untrained[nt].to(e.device) if untrained is not None and nt in untrained else None
                if nt in dropped:
                    coin = dropped[nt].to(e.device)
                    drop = coin if drop is None else drop | coin
                if drop is not None:
                    e = e.masked_fill(drop.unsqueeze(1), 0.0)
                parts.append(e)
            if nt in self.projections:
                if nt not in feats:
                    raise KeyError(
                        f"NodeInput: node type '{nt}' was built with {self.feat_dims[nt]} features but feats has no "
                        f"'{nt}' entry; pass the feature rows of these ids"
                    )
                f = feats[nt]
                if f.dim() != 2 or f.shape[0] != idx.shape[0]:
                    raise ValueError(
                        f"NodeInput: feats['{nt}'] has shape {tuple(f.shape)}, expected [{idx.shape[0]}, "
                        f"{self.feat_dims[nt]}] (one row per id)"
                    )
                parts.append(self.embed_features(nt, f))
            if nt in self.type_vectors:
                parts.append(self.type_vectors[nt].expand(idx.shape[0], -1))
            h = parts[0]
            for p in parts[1:]:
                h = h + p
            out[nt] = h
        return out

    def embed_features(self, ntype: str, feats: torch.Tensor) -> torch.Tensor:
        """The feature path alone (``f W_t + b_t``), e.g. for a cold-start item that has no id embedding."""
        if ntype not in self.projections:
            raise KeyError(
                f"NodeInput: node type '{ntype}' has no features (types with features: {sorted(self.projections)}); "
                f"cold start needs node features for it"
            )
        if feats.dim() != 2 or feats.shape[1] != self.feat_dims[ntype]:
            raise ValueError(
                f"NodeInput: features of '{ntype}' have shape {tuple(feats.shape)}, expected [n, "
                f"{self.feat_dims[ntype]}]"
            )
        return self.projections[ntype](feats)

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, id_embedding={self.id_embedding}, feat_dims={self.feat_dims}"
                + (f", id_dropout={self.id_dropout}" if self.id_dropout else ""))
