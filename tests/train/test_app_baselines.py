"""`hetrec-train model=baseline/<name>`: baselines run through the same app, data, split and evaluator as GNNs."""

from __future__ import annotations

import json

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
