"""The one place hetrec imports DGL.

``dgl/__init__.py`` imports ``dgl.graphbolt`` unconditionally, and ``dgl.graphbolt`` loads a C++ library
(``libgraphbolt_pytorch_<torch version>.so``) that DGL 2.1.0 ships only for torch 2.0-2.2; it also needs the old
``torchdata.datapipes`` API. With the torch this project pins (2.13), ``import dgl`` would therefore fail although
DGL's core (heterographs, message passing, ``dgl.nn``, ``dgl.dataloading``, ``dgl.sampling``) works. hetrec does not
use GraphBolt, so only when the GraphBolt library for the running torch is missing we register an empty
``dgl.graphbolt`` module before importing DGL. With a DGL/torch pair that has GraphBolt, nothing is patched.

Everything in hetrec and its plugins does ``from hetrec._dgl import dgl`` (or imports ``hetrec`` first).

It also gives the importing (main) thread the first of DGL's random-engine numbers; see the comment at the end.
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

# DGL seeds each thread's random engine with ``seed + thread number`` (include/dgl/random.h), numbers threads in the
# order they first seed or create their engine, and ``dgl.seed`` seeds them from all OpenMP threads at once: which
# number the main thread gets is a race, so ``dgl.seed(s)`` seeded the main thread's neighbour sampler with s or s + 1
# from run to run (a 5-epoch GraphSAGE on Gowalla gave test Recall@20 0.09531 or 0.09527 for the same command).
# Seeding once here on one thread makes the importing thread number 0, so seeded sampling on it is reproducible; the
# seed itself is fresh entropy, as DGL's own default is, until the caller seeds.
def _number_this_thread_first() -> None:
    threads = dgl.utils.get_num_threads()
    dgl.utils.set_num_threads(1)
    try:
        dgl.seed(int.from_bytes(os.urandom(4), "little") >> 1)
    finally:
        dgl.utils.set_num_threads(threads)


_number_this_thread_first()
