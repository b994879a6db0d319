"""pytest plugin (entry point ``pytest11``): registers hetrec's GraphBolt stand-in when pytest starts.

A plugin's test module may then ``import dgl`` before anything of hetrec, in whatever order an import sorter puts
the lines. Costs a few milliseconds: neither torch nor DGL is imported here.
"""

from __future__ import annotations

import hetrec  # noqa: F401  (registers the stand-in; see hetrec._graphbolt)
