"""`LinkPredictionModel`: node inputs -> encoder -> objective's scorers, as one module (one state dict)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from hetrec._dgl import dgl
from hetrec.objectives.objective import LinkObjective

__all__ = ["LinkPredictionModel"]


class LinkPredictionModel(nn.Module):
    """Input representations (``NodeInput``: id embeddings and/or projected features), an encoder
    (``hetrec.models.base.Encoder``) and the objective whose scorers turn embeddings into link scores.

    Args:
        node_input: module with ``forward(ids: {ntype: [n]}, feats: {ntype: [n, F]}) -> {ntype: [n, dim]}``.
        encoder: ``forward(graph_or_blocks, x) -> {ntype: [n, out_dim]}``.
        objective: the :class:`~hetrec.objectives.LinkObjective` (its scorers are parameters of this model).

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
        x = self.node_input(ids, feats)
        return self.encoder(graph, x), x

    def embed_blocks(
        self, blocks: list, input_nodes: Mapping[str, torch.Tensor], features: Mapping[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Embed the seed nodes of sampled ``blocks`` (``input_nodes`` = the first block's source node ids)."""
        ids = {nt: v for nt, v in input_nodes.items()}
        feats = {nt: features[nt][ids[nt].to(features[nt].device)].to(ids[nt].device) for nt in features if nt in ids}
        x = self.node_input(ids, feats)
        return self.encoder(blocks, x), x
