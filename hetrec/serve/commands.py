"""The serving subcommands of ``hetrec``: recommend, similar, associations, profile, cold-start, serve.

Each prints a human-readable table by default and the JSON answer of :class:`~hetrec.serve.model.ServingModel` with
``--json``. An unknown id or a bad argument prints ``error: ...`` naming it and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import textwrap
from typing import Any

__all__ = ["add_commands", "format_table"]


def _int_at_least(name: str, low: int):
    """argparse type: an integer >= ``low``, else a usage error naming the option."""
    def parse(value: str) -> int:
        try:
            v = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {value!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"{name} must be >= {low}, got {v}")
        return v

    return parse


_k = _int_at_least("k", 0)


def _common(p: argparse.ArgumentParser, k: bool = True) -> None:
    p.add_argument("--run", required=True, help="run folder of hetrec-train (or its artifact/ folder)")
    if k:
        p.add_argument("-k", type=_k, default=10, help="number of results (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--index", default="auto", choices=["auto", "exact", "hnsw", "ivf"],
                   help="retrieval index (default auto: exact below 50,000 items, IVF above)")


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--category", help="only items of this category (or its sub-categories)")
    p.add_argument("--in-stock", help="comma-separated raw item ids that may be returned")


def _split(v: str | None) -> list[str] | None:
    return None if v is None else [x.strip() for x in v.split(",") if x.strip()]


def format_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain-text table of ``rows`` (the last column wraps to the terminal width)."""
    if not rows:
        return "(no results)"
    cells = [[("" if r.get(c) is None else (f"{r[c]:.4f}" if isinstance(r.get(c), float) else str(r[c])))
              for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[j]) for row in cells)) for j, c in enumerate(columns)]
    term = shutil.get_terminal_size((160, 24)).columns
    fixed = sum(widths[:-1]) + 2 * (len(columns) - 1)
    last = max(30, term - fixed - 1)
    widths[-1] = min(widths[-1], last)
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)), "  ".join("-" * w for w in widths)]
    for row in cells:
        wrapped = textwrap.wrap(row[-1], widths[-1]) or [""]
        lines.append("  ".join(v.ljust(w) for v, w in zip(row[:-1] + [wrapped[0]], widths)))
        for extra in wrapped[1:]:
            lines.append(" " * fixed + extra)
    return "\n".join(lines)


def _load(args: argparse.Namespace):
    from hetrec.serve.model import ServingModel

    return ServingModel.load(args.run, index=args.index)


def _emit(args: argparse.Namespace, result: dict, header: str, rows: list[dict], columns: list[str]) -> None:
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(header)
    print(format_table(rows, columns))


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--port must be an integer, got {value!r}") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"--port must lie in 1..65535, got {port} (e.g. --port 8000)")
    return port


def _guard(fn):
    def run(args: argparse.Namespace) -> int:
        from hetrec.errors import HetrecError, debug_enabled

        try:
            return fn(args) or 0
        except (HetrecError, ValueError, FileNotFoundError) as e:
            if debug_enabled():
                raise
            print(f"error: {e}", file=sys.stderr)
            return 2

    run.__name__ = fn.__name__
    return run


@_guard
def _recommend(args: argparse.Namespace) -> int:
    if (args.user is None) == (args.history is None):
        raise ValueError("give exactly one of --user RAW_ID or --history ITEM,ITEM (empty: --history '')")
    m = _load(args)
    res = m.recommend(user=args.user, history=_split(args.history), k=args.k, category=args.category,
                      allowed_items=_split(args.in_stock))
    who = f"user {args.user}" if args.user is not None else f"history [{', '.join(res['history'])}]"
    note = " (unknown user or empty history: popular items)" if res["fallback"] else ""
    _emit(args, res, f"top {len(res['items'])} for {who}{note}", res["items"],
          ["rank", "item", "score", "category", "reason"])
    return 0


@_guard
def _similar(args: argparse.Namespace) -> int:
    m = _load(args)
    res = m.similar(args.item, k=args.k, category=args.category, allowed_items=_split(args.in_stock))
    _emit(args, res, f"items similar to {args.item}", res["items"], ["rank", "item", "score", "category", "reason"])
    return 0


