"""The public DGL entry for plugins and scripts: ``from hetrec.dgl import dgl, dglnn, fn``.

DGL 2.1.0 needs a GraphBolt stand-in to import on the torch hetrec pins (see :mod:`hetrec._graphbolt`); importing
DGL from here guarantees it is in place, whatever order the imports of a module end up in. Everything a plugin
usually needs is re-exported, so a plugin need not write ``import dgl`` at all (an import sorter would put that line
above the hetrec import):

- ``dgl``: the ``dgl`` package itself (``dgl.heterograph``, ``dgl.dataloading``, ``dgl.NID``, ...);
- ``dglnn``: ``dgl.nn`` (PyTorch modules: ``GATConv``, ``SAGEConv``, ``GraphConv``, ``HeteroGraphConv``, ...);
- ``fn``: ``dgl.function`` (message and reduce functions: ``fn.copy_u``, ``fn.sum``, ...);
- ``ops``: ``dgl.ops`` (``edge_softmax``, ``gspmm``, ...).
"""

from __future__ import annotations

from hetrec._dgl import GRAPHBOLT_STUBBED, dgl

dglnn = dgl.nn
fn = dgl.function
ops = dgl.ops

__all__ = ["dgl", "dglnn", "fn", "ops", "GRAPHBOLT_STUBBED"]
