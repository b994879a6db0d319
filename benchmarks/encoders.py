"""Encoder speed: forward+backward time per full-graph pass (ml-100k) and per mini-batch (Gowalla), parameter counts.

For every installed encoder (``hetrec.registry``; built-ins and plugins alike), with its packaged config and
``num_layers=2``, ``hidden_dim = out_dim = 64`` where the encoder has them:

* full graph: ``ml-100k-u1`` (``LightGCNText`` + ``GraphBuilder``: users, items, ``clicks`` + ``rev_clicks``); one
  step = NodeInput (id embeddings, dim 64) -> encoder on the whole graph -> backward of a fixed random upstream
  gradient on every output row (so the figure is the encoder's, not a loss's). Median over ``--repeats`` steps after
  two warm-up steps.
* mini-batch: ``gowalla-lightgcn``; 1,024 seed edges of the target relation per batch, ``NeighborSampler([10, 10])``
  with ``as_edge_prediction_sampler`` (seed edges and their reverses excluded, one uniform negative per edge);
  sampling time and forward+backward time (NodeInput on the input nodes -> encoder on the blocks -> BPR -> backward)
  are reported separately, as medians over ``--batches`` batches after a warm-up.

Usage:
    HETREC_DATA=/work/shared/datasets python benchmarks/encoders.py [--repeats 10] [--batches 20] [--encoders a,b]

Prints a table, and as its last line one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from hetrec import registry
from hetrec._dgl import dgl
from hetrec.data.datasets import LightGCNText
from hetrec.data.idmap import atomic_write_text
from hetrec.graph.builder import GraphBuilder
from hetrec.graph.cache import load_or_build
from hetrec.models.input import NodeInput

DIM = 64


def build_graph(root: str, name: str, cache_dir: str):
    dataset = LightGCNText(root=root, name=name)
    builder = GraphBuilder(
        target="clicks",
        split={"strategy": "given", "valid_ratio": 0.0},
        co_bought={"enabled": False},
        categories={"enabled": False},
        features={"enabled": False},
    )
    return load_or_build(dataset, builder, cache_dir=cache_dir)


def timed_graph(root: str, name: str, cache_dir: str):
    """``(graph data, summary)``: the graph of dataset ``name`` and its node/edge counts with the load time."""
    t = time.perf_counter()
    data = build_graph(root, name, cache_dir)
    g = data.graph
    return data, {
        "num_nodes": {nt: g.num_nodes(nt) for nt in g.ntypes},
        "num_edges": {"/".join(et): g.num_edges(et) for et in g.canonical_etypes},
        "load_s": round(time.perf_counter() - t, 2),
    }


def make_encoder(name: str, g, dims):
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = registry.encoder_config(name)
    cfg["num_layers"] = 2
    for key in ("hidden_dim", "out_dim"):
        if key in cfg:
            cfg[key] = DIM
    return instantiate(OmegaConf.create(cfg), etypes=g.canonical_etypes, in_dims=dims)


def bpr(u, pos, neg):
    return -F.logsigmoid((u * pos).sum(1) - (u * neg).sum(1)).mean()


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def bench_full(data, names, repeats: int) -> dict:
    g = data.graph
    ntypes = g.ntypes
    res = {}
    for name in names:
        torch.manual_seed(0)
        node_input = NodeInput({nt: g.num_nodes(nt) for nt in ntypes}, {}, DIM)
        enc = make_encoder(name, g, node_input.out_dims)
        params = list(node_input.parameters()) + list(enc.parameters())
        opt = torch.optim.Adam(params, lr=1e-3)
        ids = {nt: torch.arange(g.num_nodes(nt)) for nt in ntypes}
        gen = torch.Generator().manual_seed(0)
        # a fixed random upstream gradient: times the encoder (and NodeInput), not a scoring function
        grad_out = {nt: torch.randn(g.num_nodes(nt), enc.out_dim, generator=gen) for nt in ntypes}
        times = []
        for step in range(repeats + 2):
            t = time.perf_counter()
            out = enc(g, node_input(ids, {}))
            loss = sum((out[nt] * grad_out[nt]).sum() for nt in ntypes)
            opt.zero_grad()
            loss.backward()
            dt = time.perf_counter() - t
            opt.step()
            if step >= 2:
                times.append(dt)
        res[name] = {
            "fwd_bwd_ms": round(1000 * statistics.median(times), 2),
            "fwd_bwd_ms_min": round(1000 * min(times), 2),
            "encoder_params": n_params(enc),
            "node_input_params": n_params(node_input),
        }
        print(f"  ml100k full  {name:10s} {res[name]['fwd_bwd_ms']:9.2f} ms/pass  params {n_params(enc):>8,d}",
              flush=True)
    return res


def bench_minibatch(data, names, batches: int, batch_size: int = 1024) -> dict:
    g = data.graph
    target = data.target
    ntypes = g.ntypes
    eids = torch.arange(g.num_edges(target))
    res = {}
    for name in names:
        torch.manual_seed(0)
        node_input = NodeInput({nt: g.num_nodes(nt) for nt in ntypes}, {}, DIM)
        enc = make_encoder(name, g, node_input.out_dims)
        sampler = dgl.dataloading.as_edge_prediction_sampler(
            dgl.dataloading.NeighborSampler([10, 10]),
            exclude="reverse_types",
            reverse_etypes=data.reverse_etypes,
            negative_sampler=dgl.dataloading.negative_sampler.Uniform(1),
        )
        perm = eids[torch.randperm(len(eids))]
        opt = torch.optim.Adam(list(node_input.parameters()) + list(enc.parameters()), lr=1e-3)
        s_times, c_times, n_inputs = [], [], []
        for b in range(batches + 3):
            seeds = {target: perm[b * batch_size : (b + 1) * batch_size]}
            t = time.perf_counter()
            input_nodes, pos_g, neg_g, blocks = sampler.sample(g, seeds)
            ts = time.perf_counter() - t
            t = time.perf_counter()
            x = node_input(input_nodes, {})
            out = enc(blocks, x)
            pu, pi = pos_g.edges(etype=target)
            nu, ni = neg_g.edges(etype=target)
            assert torch.equal(pu, nu)
            loss = bpr(out[target[0]][pu], out[target[2]][pi], out[target[2]][ni])
            opt.zero_grad()
            loss.backward()
            tc = time.perf_counter() - t
            opt.step()
            if b >= 3:
                s_times.append(ts)
                c_times.append(tc)
                n_inputs.append(sum(len(v) for v in input_nodes.values()))
        res[name] = {
            "fwd_bwd_ms": round(1000 * statistics.median(c_times), 2),
            "sample_ms": round(1000 * statistics.median(s_times), 2),
            "input_nodes": int(statistics.median(n_inputs)),
            "encoder_params": n_params(enc),
        }
        r = res[name]
        print(f"  gowalla mb   {name:10s} {r['fwd_bwd_ms']:9.2f} ms/batch (+{r['sample_ms']:.1f} ms sampling, "
              f"{r['input_nodes']:,d} input nodes)", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=10, help="timed full-graph passes per encoder")
    ap.add_argument("--batches", type=int, default=20, help="timed mini-batches per encoder")
    ap.add_argument("--encoders", default="", help="comma-separated names (default: every installed encoder)")
    ap.add_argument("--skip-gowalla", action="store_true")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    ap.add_argument("--out", default="", help="also write <out>/encoders.json and <out>/encoders.md")
    ap.add_argument("--cache-dir",
                    default=os.environ.get("HETREC_CACHE", os.path.join(tempfile.gettempdir(), "hetrec_bench_cache")))
    args = ap.parse_args()
    root = os.environ.get("HETREC_DATA")
    if not root:
        sys.exit("set HETREC_DATA to the folder holding ml-100k-u1/ and gowalla-lightgcn/ (e.g. /work/shared/datasets)")
    if args.threads:
        torch.set_num_threads(args.threads)
    names = [n for n in args.encoders.split(",") if n] or sorted(registry.available_encoders())
    t0 = time.perf_counter()
    info = {
        "encoders": names,
        "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "torch": torch.__version__,
        "dgl": dgl.__version__,
        "command": " ".join(["benchmarks/encoders.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    try:
        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                        cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    except OSError:
        info["commit"] = ""
    result: dict = {"info": info}

    ml, result["ml100k_graph"] = timed_graph(root, "ml-100k-u1", args.cache_dir)
    print(f"ml-100k-u1: {result['ml100k_graph']}", flush=True)
    result["ml100k_full"] = bench_full(ml, names, args.repeats)

    if not args.skip_gowalla:
        gw, result["gowalla_graph"] = timed_graph(root, "gowalla-lightgcn", args.cache_dir)
        print(f"gowalla-lightgcn: {result['gowalla_graph']}", flush=True)
        result["gowalla_minibatch"] = bench_minibatch(gw, names, args.batches)

    result["seconds"] = round(time.perf_counter() - t0, 1)
    result["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 3)
    if args.out:
        write_results(Path(args.out), result)
    print(json.dumps(result))


def write_results(out: Path, result: dict) -> None:
    info = result["info"]
    lines = [
        "# Encoder speed (benchmarks/encoders.py)",
        "",
        f"commit {info['commit']}, torch {info['torch']}, dgl {info['dgl']}, {info['cpus']} CPUs, "
        f"{info['torch_threads']} torch threads, load average at start {info['load_avg_1m']}; dim 64, 2 layers.",
        "",
        "| encoder | params | ml100k full graph fwd+bwd (ms) | gowalla mini-batch fwd+bwd (ms) | sampling (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in info["encoders"]:
        f = result["ml100k_full"].get(name, {})
        m = result.get("gowalla_minibatch", {}).get(name, {})
        lines.append(
            f"| {name} | {f.get('encoder_params', '')} | {f.get('fwd_bwd_ms', '')} | {m.get('fwd_bwd_ms', '')} "
            f"| {m.get('sample_ms', '')} |"
        )
    lines += [
        "",
        f"Command: `HETREC_DATA=... .venv/bin/python {info['command']}` ({info['date']}). Full graph: median of",
        "`--repeats` forward+backward passes on ml-100k u1 (all 80,000 u1.base clicks and their reverses) after two",
        "warm-up passes; mini-batch: median over `--batches` batches of 1,024 seed edges, fan-out [10, 10], on the",
        "Gowalla LightGCN split, sampling timed apart. params = encoder only (the id embeddings of NodeInput are in",
        "`encoders.json`). Times grow with the load of the shared 2-core box; the load average at start is above.",
    ]
    atomic_write_text(out / "encoders.md", "\n".join(lines) + "\n")
    atomic_write_text(out / "encoders.json", json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
