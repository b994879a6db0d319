"""Quality bar on ml-100k-u1: every built-in encoder + LightGCN x 3 seeds, test Recall@20 / NDCG@20 mean ± std.

Each run is exactly ``hetrec-train experiment=ml100k_u1_<encoder> seed=<s>`` (settings live in
conf/experiment/ml100k_u1_<encoder>.yaml, not here); model selection uses validation data carved from train.

    HETREC_DATA=/work/shared/datasets .venv/bin/python benchmarks/quality.py [--encoders lightgcn,sage,gcn,rgcn]
        [--seeds 0,1,2] [--out benchmarks/results]

Writes quality_ml100k.md and quality_ml100k.csv; the last stdout line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEERS = {"EASE": (0.3063, 0.5357), "PyG LightGCN (544 s)": (0.2928, 0.5175), "implicit ALS": (0.3025, 0.5270)}
BAR_RECALL, BAR_SECONDS = 0.2928, 60.0


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        return out.stdout.strip()
    except OSError:
        return "?"


def run_one(encoder: str, seed: int, workdir: Path, extra: list[str]) -> dict:
    run_dir = workdir / f"{encoder}-s{seed}"
    cmd = [sys.executable, "-m", "hetrec.train.app", f"experiment=ml100k_u1_{encoder}", f"seed={seed}",
           f"hydra.run.dir={run_dir}", "train.progress=false", *extra]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    mfile = run_dir / "metrics.json"
    m = json.loads(mfile.read_text()) if mfile.exists() else {"status": "failed"}
    if res.returncode != 0 or m.get("status") != "ok":
        print(res.stderr[-2000:], file=sys.stderr)
        return {"encoder": encoder, "seed": seed, "status": "failed", "wall_seconds": wall}
    return {
        "encoder": encoder, "seed": seed, "status": "ok", "epochs": m["epochs"], "best_epoch": m["best_epoch"],
        "train_seconds": m["train_seconds"], "refit": bool(m.get("refit", False)),
        "select_seconds": m.get("select_seconds", m["train_seconds"]), "refit_seconds": m.get("refit_seconds", 0.0),
        "refit_epochs": m.get("refit_epochs"), "wall_seconds": round(wall, 2),
        "val_recall@20": m["val"]["recall@20"], "test_recall@20": m["test"]["recall@20"],
        "test_ndcg@20": m["test"]["ndcg@20"], "test_recall@10": m["test"]["recall@10"],
        "test_ndcg@10": m["test"]["ndcg@10"], "split_hash": m.get("split_hash"),
    }


def _load() -> str:
    """1/5/15-minute load averages (the machine is shared; timings depend on it)."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def ms(xs: list[float]) -> str:
    if not xs:
        return "–"
    return f"{statistics.mean(xs):.4f} ± {(statistics.stdev(xs) if len(xs) > 1 else 0.0):.4f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--encoders", default="lightgcn,sage,gcn,rgcn")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("overrides", nargs="*", help="extra hydra overrides for every run")
    args = ap.parse_args()
    if not os.environ.get("HETREC_DATA"):
        sys.exit("set HETREC_DATA to the datasets folder (e.g. HETREC_DATA=/work/shared/datasets)")
    encoders = [e for e in args.encoders.split(",") if e]
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="hetrec-quality-") as tmp:
        for enc in encoders:
            for s in seeds:
                load = _load()
                r = run_one(enc, s, Path(tmp), args.overrides)
                r["load_before"] = load
                rows.append(r)
                print(json.dumps(r), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cols = ["encoder", "seed", "status", "epochs", "best_epoch", "refit", "refit_epochs", "select_seconds",
            "refit_seconds", "train_seconds", "wall_seconds", "load_before", "val_recall@20",
            "test_recall@20", "test_ndcg@20", "test_recall@10", "test_ndcg@10", "split_hash"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    (out / "quality_ml100k.csv").write_text(buf.getvalue())
    summary = {}
    lines = [
        "# Quality on ml-100k-u1 (943 users, 1,682 items; given u1 split, validation carved from train)",
        "",
        f"Command: `HETREC_DATA=/work/shared/datasets .venv/bin/python benchmarks/quality.py` "
        f"(each run: `hetrec-train experiment=ml100k_u1_<encoder> seed=<s>`). Commit {_commit()}, "
        f"{platform.machine()} CPU ({os.cpu_count()} cores, shared), "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "Full-catalogue ranking, training items excluded; the epoch count is selected on validation Recall@20 (10% "
        "of each user's train pairs); with refit (train.refit=true) a fresh model is then trained for that many epochs "
        "on train + validation and its test metrics are reported. Train seconds = selection fit + refit (both "
        "counted). Test is never used for a choice.",
        f"Load average (1/5/15 min) before the first run: {rows[0].get('load_before', '?') if rows else '?'}, "
        f"before the last: {rows[-1].get('load_before', '?') if rows else '?'} "
        "(2 shared cores; per-run loads in the CSV).",
        "",
        "| encoder | runs | refit | test Recall@20 | test NDCG@20 | train seconds (select + refit) | best epoch | "
        "gap to EASE (R@20) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for enc in encoders:
        ok = [r for r in rows if r["encoder"] == enc and r["status"] == "ok"]
        rec = [r["test_recall@20"] for r in ok]
        nd = [r["test_ndcg@20"] for r in ok]
        secs = [r["train_seconds"] for r in ok]
        summary[enc] = {
            "recall@20": statistics.mean(rec) if rec else None, "ndcg@20": statistics.mean(nd) if nd else None,
            "train_seconds": statistics.mean(secs) if secs else None, "runs": len(ok),
        }
        gap = f"{statistics.mean(rec) - PEERS['EASE'][0]:+.4f}" if rec else "–"
        refit = "yes" if ok and all(r["refit"] for r in ok) else ("no" if not any(r["refit"] for r in ok) else "mixed")
        sel = statistics.mean([r["select_seconds"] for r in ok]) if ok else 0.0
        ref = statistics.mean([r["refit_seconds"] for r in ok]) if ok else 0.0
        summary[enc]["refit"] = refit
        lines.append(f"| {enc} | {len(ok)}/{len([r for r in rows if r['encoder'] == enc])} | {refit} | {ms(rec)} | "
                     f"{ms(nd)} | {ms(secs)} ({sel:.1f} + {ref:.1f}) | "
                     f"{statistics.mean([float(r['best_epoch']) for r in ok]) if ok else float('nan'):.1f} | {gap} |")
    lines += ["", "Peers on this machine (../shared/PEERS.md, picked on test):", "",
              "| peer | Recall@20 | NDCG@20 |", "|---|---|---|"]
    lines += [f"| {k} | {v[0]:.4f} | {v[1]:.4f} |" for k, v in PEERS.items()]
    best = max((e for e in summary if summary[e]["recall@20"] is not None), key=lambda e: summary[e]["recall@20"],
               default=None)
    passed = bool(best and summary[best]["recall@20"] >= BAR_RECALL and summary[best]["train_seconds"] <= BAR_SECONDS)
    lines += ["", f"Bar: best encoder test Recall@20 ≥ {BAR_RECALL} in ≤ {BAR_SECONDS:.0f} s training: "
              f"**{'met' if passed else 'not met'}** (best: {best})."]
    (out / "quality_ml100k.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(json.dumps({"dataset": "ml-100k-u1", "best_encoder": best, "bar_met": passed, "encoders": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
