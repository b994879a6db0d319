"""Post-training choices on validation (train.recency, train.new_users) across timestamped datasets:
benchmarks/results/recency.*

The shipped default `hetrec-train` with the two post-training choices switched off and on: `train.recency` (the item
bias shifted towards recent sales when validation prefers it; hetrec/train/recency.py) and `train.new_users` (users
without any training interaction get MostPop or a recency-weighted popularity list when it beats the model on such
validation users; hetrec/train/new_users.py), beside MostPop, ItemKNN and EASE, on every dataset here that has real
timestamps, split at random and by one global time cut. Recall@20 with per-user bootstrap 95% intervals (1,000
resamples), and the test users without any training interaction ("new", common in time splits) on their own. Choices
are read on validation; test is reported.

    HETREC_DATA=/work/shared/datasets .venv/bin/python benchmarks/recency.py          # ~25 min here
    HETREC_DATA=... .venv/bin/python benchmarks/recency.py --only-table

Last line: JSON {"seconds", "datasets"}.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from grid import ci, grid_main, job_csv, provenance, run_sweeps, write_md

ML100K = ["dataset=ml100k", "dataset.split=null"]  # all of u.data (the official u1..u5 files carry no time cut)
DATASETS: dict[str, list[str]] = {
    "synthetic": [],
    "synthetic-time": ["graph.split.strategy=global_time"],
    "ml-100k": [*ML100K, "graph.split.strategy=random"],
    "ml-100k-time": [*ML100K, "graph.split.strategy=global_time"],
    "diginetica": ["dataset=diginetica"],
    "diginetica-time": ["dataset=diginetica", "graph.split.strategy=global_time"],
}
SWEEPS: dict[str, list[str]] = {
    "gnn": ["train.recency=off,auto", "train.new_users=off,auto"],
    "baselines": ["model=baseline/mostpop,baseline/itemknn,baseline/ease"],
}
COMMON = ["evaluate.bootstrap=1000", "evaluate.activity_quantiles=[0.2,0.8]"]
GNN = {("off", "off"): "model alone", ("auto", "off"): "+ recency", ("off", "auto"): "+ new users",
       ("auto", "auto"): "+ recency + new users (default)"}
DEFAULT = GNN[("auto", "auto")]
LABELS = [*GNN.values(), "MostPop", "ItemKNN", "EASE"]


def label(m: dict) -> str:
    ov = dict(o.split("=", 1) for o in m.get("overrides", "").split() if "=" in o)
    if "model" in ov:
        return {"baseline/mostpop": "MostPop", "baseline/itemknn": "ItemKNN", "baseline/ease": "EASE"}[ov["model"]]
    return GNN[(ov.get("train.recency", "auto"), ov.get("train.new_users", "auto"))]


def run_dataset(name: str, args) -> list[dict]:
    rows = run_sweeps(name, [(k, DATASETS[name] + ov + COMMON) for k, ov in SWEEPS.items()], args)
    for m in rows:
        m["label"] = label(m)
    return rows


def _new(split: dict) -> str:
    if not split or "new/recall@20" not in split:
        return "–"
    return f"{split['new/recall@20']:.4f} ({int(split['new/num_users'])})"


def write(rows: list[dict], datasets: list[str], command: str, seconds: float) -> None:
    job_csv("recency.csv", rows, "label")
    cell = {(r["table_dataset"], r["label"]): r for r in rows}
    lines = ["# Post-training choices (`train.recency`, `train.new_users`), on validation across datasets", "",
             *provenance(rows, command, seconds), "",
             "Each job is the shipped default `hetrec-train` (gcn / sampled softmax + item bias) on the dataset's "
             "split, with the two choices made on validation after training switched off or on: `recency` shifts the "
             "item bias towards recent sales (half-life 1/16 ... 1 of the training period, strength 0.5 or 1, or "
             "none); `new users` gives the users without any training interaction MostPop or a recency-weighted "
             "popularity list (half-life 1/16 ... 1) when it beats the model on such validation users (chosen "
             "jointly with the recency shift). Cells: Recall@20 [per-user bootstrap 95% interval]. `new`: test users "
             "without any training interaction, Recall@20 (users).", ""]
    for title, key in (("Validation (what the choice is made on)", "val"), ("Test (reported, never used)", "test")):
        lines += [f"## {title}", "", "| model | " + " | ".join(datasets) + " |", "|---|" + "---|" * len(datasets)]
        for lab in LABELS:
            lines.append(f"| {lab} | " + " | ".join(ci(cell[(d, lab)].get(key, {})) if (d, lab) in cell else "–"
                                                   for d in datasets) + " |")
        lines.append("")
    lines += ["## Choices of the default and new users (test)", "", "| dataset | recency (half-life of the training "
              "period, strength) | new users' list (validation R@20 of the model -> chosen, users) | new users test "
              "R@20: " + " / ".join(GNN.values()) + " / MostPop |", "|---|---|---|---|"]
    for d in datasets:
        auto = cell.get((d, DEFAULT))
        if not auto:
            continue
        rec = auto.get("recency") or {}
        ch = rec.get("chosen")
        chosen = "skipped: " + rec["skipped"] if "skipped" in rec else (
            f"{ch['half_life']:g}, {ch['strength']:g}" if ch else "none (unchanged bias kept)")
        nu = auto.get("new_users") or {}
        if "skipped" in nu:
            lists = "skipped: " + nu["skipped"]
        elif nu.get("valid"):
            v = nu["valid"]
            lists = f"{nu['chosen']} ({v['model']:.4f} -> {v[nu['chosen']]:.4f}, {nu['num_users']})"
        else:
            lists = "–"
        news = " / ".join(_new((cell.get((d, lab)) or {}).get("test", {})) for lab in (*GNN.values(), "MostPop"))
        lines.append(f"| {d} | {chosen} | {lists} | {news} |")
    lines += ["", "Per-job rows: `recency.csv`.", ""]
    write_md("recency.md", lines)


def main() -> None:
    grid_main(__doc__, list(DATASETS), "recency.py", "recency", run_dataset, write)


if __name__ == "__main__":
    main()
