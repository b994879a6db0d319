"""`LinkPredictionModel`: node inputs -> encoder -> objective's scorers, as one module (one state dict)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from hetrec._dgl import dgl
from hetrec.models.input import NodeInput
from hetrec.objectives.objective import LinkObjective

__all__ = ["LinkPredictionModel"]


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
        # NodeInput zeroes the never-trained id embeddings of isolated nodes; other input modules take (ids, feats)
        x = (self.node_input(ids, feats, self._isolated(graph)) if isinstance(self.node_input, NodeInput)
             else self.node_input(ids, feats))
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
