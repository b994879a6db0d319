"""Graph-build benchmark: a 1,000,000-interaction synthetic shop log with baskets -> heterograph (incl. co_bought).

Also builds a basket-heavy log (every row a purchase in a basket of 1-8 Zipf items, made inline with numpy) that
stresses the co-occurrence step. Prints wall time and peak RSS of each build (target on the 2-core dev machine:
<= 15 s and <= 3 GB), then, when ``HETREC_DATA`` points at the shared datasets, builds MovieLens-100k (u1 split) and
the Gowalla LightGCN split and prints node/edge counts per type. The last line is one JSON object with every figure.

Usage:
    HETREC_DATA=/work/shared/datasets .venv/bin/python benchmarks/graph_build.py [--interactions 1000000]
        [--users 100000] [--items 30000] [--skip-real]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

from hetrec.graph.builder import GraphBuilder


def peak_rss_gb() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1 << 30) if sys.platform == "darwin" else r / (1 << 20)


def current_rss_gb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / (1 << 30)
    except ImportError:  # pragma: no cover
        return float("nan")


def counts(gd) -> dict[str, object]:
    g = gd.graph
    return {
        "nodes": {nt: int(g.num_nodes(nt)) for nt in g.ntypes},
        "edges": {",".join(et): int(g.num_edges(et)) for et in g.canonical_etypes},
        "splits": {s: int(len(gd.splits[s][0])) for s in ("train", "valid", "test")},
        "split_hash": gd.split_hash,
        "feature_dims": {k: int(v.shape[1]) for k, v in gd.features.items()},
    }


def synthetic(args: argparse.Namespace) -> dict[str, object]:
    from hetrec.data.datasets import SyntheticShop

    t0 = time.perf_counter()
    shop = SyntheticShop(
        num_users=args.users, num_items=args.items, num_interactions=args.interactions, num_pairs=args.items // 10,
        seed=0,
    ).load()
    gen_s = time.perf_counter() - t0
    rss_before = peak_rss_gb()
    n_baskets = int((shop.interactions["basket"] >= 0).sum())
    # warm imports (sklearn) outside the timed build would flatter it; keep them inside, like a first real run
    t1 = time.perf_counter()
    gd = GraphBuilder(target="clicks", split={"strategy": "random", "seed": 0}).build(shop)
    build_s = time.perf_counter() - t1
    out = {
        "interactions": int(len(shop.interactions)),
        "basket_rows": n_baskets,
        "train_baskets": int(gd.train_baskets.shape[0]) if gd.train_baskets is not None else 0,
        "generate_seconds": round(gen_s, 2),
        "build_seconds": round(build_s, 2),
        "stage_seconds": gd.info["seconds"],
        "peak_rss_gb_after_generate": round(rss_before, 3),
        "peak_rss_gb": round(peak_rss_gb(), 3),
        **counts(gd),
    }
    print(f"synthetic: {out['interactions']:,} interactions, {out['train_baskets']:,} training baskets")
    print(f"  generate {gen_s:.2f} s; build {build_s:.2f} s (stages {gd.info['seconds']}); "
          f"peak RSS {out['peak_rss_gb']:.2f} GB (after generate {rss_before:.2f} GB)")
    _print_counts(out)
    del gd, shop
    gc.collect()
    return out


def basket_heavy(args: argparse.Namespace) -> dict[str, object]:
    """Stress case for co_bought: every row is a purchase in a basket of 1-8 Zipf-popular items (numpy, inline)."""
    import numpy as np
    import pandas as pd

    from hetrec.data.idmap import IdMap
    from hetrec.data.shop import ShopData

    rng = np.random.default_rng(1)
    N, U, I = args.interactions, args.users, args.items
    sizes = rng.integers(1, 9, N // 4 + 8)
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), N)) + 1]
    basket = np.repeat(np.arange(len(sizes)), sizes)[:N]
    pop = 1.0 / np.arange(1, I + 1) ** 1.0
    item = rng.permutation(I)[np.minimum(np.searchsorted(np.cumsum(pop) / pop.sum(), rng.random(N)), I - 1)]
    user = rng.integers(0, U, len(sizes))[basket]
    ts = (1_700_000_000 + basket * 37).astype(np.int64)
    df = pd.DataFrame({"user": user.astype(np.int64), "item": item.astype(np.int64), "event": "purchases",
                       "timestamp": ts, "basket": basket.astype(np.int64), "weight": np.ones(N, np.float32)})
    shop = ShopData("basket_heavy", df, IdMap(np.arange(U), "user"), IdMap(np.arange(I), "item")).check()
    t0 = time.perf_counter()
    gd = GraphBuilder(target="purchases", split={"strategy": "random", "seed": 0}).build(shop)
    build_s = time.perf_counter() - t0
    out = {"interactions": N, "baskets": int(len(sizes)),
           "train_baskets": int(gd.train_baskets.shape[0]), "build_seconds": round(build_s, 2),
           "stage_seconds": gd.info["seconds"], "peak_rss_gb": round(peak_rss_gb(), 3), **counts(gd)}
    print(f"basket-heavy: {N:,} purchases in {len(sizes):,} baskets of 1-8 Zipf items; build {build_s:.2f} s "
          f"(stages {gd.info['seconds']}); peak RSS {out['peak_rss_gb']:.2f} GB")
    _print_counts(out)
    del gd, shop, df
    gc.collect()
    return out


def _print_counts(out: dict[str, object]) -> None:
    print("  nodes: " + ", ".join(f"{k}={v:,}" for k, v in out["nodes"].items()))  # type: ignore[union-attr]
    for et, n in out["edges"].items():  # type: ignore[union-attr]
        print(f"  edges ({et}): {n:,}")
    print(f"  split pairs: {out['splits']} (hash {out['split_hash']}); feature dims {out['feature_dims']}")


def real(name: str, make) -> dict[str, object] | None:
    try:
        ds = make()
    except Exception as e:
        print(f"{name}: skipped ({type(e).__name__}: {e})")
        return None
    t0 = time.perf_counter()
    try:
        shop = ds.load()
    except FileNotFoundError as e:
        print(f"{name}: skipped ({e})")
        return None
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    gd = GraphBuilder(target=ds.target, split={"seed": 0}).build(shop)
    build_s = time.perf_counter() - t1
    out = {"interactions": int(len(shop.interactions)), "load_seconds": round(load_s, 2),
           "build_seconds": round(build_s, 2), "split_strategy": gd.info["split"]["strategy"], **counts(gd)}
    print(f"{name}: {out['interactions']:,} interactions; load {load_s:.2f} s, build {build_s:.2f} s, "
          f"split {out['split_strategy']}")
    _print_counts(out)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--interactions", type=int, default=1_000_000)
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--items", type=int, default=30_000)
    p.add_argument("--skip-real", action="store_true", help="only the synthetic build")
    args = p.parse_args()
    result: dict[str, object] = {
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
        "python": platform.python_version(),
    }
    syn = synthetic(args)
    heavy = basket_heavy(args)
    worst = max(syn["build_seconds"], heavy["build_seconds"])  # type: ignore[type-var]
    result.update(
        seconds=syn["build_seconds"], peak_rss_gb=heavy["peak_rss_gb"], interactions=syn["interactions"],
        basket_heavy_seconds=heavy["build_seconds"], target_seconds=15.0, target_peak_rss_gb=3.0,
        within_target=bool(worst <= 15.0 and heavy["peak_rss_gb"] <= 3.0), synthetic=syn, basket_heavy=heavy,
    )
    data = os.environ.get("HETREC_DATA")
    if not args.skip_real:
        if not data or not Path(data).is_dir():
            print("real datasets: skipped (set HETREC_DATA to the shared datasets folder)")
        else:
            from hetrec.data.datasets import LightGCNText, MovieLens100K

            result["ml100k"] = real("ml100k (u1)", lambda: MovieLens100K(root=data, split="u1"))
            result["gowalla"] = real("gowalla-lightgcn", lambda: LightGCNText(root=data, name="gowalla-lightgcn"))
            result["peak_rss_gb_all"] = round(peak_rss_gb(), 3)
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
