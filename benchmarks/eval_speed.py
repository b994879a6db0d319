"""Full-ranking evaluation speed on Gowalla (LightGCN split): 29,858 users x 40,981 items, K in {10, 20}.

Scores are dot products of fixed-seed random 64-d embeddings (speed does not depend on their quality). Reads
HETREC_DATA/gowalla-lightgcn directly (no graph build, so the figure is the evaluator's own cost).

    HETREC_DATA=/work/shared/datasets .venv/bin/python benchmarks/eval_speed.py [--memory-budget-mb 512] [--repeat 3]

Last line: {"seconds": best evaluation wall time, "peak_rss_gb": ..., ...}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from hetrec.data.datasets.lightgcn import parse_user_items
from hetrec.evaluate.ranking import evaluate_embeddings
from hetrec.evaluate.runner import hardware, peak_rss_gb


def read(path: Path) -> tuple[np.ndarray, np.ndarray]:
    _, u, i = parse_user_items(path.read_bytes(), path)
    return u, i


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="gowalla-lightgcn")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--memory-budget-mb", type=float, default=1024.0)
    ap.add_argument("--repeat", type=int, default=3, help="runs; the best is reported (the machine is shared)")
    args = ap.parse_args()
    root = os.environ.get("HETREC_DATA")
    if not root:
        sys.exit("set HETREC_DATA to the datasets folder, e.g. HETREC_DATA=/work/shared/datasets")
    folder = Path(root) / args.dataset
    tu, ti = read(folder / "train.txt")
    eu, ei = read(folder / "test.txt")
    nu = int(max(tu.max(), eu.max())) + 1
    ni = int(max(ti.max(), ei.max())) + 1
    train = sp.csr_matrix((np.ones(len(tu), np.float32), (tu, ti)), shape=(nu, ni))
    test = sp.csr_matrix((np.ones(len(eu), np.float32), (eu, ei)), shape=(nu, ni))
    g = torch.Generator().manual_seed(0)
    ue = torch.randn(nu, args.dim, generator=g)
    ie = torch.randn(ni, args.dim, generator=g)
    times, cpu, metrics = [], [], {}
    for _ in range(args.repeat):
        t = time.perf_counter()
        c = os.times()
        metrics = evaluate_embeddings(ue, ie, test, train, ks=(10, 20), memory_budget_mb=args.memory_budget_mb)
        times.append(time.perf_counter() - t)
        c2 = os.times()
        cpu.append(c2.user + c2.system - c.user - c.system)
        print(f"evaluated {int(metrics['num_users'])} users x {ni} items in {times[-1]:.2f} s", flush=True)
    out = {
        "dataset": args.dataset,
        "users": int(metrics["num_users"]),
        "items": ni,
        "dim": args.dim,
        "ks": [10, 20],
        "memory_budget_mb": args.memory_budget_mb,
        "seconds": round(min(times), 3),
        "seconds_all": [round(x, 3) for x in times],
        # CPU seconds of the fastest run: on a machine shared with other jobs, cpu / threads bounds the unloaded
        # wall time from below
        "cpu_seconds": round(cpu[times.index(min(times))], 3),
        "peak_rss_gb": round(peak_rss_gb(), 3),
        "recall@20_random": round(metrics["recall@20"], 6),
        "torch_threads": torch.get_num_threads(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "hardware": hardware(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
