"""hetrec: e-commerce recommendation and product association analysis with heterogeneous GNNs (DGL)."""

from __future__ import annotations

from hetrec._dgl import dgl  # noqa: F401  (must run before anything else imports dgl)

__version__ = "0.1.0"
