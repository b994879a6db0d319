"""Shared pieces of the dataset-grid benchmarks (select_default.py, ablation.py): run sweeps per dataset in parallel,
format a Recall@20 cell with its bootstrap interval, write CSV/Markdown results atomically."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reproduce import RESULTS, run_sweep, sweep_jobs

from hetrec.data.idmap import atomic_write_text

__all__ = ["RESULTS", "run_sweeps", "over_datasets", "ci", "write_csv", "write_md", "job_csv", "provenance",
           "grid_main"]

# per-job CSV columns shared by the grid tables: (header, section of metrics.json or None for top level, key)
JOB_COLUMNS: list[tuple[str, str | None, str]] = [
    ("val_recall@20", "val", "recall@20"), ("val_recall@20_ci_low", "val", "recall@20_ci_low"),
    ("val_recall@20_ci_high", "val", "recall@20_ci_high"), ("val_ndcg@20", "val", "ndcg@20"),
    ("test_recall@20", "test", "recall@20"), ("test_recall@20_ci_low", "test", "recall@20_ci_low"),
    ("test_recall@20_ci_high", "test", "recall@20_ci_high"), ("test_ndcg@20", "test", "ndcg@20"),
    ("best_epoch", None, "best_epoch"), ("train_seconds", None, "train_seconds"),
    ("wall_seconds", None, "wall_seconds"), ("peak_rss_gb", None, "peak_rss_gb"), ("split_hash", None, "split_hash"),
    ("commit", None, "commit"), ("hardware", None, "hardware"), ("overrides", None, "overrides"),
]


def run_sweeps(dataset: str, sweeps: Iterable[tuple[str, list[str]]], args) -> list[dict]:
    """Run (unless ``args.only_table``) each ``(name, overrides)`` sweep of one dataset into
    ``args.runs/dataset/name``, its jobs sharing the cores with the other datasets that run at once, and return its
    jobs' metrics, each tagged with ``table_dataset`` and ``sweep``."""
    rows = []
    for name, overrides in sweeps:
        sdir = Path(args.runs) / dataset / name
        if not args.only_table and not (args.keep_finished and sdir.exists()):
            print(f"[{dataset}/{name}]", flush=True)
            run_sweep(sdir, overrides + [threads_per_job(args.parallel)], [args.seed], args.timeout)
        if sdir.exists():
            for m in sweep_jobs(dataset, name, "", overrides, sdir):
                m["table_dataset"], m["sweep"] = dataset, name
                rows.append(m)
    return rows


def over_datasets(fn: Callable[[str], list[dict]], datasets: list[str], parallel: int) -> list[dict]:
    """``fn(dataset)`` for every dataset, ``parallel`` at a time; rows in dataset order."""
    with ThreadPoolExecutor(max(1, parallel)) as ex:
        return [r for part in ex.map(fn, datasets) for r in part]


def ci(split: dict, key: str = "recall@20") -> str:
    """``0.1234 [0.1200, 0.1270]``: a metric with its per-user bootstrap 95% interval, ``–`` when absent."""
    if not split or key not in split:
        return "–"
    lo, hi = split.get(f"{key}_ci_low"), split.get(f"{key}_ci_high")
    return f"{split[key]:.4f}" + (f" [{lo:.4f}, {hi:.4f}]" if lo is not None else "")


def write_csv(name: str, header: list[str], rows: list[list]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS / name, buf.getvalue())


def job_csv(name: str, rows: list[dict], label_key: str, extra: Iterable[tuple[str, str | None, str]] = ()) -> None:
    """One CSV row per job: dataset, its label (``label_key``), the shared :data:`JOB_COLUMNS` and ``extra`` ones."""
    cols = [*JOB_COLUMNS, *extra]

    def value(r: dict, sec: str | None, key: str):
        return (r.get(sec) or {}).get(key) if sec else r.get(key)

    write_csv(name, ["dataset", label_key] + [c for c, _, _ in cols],
              [[r["table_dataset"], r[label_key]] + [value(r, sec, k) for _, sec, k in cols] for r in rows])


def provenance(rows: list[dict], command: str, seconds: float) -> tuple[str, str]:
    """The table header's command line and its ``commit(s) · hardware · time · date`` line."""
    import time

    hw = next((r.get("hardware") for r in rows if r.get("hardware")), "")
    commit = ", ".join(sorted({str(r.get("commit")) for r in rows if r.get("commit")}))
    return (f"Command: `{command}`  ", f"commit(s) `{commit}` · hardware: {hw} · sum of job wall times {seconds:.0f} s "
            f"· generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def write_md(name: str, lines: list[str]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS / name, "\n".join(lines))


def grid_args(doc: str, datasets: list[str], runs_subdir: str):
    """The command line shared by the grid benchmarks: datasets, seed, runs folder, parallelism, timeout, and
    --only-table (rebuild the results from existing runs)."""
    import argparse

    from reproduce import ROOT

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=list(datasets), choices=list(datasets))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", default=str(ROOT / "benchmarks" / "runs" / runs_subdir))
    ap.add_argument("--parallel", type=int, default=2,
                    help="datasets run at once (each job gets train.num_threads = cores / parallel)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per sweep")
    ap.add_argument("--only-table", action="store_true", help="rebuild the table from existing runs, run nothing")
    ap.add_argument("--keep-finished", action="store_true", help="run only the sweeps that have no finished folder")
    return ap.parse_args()


def run_grid(args, run_dataset: Callable[[str, object], list[dict]]) -> list[dict]:
    """``run_dataset(dataset, args)`` over ``args.datasets``, ``args.parallel`` at once."""
    return over_datasets(lambda d: run_dataset(d, args), args.datasets, args.parallel)


def threads_per_job(parallel: int) -> str:
    """``train.num_threads=N``: the machine's cores shared by the jobs that run at once."""
    import os

    return f"train.num_threads={max(1, (os.cpu_count() or 1) // max(1, parallel))}"


def grid_main(doc: str, datasets: list[str], script: str, runs_subdir: str,
              run_dataset: Callable[[str, object], list[dict]],
              write: Callable[[list[dict], list[str], str, float], dict | None]) -> None:
    """The main of a grid benchmark: parse :func:`grid_args`, run every dataset, ``write(rows, datasets, command,
    seconds)`` the results (it may return extra keys for the last line), print the JSON last line
    ``{"seconds", "datasets", "rows", "peak_rss_gb", ...}``."""
    import json
    import time

    args = grid_args(doc, datasets, runs_subdir)
    t0 = time.time()
    rows = run_grid(args, run_dataset)
    command = f"HETREC_DATA=... python benchmarks/{script} --datasets {' '.join(args.datasets)} --seed {args.seed}"
    extra = write(rows, args.datasets, command, sum(float(r.get("wall_seconds") or 0) for r in rows)) or {}
    print(json.dumps({"seconds": round(time.time() - t0, 1), **extra, "datasets": args.datasets, "rows": len(rows),
                      "peak_rss_gb": max((float(r.get("peak_rss_gb") or 0) for r in rows), default=0.0)}))
