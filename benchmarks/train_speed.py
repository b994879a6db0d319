"""Training speed on Gowalla (LightGCN split): mini-batch GraphSAGE positive edges/s, LightGCN full-graph epoch time.

    HETREC_DATA=/work/shared/datasets .venv/bin/python benchmarks/train_speed.py [--threads 1] [--batches 0]
        [--sage-batch N] [--fanouts 10,5] [--lightgcn-epochs 1]

Mini-batch: one full epoch (or the first ``--batches`` batches) of the trainer's neighbour-sampled mode with
``conf/train/minibatch.yaml`` (DGL NeighborSampler + edge-prediction sampler excluding seed edges and their reverses,
BPR with 1 uniform negative, exclude_positives), positive edges per second over sampling + forward + backward + step.
Full-graph: one LightGCN epoch of the trainer's full mode (one propagation over the whole training graph per step of
``train.batch_size`` positives), compared with PyTorch Geometric's 118 s/epoch measured on this machine (PEERS.md).
The 1-minute load average is recorded before each phase (the box is shared). The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import time
from pathlib import Path

import psutil
from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]
PYG_EPOCH_SECONDS = 118.0


class _Stop(Exception):
    pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="gowalla-lightgcn")
    ap.add_argument("--batches", type=int, default=0, help="mini-batches timed (0 = one whole epoch)")
    ap.add_argument("--sage-batch", type=int, default=None, help="default: conf/train/minibatch.yaml")
    ap.add_argument("--fanouts", default=None, help="comma-separated; default: conf/train/minibatch.yaml")
    ap.add_argument("--lightgcn-batch", type=int, default=8192)
    ap.add_argument("--lightgcn-epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch/DGL threads (default 1: fastest on the busy shared 2-core box)")
    args = ap.parse_args()
    if not os.environ.get("HETREC_DATA"):
        sys.exit("set HETREC_DATA to the datasets folder (e.g. HETREC_DATA=/work/shared/datasets)")
    from hetrec.registry import register_configs
    from hetrec.train import app
    from hetrec.train.trainer import Trainer, seed_everything

    register_configs()
    threads = args.threads or os.cpu_count()
    # BPR with one uniform negative: the objective of the PyG LightGCN epoch in PEERS.md (not the app default)
    base = ["dataset=lightgcn", f"dataset.name={args.dataset}", "objective=bpr", "train.progress=false",
            f"train.num_threads={threads}"]
    sage_over = ["encoder=sage", "train=minibatch"]
    if args.fanouts:
        n_layers = len(args.fanouts.split(","))
        sage_over += [f"encoder.num_layers={n_layers}", f"train.fanouts=[{args.fanouts}]"]
    if args.sage_batch:
        sage_over += [f"train.batch_size={args.sage_batch}"]
    with initialize_config_dir(config_dir=app.CONF_DIR, version_base="1.3"):
        cfg_sage = compose("config", overrides=base + sage_over)
        cfg_lgn = compose("config", overrides=base + ["encoder=lightgcn", f"train.batch_size={args.lightgcn_batch}"])
    fanouts = [int(f) for f in cfg_sage.train.fanouts]
    sage_batch = cfg_sage.train.batch_size  # None: chosen from the training set, read from the trainer below
    trainer_args = set(inspect.signature(Trainer.__init__).parameters)

    def trainer_kwargs(cfg) -> dict:
        tc = {k: v for k, v in app.trainer_options(cfg).items() if k in trainer_args and k != "device"}
        if tc.get("fanouts") is not None:
            tc["fanouts"] = list(tc["fanouts"])
        return tc

    load = {}
    t0 = time.perf_counter()
    data = app.load_data(cfg_sage)
    load_s = time.perf_counter() - t0
    n_train = int(data.splits["train"][0].numel())
    print(f"{args.dataset}: {data.num_users} users, {data.num_items} items, {n_train} train edges; "
          f"graph ready in {load_s:.1f} s", flush=True)

    # --- mini-batch GraphSAGE: one whole epoch (or its first --batches batches)
    seed_everything(0)
    model, _ = app.build_model(cfg_sage, data)
    tr = Trainer(model, data, seed=0, **trainer_kwargs(cfg_sage))
    sage_batch = tr.batch_size
    n_batches = 0
    orig_step = tr._step

    def counted_step(loss):
        nonlocal n_batches
        orig_step(loss)
        n_batches += 1
        if args.batches and n_batches >= args.batches:
            raise _Stop

    tr._step = counted_step
    tr.model.train()
    load["sage"] = os.getloadavg()[0]
    t0 = time.perf_counter()
    try:
        _, n_edges = tr._train_epoch_minibatch()
    except _Stop:
        n_edges = n_batches * sage_batch  # every batch before the last one of an epoch is full
    elapsed = time.perf_counter() - t0
    sage_eps = n_edges / elapsed
    est_epoch = n_train / sage_eps
    print(f"mini-batch SAGE (batch {sage_batch}, fanouts {fanouts}, {threads} threads, load {load['sage']:.2f}): "
          f"{sage_eps:,.0f} positive edges/s over {n_batches} batches, {n_edges} edges in {elapsed:.1f} s "
          f"(epoch ≈ {est_epoch:.1f} s, sampling included)", flush=True)

    # --- full-graph LightGCN epoch(s)
    seed_everything(0)
    model, _ = app.build_model(cfg_lgn, data)
    tr = Trainer(model, data, seed=0, **trainer_kwargs(cfg_lgn))
    tr.model.train()
    load["lightgcn"] = os.getloadavg()[0]
    steps = -(-n_train // args.lightgcn_batch)
    epoch_s = []
    for _ in range(args.lightgcn_epochs):
        t0 = time.perf_counter()
        tr._train_epoch_full()
        epoch_s.append(time.perf_counter() - t0)
    lgn = min(epoch_s)
    t0 = time.perf_counter()
    val = tr.evaluate("valid") if tr.has_valid else {}
    eval_s = time.perf_counter() - t0
    print(f"full-graph LightGCN (batch {args.lightgcn_batch}, {steps} propagations, {threads} threads, load "
          f"{load['lightgcn']:.2f}): {lgn:.1f} s/epoch vs PyG {PYG_EPOCH_SECONDS:.0f} s/epoch -> PyG/hetrec = "
          f"{PYG_EPOCH_SECONDS / lgn:.1f}x; validation ranking {eval_s:.1f} s", flush=True)
    print(json.dumps({
        "dataset": args.dataset, "threads": threads, "graph_seconds": round(load_s, 2),
        "sage_minibatch_edges_per_s": round(sage_eps, 1), "sage_batch_size": sage_batch, "fanouts": fanouts,
        "sage_batches": n_batches, "sage_epoch_seconds_est": round(est_epoch, 2),
        "lightgcn_propagations_per_epoch": steps, "load_1min": load,
        "lightgcn_epoch_seconds": round(lgn, 2), "pyg_lightgcn_epoch_seconds": PYG_EPOCH_SECONDS,
        "speedup_vs_pyg": round(PYG_EPOCH_SECONDS / lgn, 2), "lightgcn_batch_size": args.lightgcn_batch,
        "eval_seconds": round(eval_s, 2), "val_recall@20_after_1_epoch": val.get("recall@20"),
        "peak_rss_gb": round(psutil.Process().memory_info().rss / 2**30, 2),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
