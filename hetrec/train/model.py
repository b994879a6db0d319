"""`LinkPredictionModel`: node inputs -> encoder -> objective's scorers, as one module (one state dict)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from hetrec._dgl import dgl
from hetrec.models.input import NodeInput
from hetrec.objectives.objective import LinkObjective

__all__ = ["LinkPredictionModel", "without_edges_of"]


def without_edges_of(graph: dgl.DGLGraph, nodes: Mapping[str, torch.Tensor]) -> dgl.DGLGraph:
    """``graph`` without the edges of the nodes ``nodes[ntype]`` (bool masks) in every relation but the attribute
    relation ``(item, in, category)`` and its reverse: what a new product of a ``cold_items`` split keeps. Same
    nodes and ids; edge data carried over."""
    from hetrec.graph.schema import IN_CATEGORY, reverse_name

    keep = {}
    for et in graph.canonical_etypes:
        s, r, d = et
        src, dst = graph.edges(etype=et)
        ok = torch.ones(src.shape[0], dtype=torch.bool, device=src.device)
        if r not in (IN_CATEGORY, reverse_name(IN_CATEGORY)):
            if s in nodes:
                ok &= ~nodes[s].to(src.device)[src]
            if d in nodes:
                ok &= ~nodes[d].to(dst.device)[dst]
        keep[et] = torch.nonzero(ok).flatten()
    return dgl.edge_subgraph(graph, keep, relabel_nodes=False, store_ids=False)


class LinkPredictionModel(nn.Module):
    """Input representations (``NodeInput``: id embeddings and/or projected features), an encoder
    (``hetrec.models.base.Encoder``) and the objective whose scorers turn embeddings into link scores.

    Args:
        node_input: module with ``forward(ids: {ntype: [n]}, feats: {ntype: [n, F]}) -> {ntype: [n, dim]}``.
        encoder: ``forward(graph_or_blocks, x) -> {ntype: [n, out_dim]}``.
        objective: the :class:`~hetrec.objectives.LinkObjective` (its scorers are parameters of this model); its
            :meth:`~hetrec.objectives.LinkObjective.augment` adds the item-bias column to the encoder's output.

    Shapes:
        embed_full: -> ``({ntype: [N_t, out_dim]}, {ntype: [N_t, dim]})`` (outputs, inputs)
    """

    def __init__(self, node_input: nn.Module, encoder: nn.Module, objective: LinkObjective) -> None:
        super().__init__()
        self.node_input = node_input
        self.encoder = encoder
        self.objective = objective

    def embed_full(
        self, graph: dgl.DGLGraph, features: Mapping[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Embed every node of ``graph``; also return the input representations (for regularisation)."""
        dev = next(self.parameters()).device
        ids = {nt: torch.arange(graph.num_nodes(nt), device=dev) for nt in graph.ntypes}
        feats = {nt: f for nt, f in features.items() if nt in ids}
        if not isinstance(self.node_input, NodeInput):  # other input modules take (ids, feats)
            x = self.node_input(ids, feats)
            return self.objective.augment(self.encoder(graph, x)), x
        # NodeInput zeroes the never-trained id embeddings of isolated nodes, and in training those of its id_dropout
        # draw, whose nodes (with dropout_edges) also lose their non-attribute edges for this step
        dropped = self.node_input.draw_dropout({nt: graph.num_nodes(nt) for nt in graph.ntypes}, dev)
        x = self.node_input(ids, feats, self._isolated(graph), dropped)
        if dropped and self.node_input.dropout_edges:
            graph = without_edges_of(graph, dropped)
        return self.objective.augment(self.encoder(graph, x)), x

    def _isolated(self, graph: dgl.DGLGraph) -> dict[str, torch.Tensor]:
        """Per node type, the nodes without any edge in ``graph`` (their id embeddings are never trained); cached
        for the last graph seen (the trainer passes the same graph every step)."""
        cache = self.__dict__.get("_isolated_cache")
        if cache is not None and cache[0] is graph:
            return cache[1]
        deg = {nt: torch.zeros(graph.num_nodes(nt), dtype=torch.long, device=graph.device) for nt in graph.ntypes}
        for s, r, d in graph.canonical_etypes:
            deg[s] += graph.out_degrees(etype=(s, r, d)).long()
            deg[d] += graph.in_degrees(etype=(s, r, d)).long()
        out = {nt: v == 0 for nt, v in deg.items() if bool((v == 0).any())}
        self.__dict__["_isolated_cache"] = (graph, out)  # plain attribute: not state, not pickled with the module
        return out

    def __getstate__(self) -> dict:
        return {k: v for k, v in super().__getstate__().items() if k != "_isolated_cache"}

    def embed_blocks(
        self, blocks: list, input_nodes: Mapping[str, torch.Tensor], features: Mapping[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Embed the seed nodes of sampled ``blocks`` (``input_nodes`` = the first block's source node ids)."""
        ids = {nt: v for nt, v in input_nodes.items()}
        feats = {nt: features[nt][ids[nt].to(features[nt].device)].to(ids[nt].device) for nt in features if nt in ids}
        x = self.node_input(ids, feats)
        h = self.encoder(blocks, x)
        dt = self.objective.target[2]
        dst_ids = blocks[-1].dstnodes[dt].data[dgl.NID] if dt in h and self.objective.item_bias is not None else None
        return self.objective.augment(h, dst_ids), x
