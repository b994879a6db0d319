"""A DGL graph server process (``DGL_ROLE=server``): ``python -m hetrec.dist.server``, started by
:mod:`hetrec.dist.launch` with DGL's environment variables. ``dgl.distributed.initialize`` serves the partition of
``DGL_CONF_PATH`` for ``DGL_SERVER_ID`` and returns only when every trainer has left."""

from __future__ import annotations

import os
import sys


def main() -> int:
    from hetrec._dgl import dgl  # the GraphBolt stand-in first

    missing = [k for k in ("DGL_SERVER_ID", "DGL_IP_CONFIG", "DGL_NUM_SERVER", "DGL_NUM_CLIENT", "DGL_CONF_PATH")
               if k not in os.environ]
    if os.environ.get("DGL_ROLE") != "server" or missing:
        print(f"hetrec.dist.server: DGL_ROLE=server and {missing} must be set; start servers with hetrec-dist launch",
              file=sys.stderr)
        return 2
    import atexit

    atexit.register(_report_peak)  # DGL's server leaves through sys.exit() once every trainer has left
    dgl.distributed.initialize(os.environ["DGL_IP_CONFIG"])
    return 0


def _report_peak() -> None:
    """The server's peak memory: its part's graph and features, and the DistEmbedding tables (with their optimizer
    state) it held, in its log (benchmarks/scale.py reads it)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    print(f"hetrec.dist.server: server {os.environ.get('DGL_SERVER_ID')} done, peak RSS {peak:.3f} GB", flush=True)


if __name__ == "__main__":
    sys.exit(main())
