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


@pytest.fixture(scope="module")
def u1_full_train(tmp_path_factory):
    root = os.environ.get("HETREC_DATA")
    if not root or not os.path.isdir(os.path.join(root, "ml-100k-u1")):
        pytest.skip("set HETREC_DATA to the datasets folder (needs ml-100k-u1/) to compare with PEERS.md")
    from hetrec.evaluate.runner import build_data, compose

    # the peers trained on all of u1.base: no validation carve-out
    cfg = compose(["dataset=lightgcn", "dataset.name=ml-100k-u1", "graph.split.valid_ratio=0",
                   f"cache_dir={tmp_path_factory.mktemp('cache')}"])
    return cfg, build_data(cfg)


@pytest.mark.parametrize("model", sorted(PEERS))
def test_matches_peer_figures(u1_full_train, model):
    from omegaconf import OmegaConf

    from hetrec.evaluate.runner import compose, run_baseline

    cfg, data = u1_full_train
    mcfg = compose([f"model={model}"])
    cfg = OmegaConf.merge(cfg, {"model": mcfg.model, "model_name": model})
    m = run_baseline(cfg, data)
    recall, ndcg = PEERS[model]
    assert m["test"]["recall@20"] == pytest.approx(recall, rel=0.01)
    assert m["test"]["ndcg@20"] == pytest.approx(ndcg, rel=0.01)
