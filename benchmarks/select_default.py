"""Choose the default encoder and objective on validation across datasets: benchmarks/results/default_selection.*

Every dataset runs the same `hetrec-train -m` sweeps: the three built-in encoders with their shipped configs
(conf in hetrec/models/conf/encoder/) crossed with the objective candidates, the paper-style SAGE that was the default
before (reference), and MostPop / ItemKNN / EASE, all with per-user bootstrap 95% intervals on validation and test.
The choice is made on **validation** Recall@20 only (mean rank over the datasets, ties by mean validation Recall@20);
test figures are reported beside it, never used.

    HETREC_DATA=/work/shared/datasets .venv/bin/python benchmarks/select_default.py            # ~25 min here
    HETREC_DATA=... .venv/bin/python benchmarks/select_default.py --datasets synthetic ml-100k-u1 --only-table

Last line: JSON {"seconds", "chosen", "datasets", "peak_rss_gb"}.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from grid import ci, grid_main, job_csv, provenance, run_sweeps, write_md

# dataset -> data and split overrides (no model settings: those are the candidates below and the shipped configs)
DATASETS: dict[str, list[str]] = {
    "synthetic": [],
    "synthetic-time": ["graph.split.strategy=global_time"],
    "ml-100k-u1": ["dataset=lightgcn", "dataset.name=ml-100k-u1"],
    "groceries": ["dataset=baskets", "graph.split.strategy=random", "graph.split.valid_ratio=0.1",
                  "graph.split.test_ratio=0.2"],
    "diginetica": ["dataset=diginetica"],
    "diginetica-time": ["dataset=diginetica", "graph.split.strategy=global_time"],
    "gowalla": ["dataset=lightgcn", "dataset.name=gowalla-lightgcn", "graph.features.enabled=false"],
}
# sweep name -> overrides; the candidates for the default are the "gnn" sweep's jobs
SWEEPS: dict[str, list[str]] = {
    "gnn": ["encoder=gcn,rgcn,sage", "objective=sampled_softmax,bpr", "objective.item_bias=false,true"],
    # the default before this table: GraphSAGE with the paper's settings
    "reference": ["encoder=sage", "encoder.aggregator=mean", "encoder.activation=relu", "encoder.layer_combine=last",
                  "encoder.relation_aggregate=sum", "+label=sage-paper"],
    "baselines": ["model=baseline/mostpop,baseline/itemknn,baseline/ease"],
}
# Gowalla is too slow for the whole grid here: the shipped default (chosen on the other datasets) and the references
GOWALLA_SWEEPS = {"gnn": ["encoder=gcn", "objective=sampled_softmax", "objective.item_bias=true",
                          "train.max_epochs=3"],
                  "baselines": ["model=baseline/mostpop,baseline/itemknn"],
                  # the same default given 12 epochs (~9 min here): its own row
                  "gnn-12-epochs": ["encoder=gcn", "objective=sampled_softmax", "objective.item_bias=true",
                                    "train.max_epochs=12"]}
COMMON = ["evaluate.bootstrap=1000"]


def label(m: dict) -> str:
    ov = dict(o.split("=", 1) for o in m.get("overrides", "").split() if "=" in o)
    if "model" in ov:
        return {"baseline/mostpop": "MostPop", "baseline/itemknn": "ItemKNN", "baseline/ease": "EASE"}[ov["model"]]
    if "+label" in ov:
        return ov["+label"]
    bias = str(ov.get("objective.item_bias")).lower() == "true"
    return f"{ov.get('encoder')} / {ov.get('objective')}" + (" + item bias" if bias else "")


def run_dataset(name: str, args) -> list[dict]:
    sweeps = GOWALLA_SWEEPS if name == "gowalla" else SWEEPS
    rows = run_sweeps(name, [(k, DATASETS[name] + ov + COMMON) for k, ov in sweeps.items()], args)
    for m in rows:
        m["label"] = label(m) + (" (12 epochs)" if m["sweep"] == "gnn-12-epochs" else "")
    return rows


def choose(rows: list[dict], datasets: list[str]) -> tuple[str, dict]:
    """Mean rank of validation Recall@20 over the datasets where a candidate ran on all (GNN candidates only)."""
    cand = sorted({r["label"] for r in rows if r["sweep"] == "gnn"})
    grid = [d for d in datasets if all(any(r["label"] == c and r["table_dataset"] == d for r in rows) for c in cand)]
    ranks: dict[str, list[float]] = {c: [] for c in cand}
    means: dict[str, list[float]] = {c: [] for c in cand}
    for d in grid:
        val = {r["label"]: r["val"]["recall@20"] for r in rows if r["table_dataset"] == d and r["label"] in cand}
        order = sorted(val, key=lambda c: -val[c])
        for c in cand:
            ranks[c].append(order.index(c) + 1)
            means[c].append(val[c])
    score = {c: (sum(ranks[c]) / max(len(ranks[c]), 1), -sum(means[c]) / max(len(means[c]), 1)) for c in cand}
    best = min(score, key=lambda c: score[c])
    return best, {"grid": grid, "mean_rank": {c: round(score[c][0], 2) for c in cand}}


def write(rows: list[dict], datasets: list[str], chosen: str, info: dict, command: str, seconds: float) -> None:
    job_csv("default_selection.csv", rows, "label")
    labels = []
    for r in rows:
        if r["label"] not in labels:
            labels.append(r["label"])
    cell = {(r["table_dataset"], r["label"]): r for r in rows}
    lines = [
        "# Default encoder and objective, chosen on validation across datasets", "",
        *provenance(rows, command, seconds), "",
        "Each cell: Recall@20 with its per-user bootstrap 95% interval (1,000 resamples), full-catalogue ranking with "
        "training items excluded. Encoders use their shipped configs (hetrec/models/conf/encoder/*.yaml) and the "
        "shipped training defaults (conf/train/default.yaml: full graph, Adam 0.01, batch 8192, up to 30 epochs, early "
        "stopping on validation Recall@20); `sage-paper` is the default before this table (mean aggregator, ReLU, "
        "last layer, summed relations). Splits: synthetic and ml-100k-u1 per-user random / given; `-time` rows one "
        "global time cut (no future information in training; on DIGINETICA 98% of the time-split test users have no "
        "training purchase, so that row measures the cold-user fallback); Groceries baskets as pseudo-users; Gowalla "
        "3 epochs, and 12 epochs in its own row (the full grid does not fit this machine: only the chosen default and "
        "the references ran).", "",
        f"**Chosen on validation (mean rank of validation Recall@20 over {', '.join(info['grid'])}): `{chosen}`** "
        f"(mean ranks: " + ", ".join(f"{c} {v}" for c, v in sorted(info["mean_rank"].items(), key=lambda x: x[1]))
        + ").", "",
    ]
    for split, key in (("Validation (the split the choice is made on)", "val"), ("Test (reported, never used)",
                                                                                  "test")):
        lines += [f"## {split}: Recall@20 [95% CI]", "", "| model | " + " | ".join(datasets) + " |",
                  "|---|" + "---|" * len(datasets)]
        for lab in labels:
            name = f"**{lab}**" if lab == chosen else lab
            lines.append(f"| {name} | " + " | ".join(ci(cell[(d, lab)].get(key, {})) if (d, lab) in cell else "–"
                                                     for d in datasets) + " |")
        lines.append("")
    lines += ["Bars (validation): the chosen default against MostPop and ItemKNN per dataset:", ""]
    for d in datasets:
        mp, knn = cell.get((d, "MostPop")), cell.get((d, "ItemKNN"))
        for lab in (x for x in labels if x.startswith(chosen) and (d, x) in cell and mp and knn):  # + longer budgets
            v, p, k = cell[(d, lab)]["val"]["recall@20"], mp["val"]["recall@20"], knn["val"]["recall@20"]
            lines.append(f"- {d}{lab[len(chosen):]}: {v:.4f} vs MostPop {p:.4f} "
                         f"({(v / max(p, 1e-12) - 1) * 100:+.1f}%), "
                         f"ItemKNN {k:.4f} ({(v / max(k, 1e-12) - 1) * 100:+.1f}%)")
    lines += ["", "Per-job rows (intervals, epochs, times, memory, overrides): `default_selection.csv`.", ""]
    write_md("default_selection.md", lines)



def main() -> None:
    def write_chosen(rows: list[dict], datasets: list[str], command: str, seconds: float) -> dict:
        chosen, info = choose(rows, datasets)
        write(rows, datasets, chosen, info, command, seconds)
        return {"chosen": chosen}

    grid_main(__doc__, list(DATASETS), "select_default.py", "default_selection", run_dataset, write_chosen)

if __name__ == "__main__":
    main()
