"""New products, measured: the cold-item evaluation on the synthetic shop, MovieLens-100k and DIGINETICA
-> results/cold_items.md and results/cold_items.csv.

One default ``hetrec-train`` job per dataset with ``graph.split.strategy=cold_items`` (10% of the items lose every
interaction; half of them form the validation launch, half the test launch; see hetrec/evaluate/cold_items.py for
the rows). Each row's choices (calibration, ridge alpha, kNN k) are made on the validation launch; the table shows
validation and test figures with bootstrap 95% intervals (1000 resamples over items, resp. users).

    HETREC_DATA=/work/shared/datasets .venv/bin/python benchmarks/cold_items.py [--datasets ...] [--only-table]

Last line: JSON {"seconds", "datasets", "rows"}.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from grid import ci, grid_args, provenance, run_grid, run_sweeps, write_csv, write_md

COLD = ["graph.split.strategy=cold_items", "graph.split.cold_share=0.1", "graph.split.cold_valid_share=0.5"]
DATASETS: dict[str, list[str]] = {
    "synthetic": [],
    "ml100k": ["dataset=ml100k", "dataset.split=null"],  # all of u.data; items: title, year, genres
    "diginetica": ["dataset=diginetica"],  # purchases, items: category
}
ROWS = ("encoder", "encoder_isolated", "ridge", "category_popularity", "attribute_knn", "encoder_knn", "user_activity")
TASKS = ("users_for_item", "items_for_user")


def run_dataset(dataset: str, args) -> list[dict]:
    return run_sweeps(dataset, [("default", DATASETS[dataset] + COLD)], args)


def main() -> None:
    args = grid_args(__doc__, list(DATASETS), "cold_items")
    t0 = time.time()
    jobs = run_grid(args, run_dataset)
    csv_rows, md = [], ["# New products (cold items): users for a new item, and a user's new items", ""]
    md += [provenance(jobs, "HETREC_DATA=/work/shared/datasets .venv/bin/python benchmarks/cold_items.py",
                      sum(float(j.get("wall_seconds", 0) or 0) for j in jobs))[0], "",
           "Per dataset: `hetrec-train <dataset overrides> " + " ".join(COLD) + " seed=0` (default encoder gcn, "
           "sampled softmax + item bias). Cold items never enter the graph's interaction relations, reverse "
           "relations, baskets/co_bought, nor the negatives; their attributes (node features, category edges) stay. "
           "Choices on the validation launch (column `chosen`), test launch reported. Intervals: bootstrap 95% "
           "(1000 resamples of the launch's items, resp. users).", ""]
    for j in jobs:
        cold = j.get("cold_items")
        if not cold:
            continue
        info = cold["info"]
        md += [f"## {j['table_dataset']}", "",
               f"`{j['overrides']}` · cold items valid/test {info['cold_items']['valid']}/{info['cold_items']['test']}"
               f" (held-out pairs {info['heldout_pairs']['valid']}/{info['heldout_pairs']['test']}), warm items "
               f"{info['warm_items']}, categories from {info['category_source']}, item features {info['features']}; "
               f"warm test Recall@20 {j.get('test', {}).get('recall@20', float('nan')):.4f} · train "
               f"{j.get('train_seconds', 0):.0f} s", "",
               "| row | chosen | users-for-item valid R@20 | users-for-item test R@20 | test NDCG@20 | "
               "items-for-user test R@20 | items-for-user test NDCG@20 |",
               "|---|---|---|---|---|---|---|"]
        for row in ROWS:
            if row not in cold["test"]:
                continue
            chosen = cold["choices"].get(row, {}).get("chosen", {})
            v, t = cold["valid"].get(row, {}), cold["test"][row]
            cells = [row, ", ".join(f"{k}={x}" for k, x in chosen.items()) or "–",
                     ci(v.get("users_for_item", {})), ci(t["users_for_item"]), ci(t["users_for_item"], "ndcg@20"),
                     ci(t.get("items_for_user", {})), ci(t.get("items_for_user", {}), "ndcg@20")]
            md.append("| " + " | ".join(cells) + " |")
            for split in ("valid", "test"):
                for task in TASKS:
                    r = cold[split].get(row, {}).get(task)
                    if r:
                        csv_rows.append([j["table_dataset"], row, split, task, json.dumps(chosen),
                                         *[r.get(k) for k in ("recall@20", "recall@20_ci_low", "recall@20_ci_high",
                                                              "ndcg@20", "ndcg@20_ci_low", "ndcg@20_ci_high",
                                                              "num_queries")], j.get("split_hash"), j.get("commit")])
        md.append("")
        e, c = (cold["test"].get(r, {}).get("users_for_item", {}).get("recall@20")
                for r in ("encoder", "category_popularity"))
        if e is not None and c is not None:
            best = max((r for r in cold["test"] if r != "user_activity"),
                       key=lambda r: cold["test"][r]["users_for_item"]["recall@20"])
            md += [f"Bar (encoder beats category popularity on users-for-item test Recall@20): "
                   f"{'met' if e > c else 'not met'} ({e:.4f} vs {c:.4f}); best row on test: {best}.", ""]
    md.append(provenance(jobs, "", 0)[1])
    write_csv("cold_items.csv", ["dataset", "row", "split", "task", "chosen", "recall@20", "recall@20_ci_low",
                                 "recall@20_ci_high", "ndcg@20", "ndcg@20_ci_low", "ndcg@20_ci_high", "num_queries",
                                 "split_hash", "commit"], csv_rows)
    write_md("cold_items.md", md)
    print(json.dumps({"seconds": round(time.time() - t0, 1), "datasets": args.datasets, "rows": len(csv_rows)}))


if __name__ == "__main__":
    main()