@_guard
def _associations(args: argparse.Namespace) -> int:
    if args.item is None and args.report is None:
        raise ValueError("give --item RAW_ID, --report out.html, or both")
    m = _load(args)
    if args.report is not None:
        from hetrec.serve.report import write_association_report

        path = write_association_report(m, args.report, item=args.item, k=args.k)
        print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    if args.item is not None:
        res = m.associations(args.item, k=args.k, alpha=args.alpha, category=args.category,
                             allowed_items=_split(args.in_stock))
        rows = [{**r, "co_bought": r["evidence"]["co_bought_count"], "lift": r["evidence"]["lift"]}
                for r in res["items"]]
        _emit(args, res, f"cross-sell candidates for {args.item} (alpha {res['alpha']})", rows,
              ["rank", "item", "score", "co_bought", "lift", "reason"])
    return 0


@_guard
def _profile(args: argparse.Namespace) -> int:
    m = _load(args)
    res = m.profile(args.user, top=args.top)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"user {res['user']}: {res['history_size']} items in history")
    print("\ntop categories")
    print(format_table(res["top_categories"], ["category", "count", "share"]))
    for col, v in res["attributes"].items():
        if isinstance(v, dict):
            print(f"\n{col}: " + ", ".join(f"{a} {b}" for a, b in v.items()))
        else:
            print(f"\n{col}: " + ", ".join(f"{x['value']} ({x['count']})" for x in v))
    print("\ninterest clusters")
    rows = [{**c, "items": ", ".join(c["items"]), "suggestions": ", ".join(c["suggestions"])} for c in res["clusters"]]
    near = ["nearest_category"] if any("nearest_category" in c for c in rows) else []
    print(format_table(rows, ["size", "label", *near, "items", "suggestions"]))
    return 0


@_guard
def _cold_start(args: argparse.Namespace) -> int:
    try:
        attrs = json.loads(args.attrs)
    except json.JSONDecodeError as e:
        raise ValueError(f"--attrs must be a JSON object, e.g. '{{\"category\": \"Food\"}}': {e}") from None
    m = _load(args)
    res = m.cold_start(attrs, k=args.k)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"new product {json.dumps(res['attributes'])} embedded by {res['method']} ({res['method_note']})")
    print("\nsimilar items")
    print(format_table(res["similar"], ["rank", "item", "score", "category", "reason"]))
    print("\nusers to promote it to")
    print(format_table(res["users"], ["rank", "user", "score", "reason"]))
    return 0


@_guard
def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from hetrec.serve.api import (
        ENV_BACKGROUND,
        ENV_INDEX,
        ENV_LIMITS,
        ENV_OPTIONS,
        ENV_RUN,
        ENV_TABLE_K,
        ENV_THREADS,
        Limits,
        create_app,
        set_threads,
    )
    from hetrec.serve.model import resolve_artifact_dir

    opts = {k: v for k, v in (("ef_search", args.ef_search), ("nprobe", args.nprobe)) if v is not None}
    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    if args.table_k < 0:
        raise ValueError(f"--table-k must be >= 0 (0: no precomputed table), got {args.table_k}")
    limits = Limits(max_k=args.max_k, max_body=args.max_body, max_history=args.max_history)
    resolve_artifact_dir(args.run)  # fail now, with the reason, rather than in every worker
    url = f"http://{args.host}:{args.port}"
    set_threads(args.threads)
    if args.workers == 1:
        app = create_app(args.run, limits=limits, background=args.background_load, index=args.index,
                         index_options=opts, table_k=args.table_k)
        print(f"hetrec serving {args.run} on {url} (docs: {url}/docs)", flush=True)
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=args.access_log)
        return 0
    # several processes: build (or read) the indexes, derived vectors and top-K table into the artifact's
    # index_cache/ once, in a child process (so this parent stays small; a damaged artifact fails now, with its
    # message); each worker then maps them read-only
    import multiprocessing

    child = multiprocessing.get_context("spawn").Process(
        target=_prebuild, args=(str(args.run), args.index, opts, args.table_k, args.threads), name="hetrec-prebuild")
    child.start()
    child.join()
    if child.exitcode != 0:
        print(f"error: loading {args.run} failed (exit status {child.exitcode}); see the message above",
              file=sys.stderr)
        return 2
    os.environ.update({ENV_RUN: str(args.run), ENV_INDEX: args.index, ENV_OPTIONS: json.dumps(opts),
                       ENV_THREADS: str(args.threads), ENV_LIMITS: json.dumps(limits.__dict__),
                       ENV_TABLE_K: str(args.table_k), ENV_BACKGROUND: "1" if args.background_load else "0"})
    print(f"hetrec serving {args.run} on {url} with {args.workers} workers (docs: {url}/docs)", flush=True)
    uvicorn.run("hetrec.serve.api:app_from_env", factory=True, workers=args.workers, host=args.host, port=args.port,
                log_level=args.log_level, access_log=args.access_log)
    return 0


