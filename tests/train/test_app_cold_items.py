"""hetrec-train graph.split.strategy=cold_items on a tiny synthetic shop: metrics.json carries every cold-item row."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from hetrec.evaluate.cold_items import encoder_embeddings
from hetrec.registry import register_configs
from hetrec.train import app

TINY = ["dataset.num_users=120", "dataset.num_items=60", "dataset.num_interactions=4000", "dataset.num_pairs=10",
        "train.max_epochs=2", "train.progress=false", "node_input.dim=16", "encoder.hidden_dim=16",
        "encoder.out_dim=16", "graph.split.strategy=cold_items", "graph.split.cold_share=0.3", "evaluate.ks=[5,10,20]"]


def test_cold_items_run_reports_every_row_on_both_launches(tmp_path):
    register_configs()
    with initialize_config_dir(config_dir=app.CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[f"cache_dir={tmp_path / 'cache'}", *TINY])
    run = tmp_path / "run"
    m = app.train(cfg, run)
    saved = json.loads((run / "metrics.json").read_text())
    cold = saved["cold_items"]
    assert cold == json.loads(json.dumps(m["cold_items"]))
    rows = {"encoder", "encoder_isolated", "ridge", "category_popularity", "attribute_knn", "encoder_knn",
            "user_activity"}
    assert set(cold["test"]) == rows and set(cold["valid"]) == rows
    assert cold["info"]["cold_items"]["valid"] + cold["info"]["cold_items"]["test"] == round(0.3 * 60)
    for row, res in cold["test"].items():
        u = res["users_for_item"]
        assert 0 <= u["recall@20_ci_low"] <= u["recall@20"] <= u["recall@20_ci_high"] <= 1, row
        assert u["num_queries"] == cold["info"]["cold_items"]["test"]
        if row != "user_activity":
            assert 0 <= res["items_for_user"]["ndcg@5"] <= 1
    assert {"ridge", "attribute_knn", "encoder"} <= set(cold["choices"])  # chosen on the validation launch
    assert saved["test"]["recall@20"] >= 0  # the warm evaluation is there as usual


def test_encoder_path_ignores_the_cold_items_id_embeddings(tmp_path):
    register_configs()
    with initialize_config_dir(config_dir=app.CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[f"cache_dir={tmp_path / 'cache'}", *TINY])
    data = app.load_data(cfg)
    model, _ = app.build_model(cfg, data)
    cold = np.unique(torch.cat([data.splits["cold_valid"][1], data.splits["cold_test"][1]]).numpy())
    for isolate in (False, True):
        a = encoder_embeddings(model, data, cold, isolate=isolate)["item"][cold]
        with torch.no_grad():
            model.node_input.embeddings["item"].weight[torch.from_numpy(cold)] += 5.0
        b = encoder_embeddings(model, data, cold, isolate=isolate)["item"][cold]
        assert torch.allclose(a, b, atol=1e-5), isolate
    # isolated: a cold item's embedding is a function of its own features (same features -> same embedding)
    iso = encoder_embeddings(model, data, cold, isolate=True)["item"]
    feats = data.features["item"]
    same = [(i, j) for i in cold for j in cold if i < j and torch.equal(feats[i], feats[j])]
    for i, j in same[:5]:
        assert torch.allclose(iso[i], iso[j], atol=1e-5)


@pytest.mark.parametrize("sampler", ["uniform", "popularity", "shared", "all"])
def test_cold_items_are_never_negatives(tmp_path, sampler, caplog):
    """build_model bans the cold items from the target relation's negatives (warm_negatives): drawn negatives never
    hold one, sampler=all masks them out of the softmax (no warning any more)."""
    register_configs()
    with initialize_config_dir(config_dir=app.CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[f"cache_dir={tmp_path / 'cache'}", *TINY, f"objective/sampler={sampler}"])
    data = app.load_data(cfg)
    with caplog.at_level(logging.WARNING):
        model, _ = app.build_model(cfg, data)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "sampler" in r.getMessage()]
    cold = torch.unique(torch.cat([data.splits["cold_valid"][1], data.splits["cold_test"][1]]))
    smp = model.objective.tasks[0].sampler
    assert torch.equal(torch.nonzero(smp.banned).flatten(), cold)
    users, items = data.splits["train"][0][:64].long(), data.splits["train"][1][:64].long()
    h = torch.randn(data.num_items, 4)
    negs = smp.negatives(h, users, items, generator=torch.Generator().manual_seed(0))
    if sampler == "all":
        assert negs.mask.shape == (64, data.num_items) and not negs.mask[:, cold].any()
        assert negs.mask.sum(1).min() > 0
    else:
        assert not torch.isin(negs.rows, cold).any()


def test_without_edges_of_keeps_only_the_attribute_relation():
    from hetrec.testing import toy_shop_graph
    from hetrec.train.model import without_edges_of

    g, _ = toy_shop_graph()
    drop = torch.zeros(g.num_nodes("item"), dtype=torch.bool)
    drop[[0, 3]] = True
    out = without_edges_of(g, {"item": drop})
    assert out.ntypes == g.ntypes and all(out.num_nodes(nt) == g.num_nodes(nt) for nt in g.ntypes)
    for et in g.canonical_etypes:
        src, dst = g.edges(etype=et)
        touch = torch.zeros(len(src), dtype=torch.bool)
        if et[0] == "item":
            touch |= drop[src]
        if et[2] == "item":
            touch |= drop[dst]
        if et[1] in ("in", "rev_in"):  # a new product keeps its category
            assert out.num_edges(et) == g.num_edges(et), et
            continue
        assert out.num_edges(et) == int((~touch).sum()), et
        s2, d2 = out.edges(etype=et)
        assert set(zip(s2.tolist(), d2.tolist())) == {(a, b) for a, b, t in zip(src.tolist(), dst.tolist(), touch)
                                                      if not t}, et
        assert torch.equal(out.edges[et].data["weight"], g.edges[et].data["weight"][~touch]), et


def test_id_dropout_drops_ids_and_edges_in_training_only(tmp_path):
    """LinkPredictionModel.embed_full with node_input.id_dropout: in training the drawn items lose their id part and
    (dropout_edges) their interaction edges for the step; evaluation sees the whole graph and every id."""
    register_configs()
    with initialize_config_dir(config_dir=app.CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[f"cache_dir={tmp_path / 'cache'}", *TINY])
    data = app.load_data(cfg)
    model, _ = app.build_model(cfg, data)
    seen = []
    enc_forward = model.encoder.forward

    def spy(g, x):
        seen.append((g.num_edges(("user", "clicks", "item")), g.num_edges(("item", "in", "category")), x))
        return enc_forward(g, x)

    model.encoder.forward = spy
    n_clicks, n_in = data.graph.num_edges(("user", "clicks", "item")), data.graph.num_edges(("item", "in", "category"))
    model.node_input.id_dropout = {"item": 0.5}
    model.train()
    torch.manual_seed(0)
    model.embed_full(data.graph, data.features)
    n_c, n_i, x = seen[-1]
    assert n_c < n_clicks and n_i == n_in  # interactions dropped, categories kept
    feat_only = model.node_input.embed_features("item", data.features["item"])
    dropped = torch.isclose(x["item"], feat_only, atol=1e-6).all(1)
    assert 0.3 < dropped.float().mean() < 0.7
    model.node_input.dropout_edges = False
    model.embed_full(data.graph, data.features)
    assert seen[-1][0] == n_clicks  # ids only
    model.node_input.dropout_edges = True
    model.eval()
    model.embed_full(data.graph, data.features)
    n_c, n_i, x = seen[-1]
    assert n_c == n_clicks
    warm = np.asarray(data.interaction_matrix("train").getnnz(axis=0)) > 0
    assert not torch.isclose(x["item"], feat_only, atol=1e-6).all(1)[torch.from_numpy(warm)].any()
