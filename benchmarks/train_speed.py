"""Training speed on Gowalla (LightGCN split): mini-batch GraphSAGE positive edges/s, LightGCN full-graph epoch time.

    HETREC_DATA=/work/shared/datasets .venv/bin/python benchmarks/train_speed.py [--batches 40] [--sage-batch 4096]
        [--fanouts 10,5] [--lightgcn-epochs 1]

Mini-batch: the first ``--batches`` batches of an epoch of the trainer's neighbour-sampled mode (DGL NeighborSampler
+ edge-prediction sampler excluding seed edges and their reverses, BPR with 1 uniform negative, exclude_positives),
positive edges per second over sampling + forward + backward + step. Full-graph: one LightGCN epoch of the trainer's
full mode (one propagation over the whole training graph per step of ``train.batch_size`` positives), compared with
PyTorch Geometric's 118 s/epoch measured on this machine (PEERS.md). The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import psutil
import torch
from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]
PYG_EPOCH_SECONDS = 118.0


class _Stop(Exception):
    pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="gowalla-lightgcn")
    ap.add_argument("--batches", type=int, default=40, help="mini-batches timed (after 3 warm-up batches)")
    ap.add_argument("--sage-batch", type=int, default=4096)
    ap.add_argument("--fanouts", default="10,5")
    ap.add_argument("--lightgcn-batch", type=int, default=8192)
    ap.add_argument("--lightgcn-epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None, help="torch/DGL threads (default: all cores)")
    args = ap.parse_args()
    if not os.environ.get("HETREC_DATA"):
        sys.exit("set HETREC_DATA to the datasets folder (e.g. HETREC_DATA=/work/shared/datasets)")
    from hetrec.registry import register_configs
    from hetrec.train import app
    from hetrec.train.trainer import Trainer, seed_everything

    register_configs()
    threads = args.threads or os.cpu_count()
    fanouts = [int(f) for f in args.fanouts.split(",")]
    base = [f"dataset=lightgcn", f"dataset.name={args.dataset}", "train.progress=false", f"train.num_threads={threads}"]
    with initialize_config_dir(config_dir=app.CONF_DIR, version_base="1.3"):
        cfg_sage = compose("config", overrides=base + [
            "encoder=sage", f"encoder.num_layers={len(fanouts)}", "train=minibatch",
            f"train.batch_size={args.sage_batch}", f"train.fanouts=[{args.fanouts}]"])
        cfg_lgn = compose("config", overrides=base + ["encoder=lightgcn", f"train.batch_size={args.lightgcn_batch}"])
    t0 = time.perf_counter()
    data = app.load_data(cfg_sage)
    load_s = time.perf_counter() - t0
    n_train = int(data.splits["train"][0].numel())
    print(f"{args.dataset}: {data.num_users} users, {data.num_items} items, {n_train} train edges; "
          f"graph ready in {load_s:.1f} s", flush=True)

    # --- mini-batch GraphSAGE: time a number of batches of one epoch
    seed_everything(0)
    model, _ = app.build_model(cfg_sage, data)
    tc = {k: v for k, v in dict(cfg_sage.train).items() if k != "device"}
    tc["fanouts"] = list(tc["fanouts"])
    tr = Trainer(model, data, seed=0, **tc)
    times: list[float] = []
    counted = {"edges": 0}
    orig_step = tr._step

    def timed_step(loss):
        orig_step(loss)
        times.append(time.perf_counter())
        if len(times) >= args.batches + 3:
            raise _Stop

    tr._step = timed_step
    tr.model.train()
    try:
        tr._train_epoch_minibatch()
    except _Stop:
        pass
    n_batches = len(times) - 3
    elapsed = times[-1] - times[2]
    sage_eps = n_batches * args.sage_batch / elapsed
    est_epoch = n_train / sage_eps
    print(f"mini-batch SAGE (batch {args.sage_batch}, fanouts {fanouts}, {threads} threads): "
          f"{sage_eps:,.0f} positive edges/s over {n_batches} batches (epoch ≈ {est_epoch:.1f} s)", flush=True)

    # --- full-graph LightGCN epoch(s)
    seed_everything(0)
    model, _ = app.build_model(cfg_lgn, data)
    tc = {k: v for k, v in dict(cfg_lgn.train).items() if k != "device"}
    tr = Trainer(model, data, seed=0, **tc)
    tr.model.train()
    epoch_s = []
    for _ in range(args.lightgcn_epochs):
        t0 = time.perf_counter()
        tr._train_epoch_full()
        epoch_s.append(time.perf_counter() - t0)
    lgn = min(epoch_s)
    t0 = time.perf_counter()
    val = tr.evaluate("valid") if tr.has_valid else {}
    eval_s = time.perf_counter() - t0
    print(f"full-graph LightGCN (batch {args.lightgcn_batch}): {lgn:.1f} s/epoch vs PyG {PYG_EPOCH_SECONDS:.0f} s/epoch "
          f"-> {PYG_EPOCH_SECONDS / lgn:.1f}x faster; validation ranking {eval_s:.1f} s", flush=True)
    print(json.dumps({
        "dataset": args.dataset, "threads": threads, "graph_seconds": round(load_s, 2),
        "sage_minibatch_edges_per_s": round(sage_eps, 1), "sage_batch_size": args.sage_batch, "fanouts": fanouts,
        "sage_epoch_seconds_est": round(est_epoch, 2),
        "lightgcn_epoch_seconds": round(lgn, 2), "pyg_lightgcn_epoch_seconds": PYG_EPOCH_SECONDS,
        "speedup_vs_pyg": round(PYG_EPOCH_SECONDS / lgn, 2), "lightgcn_batch_size": args.lightgcn_batch,
        "eval_seconds": round(eval_s, 2), "val_recall@20_after_1_epoch": val.get("recall@20"),
        "peak_rss_gb": round(psutil.Process().memory_info().rss / 2**30, 2),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
