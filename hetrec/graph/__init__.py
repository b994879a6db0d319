"""Graph stage: schema, heterograph builder, co-bought derivation, features, leak-free splits, cache."""

from __future__ import annotations

from hetrec.graph.builder import GraphBuilder
from hetrec.graph.cache import load_or_build
from hetrec.graph.data import GraphData
from hetrec.graph.features import NodeFeatureEncoder
from hetrec.graph.schema import GraphSchema

__all__ = ["GraphBuilder", "GraphData", "GraphSchema", "NodeFeatureEncoder", "load_or_build"]
