"""The one place hetrec imports DGL (plugins use the public :mod:`hetrec.dgl`, which re-exports it).

DGL 2.1.0 cannot be imported on the torch this project pins without the GraphBolt stand-in of
:mod:`hetrec._graphbolt`, which ``import hetrec`` registers. When something imported ``dgl`` before hetrec (an
``import dgl`` sorted above ``from hetrec.dgl import ...``, a conftest, a notebook cell) the stand-in came too late:
that import fails with DGL's "No module named 'torchdata.datapipes'"; the import here then retries cleanly, and if
DGL still cannot be imported, raises an ``ImportError`` that says how to fix the import order.

It also gives the importing (main) thread the first of DGL's random-engine numbers; see the comment at the end.
"""

from __future__ import annotations

import os
import sys

from hetrec import _graphbolt

__all__ = ["dgl", "GRAPHBOLT_STUBBED"]

IMPORT_FIX = (
    "import DGL through hetrec: `from hetrec.dgl import dgl, dglnn, fn` (or `import hetrec` before anything imports "
    "dgl); with the torch hetrec pins, a plain `import dgl` that runs before hetrec fails in DGL's GraphBolt part "
    "(an import sorter may have put `import dgl` / `from dgl import nn` above the hetrec import: import from "
    "hetrec.dgl only)"
)


def _graphbolt_library_missing() -> bool:
    return _graphbolt.library_missing()


_graphbolt.register_stub()
# hetrec runs DGL on PyTorch only; naming the backend keeps DGL from printing "DGL backend not selected" and writing
# ~/.dgl/config.json on a user's first run (an explicit DGLBACKEND is left alone).
os.environ.setdefault("DGLBACKEND", "pytorch")
try:
    import dgl
except ImportError as e:
    if "torchdata" not in str(e) and "graphbolt" not in str(e).lower():
        raise
    raise ImportError(f"hetrec could not import DGL ({type(e).__name__}: {e}); {IMPORT_FIX}") from e

GRAPHBOLT_STUBBED = _graphbolt.stubbed()
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