def _prebuild(run: str, index: str, opts: dict, table_k: int, threads: int) -> None:
    """Child process of ``hetrec serve --workers N``: fill the artifact's index_cache/ (exit status 2 on bad input)."""
    from hetrec.serve.api import set_threads
    from hetrec.serve.model import ServingModel

    set_threads(max(threads, os.cpu_count() or 1))
    def build(_: argparse.Namespace) -> int:
        ServingModel.load(run, index=index, index_options=opts, table_k=table_k).warm_up()
        return 0

    sys.exit(_guard(build)(argparse.Namespace()))


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``recommend``, ``similar``, ``associations``, ``profile``, ``cold-start`` and ``serve`` to ``hetrec``."""
    p = sub.add_parser("recommend", help="top-k items for a user (or a visitor's history), with reasons")
    _common(p)
    p.add_argument("--user", help="raw user id (unknown users get popular items)")
    p.add_argument("--history", help="comma-separated raw item ids of a visitor not in the graph")
    _filters(p)
    p.set_defaults(func=_recommend)

    p = sub.add_parser("similar", help="items most similar to an item")
    _common(p)
    p.add_argument("--item", required=True, help="raw item id")
    _filters(p)
    p.set_defaults(func=_similar)

    p = sub.add_parser("associations", help="cross-sell / bundle candidates with co-purchase evidence; HTML report")
    _common(p)
    p.add_argument("--item", help="raw item id")
    p.add_argument("--alpha", type=float, default=None, help="weight of co-purchase evidence in [0, 1] (default 0.5)")
    p.add_argument("--report", help="write a self-contained HTML association report to this file")
    _filters(p)
    p.set_defaults(func=_associations)

    p = sub.add_parser("profile", help="a user's top categories, attributes and interest clusters")
    _common(p, k=False)
    p.add_argument("--user", required=True, help="raw user id")
    p.add_argument("--top", type=int, default=5, help="categories / attribute values shown (default 5)")
    p.set_defaults(func=_profile)

    p = sub.add_parser("cold-start", help="a new product from its attributes: similar items and users to promote to")
    _common(p)
    p.add_argument("--attrs", required=True, help='item attributes as JSON, e.g. \'{"category": "Food", "price": 2}\'')
    p.set_defaults(func=_cold_start)

    p = sub.add_parser("serve", help="HTTP API (FastAPI + uvicorn) over a run's artifact")
    p.add_argument("--run", required=True, help="run folder of hetrec-train (or its artifact/ folder)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    p.add_argument("--index", default="auto", choices=["auto", "exact", "hnsw", "ivf"], help="retrieval index")
    p.add_argument("--ef-search", type=int, default=None, help="HNSW search candidate list (default 128)")
    p.add_argument("--nprobe", type=int, default=None, help="IVF cells visited per query (default 32)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="server processes (default 2, 1 on a one-core machine: on 2 cores two workers served "
                        "more requests/s than one, benchmarks/results/serve.md); they share the memory-mapped "
                        "embeddings, vectors and top-K table of the artifact's index_cache/")
    p.add_argument("--table-k", type=int, default=50,
                   help="precomputed top-K of every known user, built at start-up (users x K x 8 bytes); requests "
                        "with k <= K and no filter are answered from it. 0: none (default 50)")
    p.add_argument("--background-load", action="store_true",
                   help="accept connections at once and load in the background: /health answers during the load, "
                        "/ready and the endpoints answer 503 until it is done (default: load first; a bad artifact "
                        "then exits with its message before the port opens)")
    p.add_argument("--max-k", type=_int_at_least("--max-k", 1), default=1000,
                   help="largest k of a request (default 1000)")
    p.add_argument("--max-body", type=_int_at_least("--max-body", 1), default=1 << 20,
                   help="largest request body in bytes, 413 above (default 1048576)")
    p.add_argument("--max-history", type=_int_at_least("--max-history", 1), default=200,
                   help="most item ids in /recommend?history= (default 200)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch/faiss threads per process (default 1: requests are single queries, and idle OpenMP "
                        "threads spinning between them only steal CPU)")
    p.add_argument("--log-level", default="warning", help="uvicorn log level (default warning)")
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.set_defaults(func=_serve)
