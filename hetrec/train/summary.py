"""Sweep summary: a Hydra callback that tabulates every job of a multirun (CSV + markdown) with mean ± std over
seeds, grouped by the other overrides. Failed jobs are listed with their error, never dropped."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from hetrec.io import atomic_write_text

__all__ = ["SweepSummary", "summarize_sweep"]

METRIC_KEYS = ("recall@20", "ndcg@20", "recall@10", "ndcg@10", "hit@20", "mrr@20", "coverage@20")


def _job_rows(sweep_dir: Path) -> list[dict[str, Any]]:
    rows = []
    for job in sorted((p for p in sweep_dir.iterdir() if p.is_dir()), key=lambda p: (len(p.name), p.name)):
        ov_file = job / ".hydra" / "overrides.yaml"
        if not ov_file.exists():
            continue
        overrides = [str(o) for o in OmegaConf.load(ov_file)]
        mfile = job / "metrics.json"
        m = json.loads(mfile.read_text()) if mfile.exists() else {"status": "failed", "error": "no metrics.json"}
        seed = next((o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0].lstrip("+") == "seed"), m.get("seed"))
        group = " ".join(o for o in overrides if o.split("=", 1)[0].lstrip("+") != "seed") or "(defaults)"
        row: dict[str, Any] = {
            "job": job.name,
            "settings": group,
            "seed": seed,
            "status": m.get("status", "ok"),
            "epochs": m.get("epochs"),
            "best_epoch": m.get("best_epoch"),
            "train_seconds": m.get("train_seconds"),
        }
        for split in ("val", "test"):
            for k in METRIC_KEYS:
                row[f"{split}/{k}"] = (m.get(split) or {}).get(k)
        test = m.get("test") or {}
        lo, hi = test.get("recall@20_ci_low"), test.get("recall@20_ci_high")
        row["test/recall@20 95% CI"] = f"[{lo:.4f}, {hi:.4f}]" if lo is not None and hi is not None else None
        row["error"] = m.get("error", "")
        rows.append(row)
    return rows


def _mean_std(values: list[float]) -> str:
    if not values:
        return ""
    mu = sum(values) / len(values)
    sd = math.sqrt(sum((v - mu) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return f"{mu:.4f} ± {sd:.4f}"


def _md_cell(v: Any) -> str:
    """One markdown table cell: a job's error may hold newlines (a traceback) and ``|``, which would end the row or
    the cell; they become ``<br>`` and ``\\|``."""
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4f}"
    text = str(v).replace("\\", "\\\\").replace("|", "\\|").replace("\r\n", "\n").replace("\r", "\n")
    return "<br>".join(line.strip() for line in text.strip().split("\n"))


def _md_table(header: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_md_cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def summarize_sweep(sweep_dir: str | Path) -> tuple[Path, Path]:
    """Write ``summary.csv`` (one row per job) and ``summary.md`` (per job + mean ± std over seeds per setting) into
    ``sweep_dir``; return their paths."""
    sweep_dir = Path(sweep_dir)
    rows = _job_rows(sweep_dir)
    cols = list(rows[0]) if rows else ["job", "settings", "seed", "status"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols)
    w.writeheader()
    for r in rows:
        w.writerow(r)
    csv_path = sweep_dir / "summary.csv"
    atomic_write_text(csv_path, buf.getvalue())

    split = "test" if any(r.get("test/recall@20") is not None for r in rows) else "val"
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["settings"], []).append(r)
    # Validation Recall@20 stands beside the test figures whenever the jobs have it: it is the column to choose
    # settings by (choosing by the test columns would leak the test split into model selection).
    metric_cols = [f"{split}/recall@20", f"{split}/ndcg@20"]
    if split == "test" and any(r.get("val/recall@20") is not None for r in rows):
        metric_cols.insert(0, "val/recall@20")
    agg_header = ["settings", "runs", "failed"] + metric_cols + ["train_seconds"]
    agg_rows = []
    for name, rs in groups.items():
        ok = [r for r in rs if r["status"] == "ok"]
        agg_rows.append(
            [name, len(rs), len(rs) - len(ok)]
            + [_mean_std([float(r[c]) for r in ok if r.get(c) is not None]) for c in metric_cols]
            + [_mean_std([float(r["train_seconds"]) for r in ok if r.get("train_seconds") is not None])]
        )
    job_header = ["job", "settings", "seed", "status", "best_epoch", "train_seconds", *metric_cols, "error"]
    if split == "test" and any(r.get("test/recall@20 95% CI") for r in rows):  # evaluate.bootstrap > 0
        job_header.insert(-1, "test/recall@20 95% CI")
    job_rows = [[r.get(c) for c in job_header] for r in rows]
    md = (
        f"# Sweep summary: {sweep_dir}\n\n## Mean ± std over seeds ({split} split)\n\n"
        + _md_table(agg_header, agg_rows)
        + "\n\n## Jobs\n\n"
        + _md_table(job_header, job_rows)
        + "\n"
    )
    md_path = sweep_dir / "summary.md"
    atomic_write_text(md_path, md)
    return csv_path, md_path


class SweepSummary(Callback):
    """Hydra callback (``hydra.callbacks`` in ``conf/config.yaml``): at the end of a multirun write the summary."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        if not sweep_dir.exists():
            return
        csv_path, md_path = summarize_sweep(sweep_dir)
        print(f"hetrec-train: sweep summary in {md_path} and {csv_path}")
        print(md_path.read_text())
