"""Our MostPop / ItemKNN / EASE on ml-100k-u1 agree with the peer figures of PEERS.md (same data and protocol)."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.data

PEERS = {  # PEERS.md, ml-100k-u1: (Recall@20, NDCG@20)
    "baseline/mostpop": (0.1487, 0.3006),
    "baseline/itemknn": (0.2697, 0.4779),
    "baseline/ease": (0.3063, 0.5357),
}


def _compose(overrides):
    from hydra import compose, initialize_config_dir

    from hetrec.registry import register_configs
    from hetrec.train import app

    register_configs()
    with initialize_config_dir(config_dir=app.CONF_DIR, version_base="1.3"):
        return compose("config", overrides=overrides)


@pytest.fixture(scope="module")
def u1_full_train(tmp_path_factory):
    root = os.environ.get("HETREC_DATA")
    if not root or not os.path.isdir(os.path.join(root, "ml-100k-u1")):
        pytest.skip("set HETREC_DATA to the datasets folder (needs ml-100k-u1/) to compare with PEERS.md")
    from hetrec.evaluate.runner import build_data

    # the peers trained on all of u1.base: no validation carve-out
    base = ["dataset=lightgcn", "dataset.name=ml-100k-u1", "graph.split.valid_ratio=0",
            f"cache_dir={tmp_path_factory.mktemp('cache')}"]
    return base, build_data(_compose(base))


@pytest.mark.parametrize("model", sorted(PEERS))
def test_matches_peer_figures(u1_full_train, model):
    """The same job as `hetrec-train model=<model>` (hetrec.train.app.run_baseline_job) on the cached data."""
    from omegaconf import open_dict

    from hetrec.evaluate.runner import run_baseline

    base, data = u1_full_train
    cfg = _compose([*base, f"model={model}"])
    with open_dict(cfg):
        cfg.model_name = model
    m = run_baseline(cfg, data)
    recall, ndcg = PEERS[model]
    assert m["test"]["recall@20"] == pytest.approx(recall, rel=0.01)
    assert m["test"]["ndcg@20"] == pytest.approx(ndcg, rel=0.01)
