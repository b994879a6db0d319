"""Graph stage: schema, heterograph builder, co-bought derivation, features, leak-free splits, cache."""

from __future__ import annotations

from hetrec.graph.data import GraphData

__all__ = ["GraphData"]
