"""End to end: `hetrec-train` on a small synthetic shop, then every serving capability on its artifact."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.slow  # trains a model (~20-30 s on the shared 2-core machine)
def test_serving_a_run_written_by_hetrec_train(tmp_path):
    run = tmp_path / "run"
    cmd = [
        sys.executable, "-c", "from hetrec.cli import train_main; train_main()",
        "train.max_epochs=2", "train.progress=false", "dataset.num_users=300", "dataset.num_items=200",
        "dataset.num_interactions=8000", f"hydra.run.dir={run}",
    ]
    env = {**os.environ, "HETREC_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]

    from hetrec.serve import ServingModel

    m = ServingModel.load(run)
    users, items = list(m.users.raw_ids), list(m.items.raw_ids)
    res = m.recommend(user=users[0], k=5)
    assert len(res["items"]) == 5 and all(r["item"] in items for r in res["items"])
    assert all(r["reason"] for r in res["items"])
    assert m.recommend(user="not-a-user", k=3)["fallback"] == "popular"
    assert len(m.similar(items[0], k=4)["items"]) == 4
    assoc = m.associations(items[0], k=5)["items"]
    assert assoc and all(r["evidence"]["path"]["type"] in {"co_bought", "shared_buyer", "shared_category", "embedding"}
                         for r in assoc)
    attrs = m.attrs.iloc[0].to_dict()
    cold = m.cold_start(attrs, k=3, k_users=3)
    assert cold["method"] == "encoder", cold["method_note"]  # the trained model is rebuilt from meta.json + model.pt
    assert len(cold["similar"]) == 3 and len(cold["users"]) == 3
    prof = m.profile(users[0])
    assert prof["history_size"] > 0 and prof["top_categories"]
