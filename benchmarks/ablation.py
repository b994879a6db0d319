"""Heterogeneity ablation: does each kind of graph information help the default encoder? -> results/ablation.*

The shipped default (`hetrec-train` with no encoder/objective override: conf/config.yaml) is trained on graphs that
add one kind of information at a time, with everything else fixed (same split, same seed, same training budget):

    target       the target relation alone (graph.events=[], no co_bought, no categories, no node features)
    +behaviours  every event of the log as its own relation (clicks, carts, ...)
    +co_bought   item-co_bought-item from the training baskets
    +categories  item-in-category
    +features    node features from the user/item attribute tables (= the full default graph)
    target+features  the target relation and the node features alone (compared with +features: what the other
                 relations add once the features are in)

Datasets: the synthetic shop (plants segments, categories and complementary pairs), DIGINETICA (categories,
purchases with order baskets), MovieLens-100k raw (`dataset=ml100k`: user and item attributes) and Groceries
(baskets, two-level categories). Metrics: validation and test Recall@20 with per-user bootstrap 95% intervals, and
test Recall@20 of cold / warm users (bottom and top 20% by training interactions). A step that changes nothing on
a dataset (e.g. no other behaviour to add) is marked "same graph".

    HETREC_DATA=/work/shared/datasets .venv/bin/python benchmarks/ablation.py      # ~10 min here

Last line: JSON {"seconds", "datasets", "rows", "peak_rss_gb"}.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from grid import ci, grid_main, job_csv, provenance, run_sweeps, write_md

DATASETS: dict[str, list[str]] = {
    "synthetic": [],
    "diginetica": ["dataset=diginetica"],
    "ml100k": ["dataset=ml100k"],
    "groceries": ["dataset=baskets", "graph.split.strategy=random", "graph.split.valid_ratio=0.1",
                  "graph.split.test_ratio=0.2"],
}
OFF = {"events": "graph.events=[]", "co_bought": "graph.co_bought.enabled=false",
       "categories": "graph.categories.enabled=false", "features": "graph.features.enabled=false"}
STEPS: list[tuple[str, list[str]]] = [
    ("target", [OFF["events"], OFF["co_bought"], OFF["categories"], OFF["features"]]),
    ("+behaviours", [OFF["co_bought"], OFF["categories"], OFF["features"]]),
    ("+co_bought", [OFF["categories"], OFF["features"]]),
    ("+categories", [OFF["features"]]),
    ("+features", []),
    # the same features without the other relations: do the relations still add anything once features are in?
    ("target+features", [OFF["events"], OFF["co_bought"], OFF["categories"]]),
]
COMMON = ["evaluate.bootstrap=1000", "evaluate.activity_quantiles=[0.2,0.8]"]


def run_dataset(name: str, args) -> list[dict]:
    rows = run_sweeps(name, [(step.lstrip("+"), DATASETS[name] + ov + COMMON) for step, ov in STEPS], args)
    names = {step.lstrip("+"): step for step, _ in STEPS}
    for m in rows:
        m["step"] = names[m["sweep"]]
    return rows


def _edges(m: dict) -> str:
    return ", ".join(f"{k.split(',')[1]} {v:,}" for k, v in sorted(m.get("graph_edges", {}).items())
                     if not k.split(",")[1].startswith("rev_"))


def write(rows: list[dict], datasets: list[str], command: str, seconds: float) -> None:
    job_csv("ablation.csv", rows, "step",
            [("cold_test_recall@20", "test", "cold/recall@20"), ("warm_test_recall@20", "test", "warm/recall@20")])
    enc = next((f"{r.get('encoder')} / {r.get('objective')}" for r in rows), "?")
    cmd_line, facts = provenance(rows, command, seconds)
    lines = [
        "# Heterogeneity ablation of the default encoder", "",
        cmd_line, f"Model: the shipped default `hetrec-train` ({enc}) · {facts}", "",
        "Each step adds one kind of information to the previous step's graph; the split, seed and training budget stay "
        "the same. Recall@20 with per-user bootstrap 95% intervals (1,000 resamples); cold / warm = test users in the "
        "bottom / top 20% by training interactions. The last row keeps the features and drops every other relation "
        "(so its verdict says what dropping them does). Verdict = validation Recall@20 against the row above: "
        "**helps** / **hurts** when the intervals do not overlap, else *no clear effect*. Choices are read on "
        "validation; test is reported.", "",
    ]
    for d in datasets:
        rs = [r for r in rows if r["table_dataset"] == d]
        if not rs:
            continue
        lines += [f"## {d}", "", "| step | relations (forward edges) | val Recall@20 | test Recall@20 | test NDCG@20 | "
                  "cold / warm test R@20 | verdict (val) |", "|---|---|---|---|---|---|---|"]
        prev = None
        for r in rs:
            v, t = r.get("val", {}), r.get("test", {})
            verdict = "–"
            if prev is not None:
                if _edges(prev) == _edges(r) and prev.get("feature_dims") == r.get("feature_dims"):
                    verdict = "same graph"
                else:
                    pv = prev.get("val", {})
                    if v.get("recall@20_ci_low", 0) > pv.get("recall@20_ci_high", 1):
                        verdict = "**helps**"
                    elif v.get("recall@20_ci_high", 1) < pv.get("recall@20_ci_low", 0):
                        verdict = "**hurts**"
                    else:
                        verdict = f"no clear effect ({v.get('recall@20', 0) - pv.get('recall@20', 0):+.4f})"
            cold, warm = t.get("cold/recall@20"), t.get("warm/recall@20")
            cw = f"{cold:.4f} / {warm:.4f}" if cold is not None and warm is not None else "–"
            feats = ", ".join(f"{k} {v}" for k, v in sorted((r.get("feature_dims") or {}).items()))
            rel = _edges(r) + (f"; features: {feats}" if feats else "")
            lines.append(f"| {r['step']} | {rel} | {ci(v)} | {ci(t)} | {t.get('ndcg@20', 0):.4f} | {cw} | {verdict} |")
            prev = r
        lines.append("")
    lines += ["Per-job rows: `ablation.csv`.", ""]
    write_md("ablation.md", lines)


def main() -> None:
    grid_main(__doc__, list(DATASETS), "ablation.py", "ablation", run_dataset, write)


if __name__ == "__main__":
    main()
