"""The one place hetrec imports DGL.

``dgl/__init__.py`` imports ``dgl.graphbolt`` unconditionally, and ``dgl.graphbolt`` loads a C++ library
(``libgraphbolt_pytorch_<torch version>.so``) that DGL 2.1.0 ships only for torch 2.0-2.2; it also needs the old
``torchdata.datapipes`` API. With the torch this project pins (2.13), ``import dgl`` would therefore fail although
DGL's core (heterographs, message passing, ``dgl.nn``, ``dgl.dataloading``, ``dgl.sampling``) works. hetrec does not
use GraphBolt, so only when the GraphBolt library for the running torch is missing we register an empty
``dgl.graphbolt`` module before importing DGL. With a DGL/torch pair that has GraphBolt, nothing is patched.

Everything in hetrec and its plugins does ``from hetrec._dgl import dgl`` (or imports ``hetrec`` first).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types

import torch

__all__ = ["dgl", "GRAPHBOLT_STUBBED"]


def _graphbolt_library_missing() -> bool:
    spec = importlib.util.find_spec("dgl")
    if spec is None or not spec.submodule_search_locations:
        return False  # let the real import raise its own error
    pkg_dir = list(spec.submodule_search_locations)[0]
    version = torch.__version__.split("+", maxsplit=1)[0]
    lib = os.path.join(pkg_dir, "graphbolt", f"libgraphbolt_pytorch_{version}.so")
    return not os.path.exists(lib)


GRAPHBOLT_STUBBED = False
if "dgl" not in sys.modules and _graphbolt_library_missing():
    _stub = types.ModuleType("dgl.graphbolt")
    _stub.__doc__ = "Empty stand-in registered by hetrec._dgl: GraphBolt has no build for this torch."
    sys.modules["dgl.graphbolt"] = _stub
    GRAPHBOLT_STUBBED = True

import dgl  # noqa: E402

if GRAPHBOLT_STUBBED:
    dgl.graphbolt = sys.modules["dgl.graphbolt"]
