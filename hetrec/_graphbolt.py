"""The GraphBolt stand-in, registered without importing torch or DGL (so that ``import hetrec`` stays cheap).

``dgl/__init__.py`` imports ``dgl.graphbolt`` unconditionally, and ``dgl.graphbolt`` loads a C++ library
(``libgraphbolt_pytorch_<torch version>.so``) that DGL 2.1.0 ships only for torch 2.0-2.2; it also needs the old
``torchdata.datapipes`` API. With the torch this project pins (2.13), ``import dgl`` would therefore fail although
DGL's core (heterographs, message passing, ``dgl.nn``, ``dgl.dataloading``, ``dgl.sampling``) works. hetrec does not
use GraphBolt, so only when the GraphBolt library for the installed torch is missing an empty ``dgl.graphbolt``
module is registered before DGL is first imported. With a DGL/torch pair that has GraphBolt, nothing is patched.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys
import types

__all__ = ["register_stub", "library_missing", "stubbed"]


def _torch_version() -> str | None:
    torch = sys.modules.get("torch")
    version = getattr(torch, "__version__", None)
    if version is None:
        try:
            version = importlib.metadata.version("torch")
        except importlib.metadata.PackageNotFoundError:
            return None
    return str(version).split("+", maxsplit=1)[0]


def library_missing() -> bool:
    """``True`` when DGL is installed but has no GraphBolt library for the installed torch."""
    try:
        spec = importlib.util.find_spec("dgl")
    except (ImportError, ValueError):
        return False
    version = _torch_version()
    if spec is None or not spec.submodule_search_locations or version is None:
        return False  # let the real import raise its own error
    pkg_dir = list(spec.submodule_search_locations)[0]
    return not os.path.exists(os.path.join(pkg_dir, "graphbolt", f"libgraphbolt_pytorch_{version}.so"))


def stubbed() -> bool:
    """Whether the stand-in is (still) the registered ``dgl.graphbolt``."""
    return getattr(sys.modules.get("dgl.graphbolt"), "_hetrec_stub", False)


def register_stub() -> bool:
    """Register the empty ``dgl.graphbolt`` if DGL is not imported yet and needs it; return whether it is in place.

    An earlier ``import dgl`` that failed (without the stand-in) leaves DGL's already imported submodules behind;
    they are dropped here so that the next ``import dgl`` starts clean.
    """
    if stubbed():
        return True
    if "dgl" in sys.modules or not library_missing():
        return False
    for name in [m for m in sys.modules if m.startswith("dgl.")]:
        del sys.modules[name]
    stub = types.ModuleType("dgl.graphbolt")
    stub.__doc__ = "Empty stand-in registered by hetrec: GraphBolt has no build for this torch."
    stub._hetrec_stub = True  # type: ignore[attr-defined]
    # DGL's distributed server tests ``isinstance(g, dgl.graphbolt.FusedCSCSamplingGraph)`` when it loads a
    # partition (dgl/distributed/dist_graph.py, _format_partition): without the name the server dies with an
    # AttributeError. No object is ever an instance of this placeholder, so the server takes its DGLGraph path.
    stub.FusedCSCSamplingGraph = type("FusedCSCSamplingGraph", (), {"__doc__": "GraphBolt placeholder (hetrec)."})
    sys.modules["dgl.graphbolt"] = stub
    return True
