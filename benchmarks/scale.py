"""Cost against size, phase by phase: synthetic shops of growing size, single process vs DGL's distributed engine.

    .venv/bin/python benchmarks/scale.py --sizes 1000000,10000000 [--phases build,partition,epoch,eval,dist]
        [--epoch-steps 12] [--eval-users 40000] [--parts 2 --trainers 2] [--dist-overrides "train.batch_size=16384"]
        [--work /tmp/scale] [--out benchmarks/results/scale.md]
    .venv/bin/python benchmarks/scale.py --report --project 1000000000      # no measuring: tables, fits, plot

Per size (users = interactions / 25, items = interactions / 100) and phase, a fresh process (``nice -n 19``, one
thread: ``train.num_threads=1``; wall seconds and peak RSS from ``/usr/bin/time``), the config of
``hetrec-train train=minibatch encoder.num_layers=2`` (fan-outs [10, 5], automatic batch size):

- ``build``: synthetic shop generation + ``GraphBuilder`` + graph cache write into a fresh cache
  (:func:`hetrec.graph.cache.load_or_build`, as ``hetrec.train.app.load_data`` does): ``seconds`` is all three
  (``data_s``), their own seconds and the builder's stages are beside it; ``wall_s`` adds the imports.
- ``partition``: ``dgl.distributed.partition_graph`` (METIS, ``--parts``) of the cached graph
  (:func:`hetrec.dist.partition.write_partitions`); the partition's own seconds and the process's wall/peak.
- ``epoch``: one single-process mini-batch epoch of the Trainer (``Trainer._train_epoch``, the code ``fit`` runs).
  With ``--epoch-steps K`` only the first K batches run and the epoch time is extrapolated from them
  (``epoch_extrapolated: true``: the loader is made before the clock starts, the K batches' time is scaled by
  total/K). Model, optimizer and loader are the Trainer's own.
- ``eval``: full-ranking evaluation of every test user (single process, untrained model: the cost does not depend
  on the weights): full-graph embeddings of every node, then ``Trainer.evaluate("test")`` (training/validation items
  masked, top-k over all items), each timed. With ``--eval-users K`` a seeded subset of K test users is ranked and
  the ranking time scaled by (test users)/K (``eval_extrapolated: true``); the embeddings are always all nodes'.
- ``dist``: ``hetrec-dist launch --parts P --trainers T`` on loopback over the partitions of ``partition``, one epoch
  (no step limit): rank 0's epoch seconds and peak RSS (``peak_gb``: the whole job, its evaluations included;
  ``rank0_train_peak_gb``: before its first validation, i.e. setup and the training epoch), the other trainers'
  peak (``other_trainer_peak_gb``: they never evaluate), each server's (``server_peak_gb``: its part, features and
  the ``DistEmbedding`` tables with their optimizer state), the batch per trainer (``train.batch_size`` is the
  global batch: each of T trainers takes 1/T of it); ``--dist-overrides`` adds hetrec-train overrides to this
  phase only (recorded in the row). The partitions must come from this code's ``partition`` phase (their
  ``partition.json`` carries what trainers of rank > 0 build from).
- ``job`` (not in the default phases): the whole single-process ``hetrec-train`` run of the same config (one
  mini-batch epoch, validation, test evaluation, artifact), what ``dist``'s rank 0 does on one process: its
  ``peak_gb`` is the figure rank 0's whole-job ``peak_gb`` compares with (``epoch``'s compares with the trainers'
  training peaks); ``--dist-overrides`` apply to it too.

Each measurement is a row of ``benchmarks/results/scale.jsonl`` (commit, 1-minute load before/after); each run appends
a Markdown table to ``--out`` with the growth exponents b of cost = a * size^b, fitted per phase (least squares in
log-log) over the latest row of every size, and redraws ``scale.png`` (cost and peak memory against size).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PHASES = ("build", "partition", "epoch", "eval", "dist", "job")
TRAIN = "import sys; sys.argv[0] = 'hetrec-train'; from hetrec.cli import train_main; train_main()"


def shop(n: int) -> list[str]:
    users, items = max(300, n // 25), max(150, n // 100)
    return [f"dataset.num_interactions={n}", f"dataset.num_users={users}", f"dataset.num_items={items}",
            f"dataset.num_pairs={min(200, items // 4)}", f"dataset.num_brands={min(40, items // 10)}"]


def overrides(n: int, work: Path) -> list[str]:
    return [*shop(n), "train=minibatch", "encoder.num_layers=2", "train.max_epochs=1", "train.num_threads=1",
            "train.progress=false", f"cache_dir={work / 'cache'}"]


# ---------------------------------------------------------------------------------------------- worker (one phase)
def _cfg(ovr: list[str]):
    from hydra import compose, initialize_config_dir

    from hetrec.registry import register_configs

    register_configs()  # encoder configs are registered, as hetrec-train does
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("config", overrides=ovr)


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def _worker(phase: str, n: int, work: Path, parts: int, steps: int | None, eval_users: int | None) -> dict:
    import torch
    from hydra.utils import instantiate

    from hetrec.graph.cache import load_or_build

    torch.set_num_threads(1)
    cfg = _cfg(overrides(n, work))
    out: dict = {}
    t0 = time.perf_counter()
    dataset, builder = instantiate(cfg.dataset), instantiate(cfg.graph)
    if phase == "build":
        if any((work / "cache").glob("*")):
            raise SystemExit(f"{work / 'cache'} is not empty: the build phase needs a fresh cache")
        load = dataset.load

        def timed_load():
            t = time.perf_counter()
            shop_ = load()
            out["generate_s"] = round(time.perf_counter() - t, 2)
            return shop_

        dataset.load = timed_load
    data = load_or_build(dataset, builder, cache_dir=cfg.cache_dir)
    out["data_s"] = round(time.perf_counter() - t0, 2)
    g = data.graph
    out["edges"] = int(sum(g.num_edges(et) for et in g.canonical_etypes))
    out["users"], out["items"] = int(data.num_users), int(data.num_items)
    if phase == "build":
        assert not data.info.get("cache_hit"), "build phase hit the cache"
        out["build_s"] = round(float(data.info["seconds"]["total"]), 2)
        out["build_stages_s"] = {k: round(float(v), 2) for k, v in data.info["seconds"].items() if k != "total"}
        out["cache_write_s"] = round(out["data_s"] - out["generate_s"] - out["build_s"], 2)
    elif phase == "partition":
        from hetrec.dist.partition import write_partitions

        summary = write_partitions(data, work / "parts", parts, "metis", cfg)
        out["partition_s"] = summary["seconds"]
    elif phase in ("epoch", "eval"):
        from hetrec.train.app import build_model, trainer_options
        from hetrec.train.trainer import Trainer, seed_everything

        seed_everything(0)
        model, _ = build_model(cfg, data)
        tc = trainer_options(cfg)
        tc.pop("refit", None)
        tc["device"] = "cpu"
        trainer = Trainer(model, data, seed=0, ks=list(cfg.evaluate.ks), **tc)
        if phase == "epoch":
            loader = trainer._minibatch_loader()
            total = len(loader)
            k = total if not steps else min(int(steps), total)

            seen = {"nodes": 0, "batches": 0}

            class Head:  # the first k batches of the real loader (the epoch code is the Trainer's own)
                def __len__(self):
                    return k

                def __iter__(self):
                    for j, b in enumerate(loader):
                        if j >= k:
                            return
                        nodes = b[0] if isinstance(b[0], dict) else {"": b[0]}
                        seen["nodes"] += sum(int(v.numel()) for v in nodes.values())
                        seen["batches"] += 1
                        yield b

            trainer._minibatch_loader = Head
            t = time.perf_counter()
            loss, n_pos = trainer._train_epoch()
            sec = time.perf_counter() - t
            out.update(batch_size=trainer.batch_size, batches=total, batches_run=k, epoch_run_s=round(sec, 1),
                       epoch_s=round(sec * total / k, 1), epoch_extrapolated=k < total, loss=round(loss, 4),
                       positives_run=int(n_pos), input_nodes_per_batch=seen["nodes"] // max(1, seen["batches"]),
                       graph_nodes=int(sum(g.num_nodes(nt) for nt in g.ntypes)))
        else:
            tu, ti = (torch.as_tensor(a) for a in data.splits["test"])
            users_all = torch.unique(tu)
            k = len(users_all) if not eval_users else min(int(eval_users), len(users_all))
            if k < len(users_all):  # a seeded subset of the test users; ranking cost is per user
                pick = users_all[torch.randperm(len(users_all), generator=torch.Generator().manual_seed(0))[:k]]
                keep = torch.isin(tu, pick)
                sub = copy.copy(data)
                sub.splits = {**data.splits, "test": (tu[keep], ti[keep])}
                trainer.data = sub
            t = time.perf_counter()
            emb = trainer.embeddings()
            out["embed_s"] = round(time.perf_counter() - t, 1)
            t = time.perf_counter()
            res = trainer.evaluate("test", emb)
            rank_run = time.perf_counter() - t
            out.update(test_users=len(users_all), test_users_run=k, rank_run_s=round(rank_run, 1),
                       rank_s=round(rank_run * len(users_all) / k, 1), eval_extrapolated=k < len(users_all))
            out["eval_s"] = round(out["embed_s"] + out["rank_s"], 1)
            out["recall20_untrained"] = round(float(res.get("recall@20", float("nan"))), 4)
    out["worker_peak_gb"] = round(_peak_gb(), 2)
    return out


# ---------------------------------------------------------------------------------------------- driver
def _load1() -> float:
    return round(os.getloadavg()[0], 2)


def _commit() -> str:
    try:
        c = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "hetrec"], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip()
        return c + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _timed(cmd: list[str], env: dict, timeout: float) -> tuple[float, float, str]:
    """Run ``cmd`` (niced) under /usr/bin/time: (wall s, peak RSS GB of the process, its stdout)."""
    with tempfile.NamedTemporaryFile(suffix=".time") as tf:
        t0 = time.perf_counter()
        p = subprocess.run(["nice", "-n", "19", "/usr/bin/time", "-f", "%M", "-o", tf.name, *cmd], env=env,
                           timeout=timeout, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:6])} ... failed ({p.returncode}):\n{p.stderr[-3000:]}")
        kb = int(Path(tf.name).read_text().split()[-1])
    return wall, kb / 1024**2, p.stdout


def measure(n: int, phase: str, work: Path, args, env: dict) -> dict:
    row: dict = {"interactions": n, "phase": phase, "commit": _commit(), "when": time.strftime("%Y-%m-%d %H:%M"),
                 "load1_before": _load1()}
    py = sys.executable
    if phase == "job":
        run = work / time.strftime("job-%Y%m%d-%H%M%S")
        wall, rss, _ = _timed([py, "-c", TRAIN, "-cp", str(ROOT / "conf"), *overrides(n, work),
                               *args.dist_overrides.split(), f"hydra.run.dir={run}"], env, args.timeout)
        m = json.loads((run / "metrics.json").read_text())
        log0 = json.loads((run / "train_log.jsonl").read_text().splitlines()[0])
        if args.dist_overrides:
            row["overrides"] = args.dist_overrides
        row.update(seconds=round(float(log0["seconds"]), 1), wall_s=round(wall, 1), peak_gb=m["peak_rss_gb"],
                   recall20=round(m["test"]["recall@20"], 4))
    elif phase == "dist":
        dist = work / ("dist" if not args.dist_overrides else "dist-" + "".join(c if c.isalnum() else "_"
                                                                               for c in args.dist_overrides)[:60])
        wall, rss, _ = _timed([py, "-m", "hetrec.dist.launch", "launch", "--partition-dir", str(work / "parts"),
                               "--trainers", str(args.trainers), "--run-dir", str(dist), "--timeout",
                               str(args.timeout), "--", "-cp", str(ROOT / "conf"), *overrides(n, work),
                               *args.dist_overrides.split()], env, args.timeout)
        m = json.loads((dist / "metrics.json").read_text())
        others = [json.loads(p.read_text()) for p in sorted(dist.glob("trainer*/trainer.json"))]
        log0 = json.loads((dist / "train_log.jsonl").read_text().splitlines()[0])
        if args.dist_overrides:
            row["dist_overrides"] = args.dist_overrides
        d = m.get("distributed", {})
        servers = [float(x) for p in sorted((dist / "logs").glob("server*.log"))
                   for x in re.findall(r"peak RSS ([0-9.]+) GB", p.read_text())]
        row.update(seconds=round(float(log0["seconds"]), 1), wall_s=round(wall, 1), peak_gb=m["peak_rss_gb"],
                   other_trainer_peak_gb=max(o["peak_rss_gb"] for o in others) if others else None,
                   recall20=round(m["test"]["recall@20"], 4),
                   # rank 0's peak before its first validation (training alone), the other trainers' (they never
                   # evaluate), the servers' (partition, features, DistEmbedding tables and their Adam state)
                   rank0_train_peak_gb=d.get("train_peak_rss_gb"), batch_per_trainer=d.get("batch_per_trainer"),
                   global_batch=d.get("global_batch"), sparse_embedding=d.get("sparse_embedding"),
                   rss_shared_gb=[d.get("rss_shared_gb"), *(o.get("rss_shared_gb") for o in others)],
                   server_peak_gb=servers or None)
    else:
        cmd = [py, str(Path(__file__).resolve()), "--worker", phase, "--sizes", str(n), "--work", str(work),
               "--parts", str(args.parts)]
        if phase == "epoch" and args.epoch_steps:
            cmd += ["--epoch-steps", str(args.epoch_steps)]
        if phase == "eval" and args.eval_users:
            cmd += ["--eval-users", str(args.eval_users)]
        wall, rss, stdout = _timed(cmd, env, args.timeout)
        res = json.loads(stdout.strip().splitlines()[-1])
        key = {"build": "data_s", "partition": "partition_s", "epoch": "epoch_s", "eval": "eval_s"}[phase]
        row.update(seconds=res[key], wall_s=round(wall, 1), peak_gb=round(rss, 2), **res)
    row["load1_after"] = _load1()
    return row


def growth(points: list[tuple[float, float]]) -> float | None:
    pts = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y and y > 0]
    if len(pts) < 2 or len({p[0] for p in pts}) < 2:
        return None
    mx, my = sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)


def latest(rows: list[dict]) -> dict[str, dict[int, dict]]:
    """phase -> size -> the latest row."""
    out: dict[str, dict[int, dict]] = {}
    for r in rows:
        out.setdefault(r["phase"], {})[int(r["interactions"])] = r
    return out


def affine(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """Least-squares ``y = a + c * x`` (memory: a fixed footprint plus a part that grows with the data)."""
    if len({x for x, _ in points}) < 2:
        return None
    mx, my = sum(x for x, _ in points) / len(points), sum(y for _, y in points) / len(points)
    c = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
    return my - c * mx, c


def fits(rows: list[dict]) -> dict[str, dict]:
    by = latest(rows)
    return {ph: {"time": growth([(n, r["seconds"]) for n, r in sz.items()]),
                 "memory": growth([(n, r["peak_gb"]) for n, r in sz.items()]),
                 "memory_affine": affine([(n, r["peak_gb"]) for n, r in sz.items()]),
                 "sizes": sorted(sz)} for ph, sz in by.items()}


def project(rows: list[dict], n_to: int) -> list[str]:
    """Per phase, the largest measured size carried to ``n_to`` interactions: time by the fitted power law, memory
    by the power law and by the affine fit (fixed + per-interaction part)."""
    by, fit = latest(rows), fits(rows)
    out = [f"| phase | from (size, s, GB) | time b (all sizes) | b (two largest) | s at {n_to:,} (1 thread, b all "
           "sizes; two largest) | memory b | GB (power law) | GB (affine: a + c*n) |",
           "|---|---|---|---|---|---|---|---|"]
    for ph in PHASES:
        f = fit.get(ph)
        if not f or f["time"] is None:
            continue
        n0 = max(by[ph])
        r = by[ph][n0]
        t = r["seconds"] * (n_to / n0) ** f["time"]
        two = sorted(by[ph])[-2:]
        b2 = growth([(n, by[ph][n]["seconds"]) for n in two])
        t2 = r["seconds"] * (n_to / n0) ** b2
        m = r["peak_gb"] * (n_to / n0) ** f["memory"] if f["memory"] is not None else float("nan")
        a, c = f["memory_affine"]
        out.append(f"| {ph} | {n0:,}, {r['seconds']}, {r['peak_gb']} | {f['time']:.2f} | {b2:.2f} | {t / 3600:,.1f} h; "
                   f"{t2 / 3600:,.1f} h "
                   f"| {f['memory']:.2f} | {m:,.1f} | {a + c * n_to:,.1f} (a={a:.2f}, c={c * 1e6:.3f} GB/M) |")
    return out


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by, fit = latest(rows), fits(rows)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for ph in PHASES:
        if ph not in by:
            continue
        ns = sorted(by[ph])
        b = fit[ph]["time"]
        line, = a1.plot(ns, [by[ph][n]["seconds"] for n in ns], "o-", label=f"{ph}" + (f" (b={b:.2f})" if b else ""))
        ext = [n for n in ns if by[ph][n].get("epoch_extrapolated") or by[ph][n].get("eval_extrapolated")]
        if ext:  # part of the phase timed, the rest extrapolated: hollow
            a1.plot(ext, [by[ph][n]["seconds"] for n in ext], "o", mfc="white", color=line.get_color())
        bm = fit[ph]["memory"]
        a2.plot(ns, [by[ph][n]["peak_gb"] for n in ns], "o-", label=f"{ph}" + (f" (b={bm:.2f})" if bm else ""))
    a1.axhline(120, ls="--", color="grey", lw=0.8, label="bar: 10M build <= 120 s")
    a2.axhline(12, ls="--", color="grey", lw=0.8, label="bar: 10M build <= 12 GB")
    for ax, lab in ((a1, "seconds (1 thread, shared box; hollow: extrapolated)"), (a2, "peak RSS GB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("interactions")
        ax.set_ylabel(lab)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    a1.set_title("cost per phase against size")
    a2.set_title("peak memory per phase")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, dpi=110, format="png")
    os.replace(tmp, path)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


COLS = ("interactions", "phase", "seconds", "wall_s", "peak_gb", "load1_before", "load1_after", "commit", "detail")


def _detail(r: dict) -> str:
    skip = set(COLS) | {"when", "worker_peak_gb", "edges", "users", "items"}
    return ", ".join(f"{k}={v}" for k, v in r.items() if k not in skip)


def table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLS) + " |", "|" + "---|" * len(COLS)]
    for r in rows:
        lines.append("| " + " | ".join(_detail(r) if c == "detail" else str(r.get(c)) for c in COLS) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000000", help="comma-separated interaction counts")
    ap.add_argument("--phases", default="build,partition,epoch,eval,dist", help=f"some of {','.join(PHASES)}")
    ap.add_argument("--epoch-steps", type=int, default=None, help="time only the first K batches of the epoch "
                    "phase and extrapolate (labelled epoch_extrapolated)")
    ap.add_argument("--eval-users", type=int, default=None, help="rank only a seeded subset of K test users in the "
                    "eval phase and extrapolate the ranking time (labelled eval_extrapolated)")
    ap.add_argument("--dist-overrides", default="", help="extra hetrec-train overrides of the dist phase, e.g. "
                    "'train.batch_size=16384' (per trainer: half the single process's automatic 32768)")
    ap.add_argument("--parts", type=int, default=2)
    ap.add_argument("--trainers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=7200)
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--out", type=Path, default=RESULTS / "scale.md")
    ap.add_argument("--jsonl", type=Path, default=RESULTS / "scale.jsonl")
    ap.add_argument("--report", action="store_true", help="measure nothing: append the latest row of every size and "
                    "phase from --jsonl, the fits and the projection to --project interactions, redraw the plot")
    ap.add_argument("--project", type=int, default=1_000_000_000)
    ap.add_argument("--worker", choices=PHASES[:4], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        res = _worker(args.worker, int(args.sizes), args.work, args.parts, args.epoch_steps, args.eval_users)
        print(json.dumps(res), flush=True)
        return 0
    if args.report:
        rows = [json.loads(x) for x in args.jsonl.read_text().splitlines()]
        by = latest(rows)
        cur = [by[ph][n] for ph in PHASES if ph in by for n in sorted(by[ph])]
        text = (f"\n## {time.strftime('%Y-%m-%d %H:%M')} latest row per size and phase (`python benchmarks/scale.py "
                f"--report --project {args.project}`)\n\n" + table(cur) + "\n\n"
                + "\n".join(project(rows, args.project))
                + "\n")
        prev = args.out.read_text() if args.out.exists() else ""
        _write_atomic(args.out, prev + text)
        plot(rows, args.out.with_suffix(".png"))
        print(text)
        return 0
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    bad = sorted(set(phases) - set(PHASES))
    if bad:
        ap.error(f"unknown phases {bad}; choose from {','.join(PHASES)}")
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    base = args.work or Path(tempfile.mkdtemp(prefix="hetrec-scale-"))
    old = [json.loads(x) for x in args.jsonl.read_text().splitlines()] if args.jsonl.exists() else []
    new: list[dict] = []
    for n in (int(s) for s in args.sizes.split(",")):
        work = base / str(n)
        work.mkdir(parents=True, exist_ok=True)
        for ph in (p for p in PHASES if p in phases):
            try:
                row = measure(n, ph, work, args, env)
            except Exception as e:  # noqa: BLE001 - a failed phase is a result too (recorded, run continues)
                print(f"scale: {n} {ph} failed: {e}", file=sys.stderr, flush=True)
                if ph in ("build", "partition"):
                    break  # later phases need this one's output
                continue
            new.append(row)
            print(json.dumps(row), flush=True)
            _write_atomic(args.jsonl, "".join(json.dumps(r) + "\n" for r in old + new))
    rows = old + new
    fit = fits(rows)
    lines = [table(new), "", "Growth exponents b (cost ~ size^b) over the latest row of each size, all runs in "
             f"{args.jsonl.name}:", ""]
    for ph in PHASES:
        if ph in fit:
            f = fit[ph]
            t = "n/a (one size)" if f["time"] is None else f"{f['time']:.2f}"
            m = "n/a" if f["memory"] is None else f"{f['memory']:.2f}"
            lines.append(f"- {ph}: time b = {t}, peak memory b = {m} (sizes {', '.join(f'{s:,}' for s in f['sizes'])})")
    cmd = "nice -n 19 python benchmarks/scale.py " + " ".join(sys.argv[1:])
    text = f"\n## {time.strftime('%Y-%m-%d %H:%M')} `{cmd}` (commit {_commit()})\n\n" + "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    prev = args.out.read_text() if args.out.exists() else ""
    _write_atomic(args.out, prev + text)
    if rows:
        plot(rows, args.out.with_suffix(".png"))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
