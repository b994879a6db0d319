"""Reproduce the result tables: datasets x models x seeds -> benchmarks/results/<table>.{md,csv,png}.

A table is a short list of Hydra multiruns of ``hetrec-train`` (``python -m hetrec.train.app -m ...``): baselines
(``model=baseline/<name>``) and GNNs (``experiment=<name>`` or ``encoder=<name>``) run through the same app, data,
split and evaluator, each sweep over ``seed=<seeds>``. Hyperparameters are NOT repeated here: a sweep names config
options plus, where a table needs it, a split override. Each sweep writes ``<runs>/<table>/<sweep>/<job>/metrics.json``
(with its own wall time and peak memory: ``hetrec.evaluate.runner.run_facts``) and Hydra's ``summary.md``; it runs
into ``<sweep>.partial`` and replaces the previous results only when it finished.

    HETREC_DATA=/work/shared/datasets .venv/bin/python benchmarks/reproduce.py --tables ml-100k-u1 groceries gowalla \
        [--seeds 0 1 2] [--sweeps baselines gnn] [--only-table]

Tables:
  ml-100k-u1  all baselines and all encoders on the given u1 split with 10% of u1.base carved out per user for
              validation (the protocol: select on valid; GNNs refit on train + valid, conf/experiment/ml100k_u1_*),
              plus "full train" baseline rows trained on all of u1.base as PEERS.md's peers were.
  gowalla     baselines that fit this machine (MostPop, ItemKNN, MF-BPR with a small epoch budget), encoders at a
              fixed epoch budget, the training-free GF-CF graph filter (model=graph_filter), and the LightGCN and
              GF-CF papers' published rows, marked as published.
  groceries   baskets as pseudo-users, 20% of each basket's items held out: basket completion (rank the held-out
              items given the rest) and held-out co-purchase pairs (rank one item given the other; "pairs" columns),
              association rules beside embedding similarity (MF-BPR, DeepWalk, LightGCN item embeddings).

Last line: JSON {"seconds": total wall time, "peak_rss_gb": max over rows, "tables": {...}}.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

ML_U1 = ["dataset=lightgcn", "dataset.name=ml-100k-u1"]
FULL_TRAIN = ["graph.split.valid_ratio=0"]  # PEERS.md protocol: train on all of u1.base, no validation carve-out
GOWALLA = ["dataset=lightgcn", "dataset.name=gowalla-lightgcn", "graph.split.valid_ratio=0",
           "graph.features.enabled=false"]
YELP = ["dataset=lightgcn", "dataset.name=yelp2018-lightgcn", "graph.features.enabled=false"]
GROCERIES = ["dataset=baskets", "graph.split.strategy=random", "graph.split.valid_ratio=0.0",
             "graph.split.test_ratio=0.2", "evaluate.associations=true"]


def _models(*names: str) -> str:
    return "model=" + ",".join(f"baseline/{n}" for n in names)


# table -> [(sweep name, row-label suffix, hetrec-train overrides)]; each is one `hetrec-train -m` (plus seeds).
# Settings beyond the data and split live in conf/ (model/baseline/, experiment/), never here.
TABLES: dict[str, list[tuple[str, str, list[str]]]] = {
    "ml-100k-u1": [
        ("baselines", "", ML_U1 + [_models("mostpop", "itemknn", "ease", "mf_bpr", "assoc_rules", "ppr", "deepwalk")]),
        ("baselines-full-train", "full train", ML_U1 + FULL_TRAIN + [_models("mostpop", "itemknn", "ease")]),
        ("gnn", "", ["experiment=ml100k_u1_lightgcn,ml100k_u1_gcn,ml100k_u1_rgcn,ml100k_u1_sage"]),
    ],
    "gowalla": [
        ("baselines", "", GOWALLA + [_models("mostpop", "itemknn")]),
        ("mf-bpr", "5 epochs", ["experiment=gowalla_mf_bpr"]),
        ("lightgcn", "", ["experiment=gowalla_lightgcn", "train.max_epochs=5,20"]),  # two epoch budgets
        ("sage", "minibatch, 5 epochs", ["experiment=gowalla_sage"]),
        ("graph-filter", "", GOWALLA + ["model=graph_filter"]),  # training-free GF-CF, the paper's k=256, alpha=0.3
    ],
    "yelp2018": [
        ("baselines", "", YELP + ["graph.split.valid_ratio=0", _models("mostpop", "itemknn")]),
        ("graph-filter", "", YELP + ["graph.split.valid_ratio=0", "model=graph_filter"]),
        # the shipped default, with its 10% validation carve-out: early stopping and the time-to-quality curve
        ("gcn", "default, 10% validation, <= 12 epochs", YELP + ["train.max_epochs=12", "train.num_threads=1"]),
    ],
    "groceries": [
        ("assoc-rules", "", GROCERIES + [_models("assoc_rules"), "model.metric=confidence,lift"]),
        ("baselines", "", GROCERIES + [_models("itemknn", "ease", "mf_bpr", "deepwalk", "ppr", "mostpop")]),
        ("lightgcn", "item embeddings", ["experiment=groceries_lightgcn"]),
    ],
}
NAMES = {"baseline/mostpop": "MostPop", "baseline/itemknn": "ItemKNN", "baseline/ease": "EASE",
         "baseline/mf_bpr": "MF-BPR", "baseline/assoc_rules": "AssocRules", "baseline/ppr": "PPR",
         "baseline/deepwalk": "DeepWalk", "graph_filter": "GF-CF"}
_NOT_IN_LABEL = {"seed", "model", "experiment", "encoder"}

# Figures measured or published elsewhere, shown beside ours and marked by source (never mixed into our rows).
REFERENCE = {
    "ml-100k-u1": [
        ("EASE λ=250 (PEERS.md)", "peer", {"recall@20": 0.3063, "ndcg@20": 0.5357}),
        ("ItemKNN k=100 (PEERS.md)", "peer", {"recall@20": 0.2697, "ndcg@20": 0.4779}),
        ("MostPopular (PEERS.md)", "peer", {"recall@20": 0.1487, "ndcg@20": 0.3006}),
        ("RecBole BPR (PEERS.md)", "peer", {"recall@20": 0.2761, "ndcg@20": 0.4958}),
        ("PyG LightGCN (PEERS.md)", "peer", {"recall@20": 0.2928, "ndcg@20": 0.5175}),
    ],
    "gowalla": [
        ("LightGCN (He et al., SIGIR 2020), published", "published", {"recall@20": 0.1830, "ndcg@20": 0.1554}),
        ("GF-CF (Shen et al., CIKM 2021), published", "published", {"recall@20": 0.1849, "ndcg@20": 0.1518}),
        ("ItemKNN k=100 (PEERS.md)", "peer", {"recall@20": 0.1270, "ndcg@20": 0.0936}),
        ("MostPopular (PEERS.md)", "peer", {"recall@20": 0.0416, "ndcg@20": 0.0317}),
    ],
    "yelp2018": [
        ("LightGCN (He et al., SIGIR 2020), published", "published", {"recall@20": 0.0649, "ndcg@20": 0.0530}),
        ("GF-CF (Shen et al., CIKM 2021), published", "published", {"recall@20": 0.0697, "ndcg@20": 0.0571}),
        ("XSimGCL (Yu et al., TKDE 2023), published (issue 12)", "published", {"recall@20": 0.0723}),
    ],
    "groceries": [],
}
PROTOCOL = {
    "ml-100k-u1": "Protocol: rows without a tag fit on u1.base minus a 10% per-user validation carve-out (`split` "
                  "0380dc…) and report u1.test; the GNNs select their epoch count on that validation set and then "
                  "refit on train + validation (`train.refit=true`, conf/experiment/ml100k_u1_*), so the baselines "
                  "that compare with them on equal data are the **full train** rows (fit on all of u1.base, no "
                  "hyperparameter chosen on test: EASE λ, ItemKNN k and MostPop are fixed in conf/model/baseline/), "
                  "which is also how PEERS.md's peers were run.",
    "gowalla": "Protocol: every row fits on all of train.txt (no validation carve-out, no selection) and reports "
               "test.txt; the encoders and MF-BPR run a fixed epoch budget that fits this machine, far from the "
               "LightGCN paper's ~1,000 epochs on a GPU.",
    "yelp2018": "Protocol: the baselines and GF-CF fit on all of train.txt (train.txt rebuilt from a sparse matrix, "
                "see the dataset's PROVENANCE.md) and report test.txt; the GNN row is the shipped default "
                "`hetrec-train` (gcn, sampled softmax + item bias) fit on train.txt minus a 10% per-user validation "
                "carve-out that chooses its epoch (early stopping), so it sees less data than the other rows.",
    "groceries": "Groceries has no users: each basket is a pseudo-user, 20% of its items are held out (seeded). "
                 "**Basket completion** = rank the held-out items of a basket given its other items. "
                 "**Pairs** = held-out co-purchases (two held-out items of one basket) ranked among all items given "
                 "the other item, with item-item scores (rule confidence/lift, ItemKNN similarity, cosine of "
                 "embeddings, EASE weights, PPR from the item node).",
}
METRICS = ["recall@10", "recall@20", "ndcg@10", "ndcg@20", "hit@20", "mrr@20", "coverage@20"]
COLUMNS = (["table", "model", "source", "seed", "dataset", "split_hash"] + [f"test_{m}" for m in METRICS]
           + ["val_recall@20", "val_ndcg@20", "pairs_recall@20", "pairs_ndcg@20", "pairs_hit@20",
              "train_seconds", "eval_seconds", "wall_seconds", "peak_rss_gb", "commit", "hardware", "config",
              "overrides"])


def run_sweep(sweep_dir: Path, overrides: list[str], seeds: list[int], timeout: float) -> bool:
    """One ``hetrec-train -m`` into ``<sweep_dir>.partial``, renamed to ``sweep_dir`` when it finished."""
    partial = sweep_dir.with_name(sweep_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    cmd = [sys.executable, "-m", "hetrec.train.app", "-m", *overrides, "seed=" + ",".join(map(str, seeds)),
           "train.progress=false", f"hydra.sweep.dir={partial}"]
    print(f"  hetrec-train -m {' '.join(cmd[4:-1])}", flush=True)
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"  timed out after {timeout:.0f} s; the previous results of this sweep are kept", flush=True)
        return False
    if proc.returncode != 0:
        print(f"  failed (exit {proc.returncode}); the previous results are kept:\n{proc.stderr[-2000:]}", flush=True)
        return False
    shutil.rmtree(sweep_dir, ignore_errors=True)
    partial.rename(sweep_dir)
    return True


def sweep_jobs(table: str, sweep: str, suffix: str, overrides: list[str], sweep_dir: Path) -> list[dict]:
    """The jobs of a finished sweep as metrics dicts with a row label: the model's name, the sweep's suffix and the
    overrides that vary inside the sweep (other than seed and the model choice)."""
    varied = {o.split("=", 1)[0] for o in overrides if "," in o.split("=", 1)[-1]} - _NOT_IN_LABEL
    jobs = []
    for mfile in sorted(sweep_dir.glob("*/metrics.json"), key=lambda p: int(p.parent.name)):
        m = json.loads(mfile.read_text())
        job_ov = [str(o) for o in yaml.safe_load((mfile.parent / ".hydra" / "overrides.yaml").read_text())]
        if m.get("status") != "ok":
            print(f"  [{table}/{sweep}] job {mfile.parent.name} failed: {m.get('error')}", flush=True)
            continue
        tags = [suffix] if suffix else []
        tags += [o for o in job_ov if o.split("=", 1)[0] in varied]
        name = NAMES.get(m["encoder"], m["encoder"])
        m["row_label"] = name + (f" ({', '.join(tags)})" if tags else "")
        m["overrides"] = " ".join(job_ov)
        m["run_dir"] = str(mfile.parent)
        jobs.append(m)
    return jobs


def to_row(table: str, m: dict, source: str) -> dict:
    test, val, pairs = m.get("test", {}), m.get("val", {}), m.get("associations", {})
    r = {
        "table": table, "model": m.get("row_label") or m.get("encoder", "?"), "source": source,
        "seed": m.get("seed", ""), "dataset": m.get("dataset", ""), "split_hash": m.get("split_hash", ""),
        "val_recall@20": val.get("recall@20", ""), "val_ndcg@20": val.get("ndcg@20", ""),
        "pairs_recall@20": pairs.get("recall@20", ""), "pairs_ndcg@20": pairs.get("ndcg@20", ""),
        "pairs_hit@20": pairs.get("hit@20", ""),
        "train_seconds": m.get("train_seconds", ""), "eval_seconds": m.get("eval_seconds", ""),
        "wall_seconds": m.get("wall_seconds", m.get("subprocess_seconds", "")),
        "peak_rss_gb": m.get("peak_rss_gb", ""), "commit": m.get("commit", ""), "hardware": m.get("hardware", ""),
        "config": json.dumps(m.get("config", m.get("encoder_config", "")), sort_keys=True),
        "overrides": m.get("overrides", ""), "run_dir": m.get("run_dir", ""),
    }
    for k in METRICS:
        r[f"test_{k}"] = test.get(k, "")
    return r


def _fmt(v, nd=4) -> str:
    if v == "" or v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def _mean_rows(rows: list[dict]) -> list[dict]:
    """One line per model: mean (± std over seeds) of the numeric columns."""
    import numpy as np

    out, order = {}, []
    for r in rows:
        if r["model"] not in out:
            out[r["model"]] = []
            order.append(r["model"])
        out[r["model"]].append(r)
    merged = []
    for name in order:
        group = out[name]
        first = dict(group[0])
        first["n_seeds"] = len(group)
        for c in COLUMNS:
            vals = [g[c] for g in group if isinstance(g[c], (int, float)) and not isinstance(g[c], bool)]
            if len(vals) == len(group) and c not in ("seed",):
                first[c] = float(np.mean(vals))
                first[c + "_std"] = float(np.std(vals, ddof=1)) if len(vals) > 1 else None  # sample std
        merged.append(first)
    return merged


def write_table(table: str, rows: list[dict], refs, command: str, seconds: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hetrec.io import atomic_write, atomic_write_text

    RESULTS.mkdir(parents=True, exist_ok=True)
    with atomic_write(RESULTS / f"{table}.csv") as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in COLUMNS})
        for label, source, vals in refs:
            w.writerow({"table": table, "model": label, "source": source,
                        **{f"test_{k}": v for k, v in vals.items()}})

    merged = _mean_rows(rows)
    hw = next((r["hardware"] for r in rows if r.get("hardware")), "")
    commit = ", ".join(sorted({r["commit"] for r in rows if r.get("commit")}))
    assoc = table == "groceries"
    lines = [
        f"# {table}",
        "",
        f"Command: `{command}`  ",
        f"Commit(s) of the rows: `{commit}` · hardware: {hw} · sum of row wall times {seconds:.0f} s · "
        f"generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        "Full-catalogue ranking, each user's training items excluded (Recall@K = hits/|test|, NDCG@K "
        "binary with IDCG over min(|test|, K), averaged over users with test items). Test metrics unless marked; "
        "`val` = validation split. Mean over seeds (± sample std when more than one and not 0).",
        "",
    ]
    lines += [PROTOCOL[table], ""]
    head = ["model", "source", "seeds", "split", "recall@10", "recall@20", "ndcg@10", "ndcg@20", "hit@20", "mrr@20",
            "cov@20"]
    head += ["pairs recall@20", "pairs ndcg@20", "pairs hit@20"] if assoc else ["val recall@20"]
    head += ["train s", "wall s", "peak GB"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cell(r, c):
        v = _fmt(r.get(c, ""))
        sd = r.get(c + "_std")
        return f"{v} ± {sd:.4f}" if sd and sd >= 5e-5 else v  # no "± 0.0000" for seed-free rows

    for r in merged:
        vals = [r["model"], r["source"].split(" (run")[0], str(r["n_seeds"]), r.get("split_hash", "") or "–"]
        vals += [cell(r, f"test_{m}") for m in METRICS]
        vals += ([cell(r, "pairs_recall@20"), cell(r, "pairs_ndcg@20"), cell(r, "pairs_hit@20")] if assoc
                 else [cell(r, "val_recall@20")])
        vals += [_fmt(r.get("train_seconds", ""), 2), _fmt(r.get("wall_seconds", ""), 1),
                 _fmt(r.get("peak_rss_gb", ""), 2)]
        lines.append("| " + " | ".join(vals) + " |")
    for label, source, v in refs:
        vals = [f"*{label}*", source, "–", "–", _fmt(v.get("recall@10", "")), _fmt(v.get("recall@20", "")),
                _fmt(v.get("ndcg@10", "")), _fmt(v.get("ndcg@20", "")), "–", "–", "–"]
        vals += ["–"] * (3 if assoc else 1) + ["–", "–", "–"]
        lines.append("| " + " | ".join(vals) + " |")
    curves = time_to_quality(table, rows)
    lines += ["", f"Per-seed rows, configs and hardware: `{table}.csv`; plot: `{table}.png`."
              + (f" Time to quality (validation Recall@20 against training seconds, GNN rows with a validation "
                 f"split): `{table}_time_to_quality.png` ({curves} curves)." if curves else ""), ""]
    atomic_write_text(RESULTS / f"{table}.md", "\n".join(lines))

    labels = [r["model"] for r in merged] + [lab for lab, _, _ in refs]
    rec = [r.get("test_recall@20") or 0.0 for r in merged] + [v.get("recall@20", 0.0) for _, _, v in refs]
    ndcg = [r.get("test_ndcg@20") or 0.0 for r in merged] + [v.get("ndcg@20", 0.0) for _, _, v in refs]
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(labels) + 2), 4.5))
    x = range(len(labels))
    ax.bar([i - 0.2 for i in x], rec, width=0.4, label="Recall@20")
    ax.bar([i + 0.2 for i in x], ndcg, width=0.4, label="NDCG@20")
    for i in range(len(merged), len(labels)):
        ax.axvspan(i - 0.5, i + 0.5, color="0.9", zorder=0)
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=8)
    ax.set_title(f"{table}: test Recall@20 / NDCG@20 (grey: peer/published figures)")
    ax.legend()
    fig.tight_layout()
    with atomic_write(RESULTS / f"{table}.png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def time_to_quality(table: str, rows: list[dict]) -> int:
    """``<table>_time_to_quality.png``: validation Recall@20 after each epoch against the training seconds so far
    (train_log.jsonl ``elapsed``), one curve per job that validated; returns the number of curves (0: no PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hetrec.io import atomic_write

    curves = []
    for r in rows:
        log = Path(r["run_dir"]) / "train_log.jsonl" if r.get("run_dir") else None
        if log is None or not log.is_file():
            continue
        epochs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        pts = [(float(e["elapsed"]), float(e["val"]["recall@20"])) for e in epochs
               if e.get("val") and "recall@20" in e["val"]]
        if pts:
            curves.append((f"{r['model']} (seed {r['seed']})", pts))
    if not curves:
        return 0
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, pts in curves:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", label=label)
    ax.set_xlabel("training seconds (this machine)")
    ax.set_ylabel("validation Recall@20")
    ax.set_title(f"{table}: time to quality")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_write(RESULTS / f"{table}_time_to_quality.png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return len(curves)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", nargs="+", default=["ml-100k-u1", "groceries"], choices=sorted(TABLES))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--sweeps", nargs="*", default=None,
                    help="rerun only these sweeps of each table (names in TABLES); the others are read from their runs")
    ap.add_argument("--runs", default=str(ROOT / "benchmarks" / "runs"), help="where the sweep folders go")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per sweep")
    ap.add_argument("--only-table", action="store_true", help="rebuild tables from existing sweep folders, run nothing")
    args = ap.parse_args()
    if not os.environ.get("HETREC_DATA"):
        sys.exit("set HETREC_DATA to the datasets folder, e.g. HETREC_DATA=/work/shared/datasets")
    t0 = time.perf_counter()
    runs = Path(args.runs)
    summary, peak = {}, 0.0
    for table in args.tables:
        t = time.perf_counter()
        rows = []
        for sweep, suffix, overrides in TABLES[table]:
            sweep_dir = runs / table / sweep
            if not args.only_table and (args.sweeps is None or sweep in args.sweeps):
                print(f"[{table}] sweep {sweep}, seeds {args.seeds}", flush=True)
                sweep_dir.parent.mkdir(parents=True, exist_ok=True)
                run_sweep(sweep_dir, overrides, args.seeds, args.timeout)
            if not sweep_dir.is_dir():
                print(f"[{table}] sweep {sweep}: no results in {sweep_dir}", flush=True)
                continue
            for m in sweep_jobs(table, sweep, suffix, overrides, sweep_dir):
                rows.append(to_row(table, m, "ours"))
                peak = max(peak, float(m.get("peak_rss_gb") or 0.0))
                print(f"  {m['row_label']} seed={m.get('seed')}: test recall@20="
                      f"{m.get('test', {}).get('recall@20', float('nan')):.4f} ndcg@20="
                      f"{m.get('test', {}).get('ndcg@20', float('nan')):.4f} wall={m.get('wall_seconds')}s "
                      f"rss={m.get('peak_rss_gb')}GB", flush=True)
        secs = time.perf_counter() - t
        row_secs = sum(float(r["wall_seconds"]) for r in rows if isinstance(r.get("wall_seconds"), (int, float)))
        seeds = sorted({int(r["seed"]) for r in rows if r.get("seed") != ""})
        cmd = (f"HETREC_DATA=... python benchmarks/reproduce.py --tables {table} --seeds {' '.join(map(str, seeds))}"
               f"  (sweeps: {'; '.join('hetrec-train -m ' + ' '.join(ov) for _, _, ov in TABLES[table])})")
        write_table(table, rows, REFERENCE[table], cmd, row_secs)
        summary[table] = {r["model"] + f" s{r['seed']}": {"recall@20": r["test_recall@20"],
                                                          "ndcg@20": r["test_ndcg@20"]}
                          for r in rows}
        print(f"wrote {RESULTS / table}.md/.csv/.png ({len(rows)} rows, {secs:.0f} s)", flush=True)
    print(json.dumps({"seconds": round(time.perf_counter() - t0, 1), "peak_rss_gb": round(peak, 3),
                      "tables": summary}))


if __name__ == "__main__":
    main()
