"""hetrec: e-commerce recommendation and product association analysis with heterogeneous GNNs (DGL).

``import hetrec`` is cheap: it imports neither torch nor DGL. It only registers the GraphBolt stand-in that lets DGL
import on this torch (see :mod:`hetrec._graphbolt`), so that any ``import dgl`` after ``import hetrec`` works. Stages
import what they need (``hetrec.registry`` reads entry points only; ``hetrec.dgl`` is the public DGL entry).
"""

from __future__ import annotations

from hetrec._graphbolt import register_stub as _register_stub

_register_stub()

__version__ = "0.1.0"
