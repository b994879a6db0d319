"""`hetrec-train model=graph_filter` and `evaluate.blend=graph_filter` through the app, on the synthetic shop."""

from __future__ import annotations

import json

import pytest
import torch
from hydra import compose, initialize_config_dir

from hetrec.evaluate.baselines import GraphFilter
from hetrec.evaluate.ranking import evaluate_split
from hetrec.registry import register_configs
from hetrec.train import app

TINY = ["dataset.num_users=120", "dataset.num_items=60", "dataset.num_interactions=4000", "dataset.num_pairs=10"]
GNN = ["train.max_epochs=2", "train.progress=false", "node_input.dim=8", "encoder.hidden_dim=8", "encoder.out_dim=8"]


def _cfg(tmp_path, overrides):
    register_configs()
    with initialize_config_dir(config_dir=app.CONF_DIR, version_base="1.3"):
        return compose("config", overrides=[f"cache_dir={tmp_path / 'cache'}", *TINY, *overrides])


def test_graph_filter_job_matches_a_direct_fit(tmp_path):
    cfg = _cfg(tmp_path, ["model=graph_filter", "model.k=16", "evaluate.bootstrap=50"])
    assert app.is_baseline(cfg)
    m = app.run_baseline_job(cfg, tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["status"] == "ok" and saved["model"] == "GF-CF"
    assert saved["model_info"]["k"] == 16 and saved["model_info"]["item_filter"] == "dense"
    assert saved["test"]["recall@20_ci_low"] <= saved["test"]["recall@20"] <= saved["test"]["recall@20_ci_high"]
    data = app.load_data(cfg)
    direct = evaluate_split(data, GraphFilter(k=16).fit(data).score, "test", (10, 20))
    assert abs(direct["recall@20"] - m["test"]["recall@20"]) < 1e-9


def test_gnn_blend_records_the_weight_chosen_on_validation(tmp_path):
    weights = [0.0, 0.5, 2.0]
    cfg = _cfg(tmp_path, GNN + ["evaluate.blend=graph_filter", "+evaluate.blend_options.k=8",
                                f"evaluate.blend_weights=[{','.join(map(str, weights))}]"])
    m = app.train(cfg, tmp_path / "run")
    b = m["blend"]
    assert b["partner"] == "graph_filter" and b["chosen_on"] == "validation" and b["weight"] in weights
    assert b["partner_info"]["k"] == 8 and [r["weight"] for r in b["selection"]] == weights
    chosen = next(r for r in b["selection"] if r["weight"] == b["weight"])
    assert chosen["val_recall@20"] == max(r["val_recall@20"] for r in b["selection"])
    # the job's validation figure is the blend at the chosen weight (the same number the selection saw)
    assert abs(m["val"]["recall@20"] - chosen["val_recall@20"]) < 1e-9
    # weight 0 is the GNN alone
    assert abs(b["selection"][0]["val_recall@20"] - b["gnn_val"]["recall@20"]) < 1e-9
    assert set(app.TEST_KEYS) <= set(m["test"]) and set(app.TEST_KEYS) <= set(b["gnn_test"])
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["blend"]["weight"] == b["weight"]


def test_blend_settings_that_cannot_work_are_named(tmp_path):
    with pytest.raises(app.ConfigError, match="evaluate.blend"):
        app.run_baseline_job(_cfg(tmp_path, ["model=baseline/mostpop", "evaluate.blend=graph_filter"]), tmp_path / "a")
    with pytest.raises(ValueError, match="no .*nope.yaml"):
        app.train(_cfg(tmp_path, GNN + ["evaluate.blend=nope"]), tmp_path / "b")
    with pytest.raises(ValueError, match="valid_ratio"):
        app.train(_cfg(tmp_path, GNN + ["evaluate.blend=graph_filter", "graph.split.valid_ratio=0"]), tmp_path / "c")


def test_baseline_jobs_run_under_train_num_threads():
    from threadpoolctl import threadpool_info

    before = torch.get_num_threads()
    with app.cpu_threads(1):
        assert torch.get_num_threads() == 1
        assert all(p["num_threads"] == 1 for p in threadpool_info() if p["user_api"] == "blas")
    assert torch.get_num_threads() == before


@pytest.mark.slow
def test_graph_filter_in_a_multirun_with_its_sweep_summary(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    sweep = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "hetrec.train.app", "-m", "model=graph_filter,baseline/mostpop", *TINY,
           "evaluate.bootstrap=20", f"cache_dir={tmp_path / 'cache'}", f"hydra.sweep.dir={sweep}"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(Path(app.__file__).resolve().parents[2])})
    assert res.returncode == 0, res.stderr[-3000:]
    job = json.loads((sweep / "0" / "metrics.json").read_text())
    assert job["status"] == "ok" and job["encoder"] == "graph_filter" and job["model"] == "GF-CF"
    md = (sweep / "summary.md").read_text()
    assert "model=graph_filter" in md and "test/recall@20 95% CI" in md
