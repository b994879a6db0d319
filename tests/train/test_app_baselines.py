"""`hetrec-train model=baseline/<name>`: baselines run through the same app, data, split and evaluator as GNNs."""

from __future__ import annotations

import json

import pytest
from hydra import compose, initialize_config_dir

from hetrec.evaluate.baselines import MostPopular
from hetrec.registry import register_configs
from hetrec.train import app

TINY = ["dataset.num_users=120", "dataset.num_items=60", "dataset.num_interactions=4000", "dataset.num_pairs=10"]


def _cfg(tmp_path, overrides):
    register_configs()
    with initialize_config_dir(config_dir=app.CONF_DIR, version_base="1.3"):
        return compose("config", overrides=[f"cache_dir={tmp_path / 'cache'}", *TINY, *overrides])


def test_default_model_is_the_gnn_path(tmp_path):
    assert not app.is_baseline(_cfg(tmp_path, []))


def test_baseline_job_writes_metrics_of_the_same_split_as_the_gnn(tmp_path):
    cfg = _cfg(tmp_path, ["model=baseline/mostpop"])
    assert app.is_baseline(cfg)
    m = app.run_baseline_job(cfg, tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["status"] == "ok" and saved["model"] == m["model"]
    assert set(app.TEST_KEYS) <= set(saved["test"]) and "recall@20" in saved["val"]
    # the same data and evaluator as a direct fit: identical numbers
    data = app.load_data(cfg)
    assert saved["split_hash"] == data.split_hash
    from hetrec.evaluate.ranking import evaluate_split

    direct = evaluate_split(data, MostPopular().fit(data).score, "test", (10, 20))
    assert abs(direct["recall@20"] - saved["test"]["recall@20"]) < 1e-9


def test_every_job_records_its_own_time_memory_commit_and_hardware(tmp_path):
    """A result row needs these for both kinds of job (benchmarks/reproduce.py tabulates them)."""
    base = ["train.max_epochs=1", "train.progress=false", "node_input.dim=8", "encoder.hidden_dim=8",
            "encoder.out_dim=8"]
    for overrides in (["model=baseline/mostpop"], base):
        cfg = _cfg(tmp_path, overrides)
        run = tmp_path / ("b" if app.is_baseline(cfg) else "g")
        m = app.run_baseline_job(cfg, run) if app.is_baseline(cfg) else app.train(cfg, run)
        assert m["wall_seconds"] > 0 and 0 < m["peak_rss_gb"] < 100
        assert m["commit"] and m["hardware"]


def test_gnn_job_scores_held_out_co_purchases_with_its_item_embeddings(tmp_path):
    cfg = _cfg(tmp_path, ["evaluate.associations=true", "train.max_epochs=1", "train.progress=false"])
    m = app.train(cfg, tmp_path / "run")
    pairs = m["associations"]
    assert pairs["num_users"] > 0 and 0.0 <= pairs["recall@20"] <= 1.0 and "ndcg@10" in pairs


def test_peak_memory_window_restarts_per_job():
    import numpy as np

    from hetrec.evaluate import runner

    big = np.ones(50_000_000)  # 400 MB touched
    before = runner.peak_rss_gb()
    del big
    runner.reset_peak_rss()
    if not runner._peak_reset:
        pytest.skip("this kernel does not allow resetting the peak RSS (/proc/self/clear_refs)")
    assert runner.peak_rss_gb() < before - 0.3


@pytest.mark.slow
def test_one_multirun_runs_a_gnn_and_a_baseline_side_by_side(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    sweep = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "hetrec.train.app", "-m", "model=gnn,baseline/mostpop", *TINY, "train.max_epochs=1",
           "train.progress=false", f"cache_dir={tmp_path / 'cache'}", f"hydra.sweep.dir={sweep}"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(Path(app.__file__).resolve().parents[2])})
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = [json.loads((sweep / str(n) / "metrics.json").read_text()) for n in (0, 1)]
    assert [j["status"] for j in jobs] == ["ok", "ok"]
    assert jobs[0]["encoder"] == "gcn" and jobs[1]["encoder"] == "baseline/mostpop"
    assert jobs[0]["split_hash"] == jobs[1]["split_hash"]  # same data and split
    md = (sweep / "summary.md").read_text()
    assert "model=gnn" in md and "model=baseline/mostpop" in md


def test_bootstrap_intervals_reach_metrics_and_the_sweep_summary(tmp_path):
    from hetrec.train.summary import summarize_sweep

    base = ["evaluate.bootstrap=50", "train.max_epochs=1", "train.progress=false", "node_input.dim=8",
            "encoder.hidden_dim=8", "encoder.out_dim=8"]
    sweep = tmp_path / "sweep"
    for n, overrides in enumerate((["model=baseline/mostpop"], [])):
        cfg = _cfg(tmp_path, base + overrides)
        run = sweep / str(n)
        m = app.run_baseline_job(cfg, run) if app.is_baseline(cfg) else app.train(cfg, run)
        lo, mid, hi = m["test"]["recall@20_ci_low"], m["test"]["recall@20"], m["test"]["recall@20_ci_high"]
        assert lo <= mid <= hi and hi - lo > 0
        # validation gets intervals too: it is the split settings are chosen on
        assert m["val"]["recall@20_ci_low"] <= m["val"]["recall@20"] <= m["val"]["recall@20_ci_high"]
        (run / ".hydra").mkdir()
        (run / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides + ["seed=0"]))
    _, md = summarize_sweep(sweep)
    assert "test/recall@20 95% CI" in md.read_text() and "[0." in md.read_text()
