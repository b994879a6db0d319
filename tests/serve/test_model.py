"""Every ServingModel capability on the tiny trained artifact (see artifacts.py for the planted structure)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from hetrec._dgl import dgl
from hetrec.data.idmap import IdMap
from hetrec.serve import ServingModel, UnknownIdError
from hetrec.train.artifact import Artifact

from artifacts import CATS, ETYPES, build_artifact, purchases

ITEMS = {f"i{x:02d}" for x in range(30)}


def history_of(user: int) -> set[str]:
    p = purchases()
    return {f"i{i:02d}" for u, i in p if u == user}


def test_recommend_user_excludes_history_and_explains(model):
    res = model.recommend(user="u00", k=5)
    assert res["fallback"] is None and res["method"] == "user_embedding"
    items = [r["item"] for r in res["items"]]
    assert len(items) == 5 and set(items) <= ITEMS and not set(items) & history_of(0)
    assert [r["rank"] for r in res["items"]] == [1, 2, 3, 4, 5]
    scores = [r["score"] for r in res["items"]]
    assert scores == sorted(scores, reverse=True)
    for r in res["items"]:
        assert r["reason"].startswith("because you bought ")
        assert r["evidence"]["closest_history_item"] in history_of(0)
    # u00 is a Dairy customer: its top items are Dairy
    assert sum(r["category"] == "Food>Dairy" for r in res["items"][:3]) >= 2


def test_recommend_reason_cites_co_purchase_evidence(model):
    res = model.recommend(user="u00", k=30)
    co = [r for r in res["items"] if "co_bought" in r["evidence"]]
    assert co, "a Dairy customer's recommendations should cite co-purchases"
    ev = co[0]["evidence"]["co_bought"]
    assert ev["with"] in history_of(0)
    assert f"{ev['count']} co-purchases, lift" in co[0]["reason"]


def test_unknown_user_gets_popular_fallback(model):
    res = model.recommend(user="never-seen", k=3)
    assert res["fallback"] == "popular"
    assert res["items"][0]["item"] == "i25"  # the planted best seller
    pops = [r["evidence"]["popularity"] for r in res["items"]]
    assert pops == sorted(pops, reverse=True)
    assert "popular" in res["items"][0]["reason"]


def test_recommend_history_for_visitor(model):
    res = model.recommend(history=["i10", "i11", "i12"], k=4)
    assert res["method"] == "history" and res["fallback"] is None
    items = [r["item"] for r in res["items"]]
    assert not {"i10", "i11", "i12"} & set(items)
    assert sum(r["category"] == "Food>Bakery" for r in res["items"]) >= 3
    assert all(r["evidence"]["closest_history_item"] in {"i10", "i11", "i12"} for r in res["items"])


def test_empty_history_and_unknown_history_item(model):
    res = model.recommend(history=[], k=2)
    assert res["fallback"] == "popular" and len(res["items"]) == 2
    with pytest.raises(UnknownIdError, match="unknown item id 'nope'"):
        model.recommend(history=["i00", "nope"])
    with pytest.raises(ValueError, match="exactly one"):
        model.recommend(k=3)


def test_k_zero_and_k_larger_than_catalogue(model):
    assert model.recommend(user="u00", k=0)["items"] == []
    assert model.similar("i00", k=0)["items"] == []
    assert model.associations("i00", k=0)["items"] == []
    assert model.recommend(user="nobody", k=0)["items"] == []
    res = model.recommend(user="u00", k=10_000)
    assert {r["item"] for r in res["items"]} == ITEMS - history_of(0)
    assert len(model.similar("i00", k=10_000)["items"]) == 29
    assert len(model.recommend(user="nobody", k=10_000)["items"]) == 30
    with pytest.raises(ValueError, match="k must be >= 0"):
        model.similar("i00", k=-1)


def test_filters_category_and_in_stock(model):
    res = model.recommend(user="u00", k=5, category="Tools")
    assert len(res["items"]) == 5 and all(r["category"] == "Tools" for r in res["items"])
    res = model.similar("i20", k=50, category="Food")  # a parent category matches its sub-categories
    assert {r["category"] for r in res["items"]} == {"Food>Dairy", "Food>Bakery"} and len(res["items"]) == 20
    res = model.recommend(user="u00", k=10, allowed_items=["i11", "i21", "i01", "not-in-catalogue"])
    assert {r["item"] for r in res["items"]} <= {"i11", "i21", "i01"}
    with pytest.raises(UnknownIdError, match="unknown category id 'Garden'"):
        model.similar("i00", category="Garden")


def test_similar(model):
    res = model.similar("i11", k=5)
    items = [r["item"] for r in res["items"]]
    assert "i11" not in items and set(items) <= ITEMS
    assert sum(r["category"] == "Food>Bakery" for r in res["items"]) >= 4
    assert all("similarity" in r["reason"] for r in res["items"])
    with pytest.raises(KeyError, match="unknown item id 'i99'"):
        model.similar("i99")


def test_associations_find_planted_cross_sell_with_evidence(model):
    res = model.associations("i00", k=5)
    top = res["items"][0]
    assert top["item"] == "i25"  # planted: Dairy customers who buy i00 buy the tool i25
    ev = top["evidence"]
    p = purchases()
    buyers = {a: {u for u, i in p if i == a} for a in (0, 25)}
    shared = len(buyers[0] & buyers[25])
    assert ev["co_bought_count"] == shared and ev["shared_buyers"] == shared
    assert ev["confidence"] == pytest.approx(shared / len(buyers[0]), abs=1e-4)
    assert ev["lift"] == pytest.approx((shared / len(buyers[0])) / (len(buyers[25]) / 45), rel=1e-3)
    assert ev["path"]["type"] == "co_bought" and ev["path"]["nodes"] == ["i00", "i25"]
    assert "bought together" in top["reason"] and "strongest link" in top["reason"]
    # the same category is reported only when shared
    dairy = [r for r in res["items"] if r["category"] == "Food>Dairy"]
    assert all(r["evidence"]["shared_category"] == "Food>Dairy" for r in dairy)
    assert ev["shared_category"] is None
    with pytest.raises(UnknownIdError):
        model.associations("zzz")


def test_associations_without_baskets_use_shared_buyers(tmp_path):
    from hetrec.train.artifact import Artifact

    run = build_artifact(tmp_path, steps=20)
    art = Artifact.load(run / "artifact")
    art.co_bought = None
    m = ServingModel(art)
    res = m.associations("i00", k=3)
    top = res["items"][0]
    assert top["item"] == "i25" and top["evidence"]["co_bought_count"] == 0
    path = top["evidence"]["path"]
    assert path["type"] == "shared_buyer"
    user = path["nodes"][1]
    assert {"i00", "i25"} <= history_of(int(user[1:]))


def test_cold_start_encoder_path_equals_isolated_node_in_full_graph(model, tiny_run):
    from hydra.utils import instantiate

    from hetrec.models.input import NodeInput
    from hetrec.train.artifact import Artifact

    attrs = {"name": "new drill", "category": "Tools", "brand": "brand20", "price": 24.0}
    res = model.cold_start(attrs, k=5, k_users=4)
    assert res["method"] == "encoder"
    assert len(res["similar"]) == 5 and {r["item"] for r in res["similar"]} <= ITEMS
    assert len(res["users"]) == 4 and all(r["user"].startswith("u") for r in res["users"])
    vec, method, _ = model.embed_new_item(attrs)
    # independent computation: the full training graph plus one isolated item node, through the same model
    art = Artifact.load(tiny_run / "artifact")
    meta = art.meta
    ni = NodeInput(meta["num_nodes"], meta["feat_dims"], 16)
    enc = instantiate(meta["encoder_config"], etypes=ETYPES, in_dims=ni.out_dims)
    ni.load_state_dict({k[11:]: v for k, v in art.model_state.items() if k.startswith("node_input.")})
    enc.load_state_dict({k[8:]: v for k, v in art.model_state.items() if k.startswith("encoder.")})
    tm = art.train_matrix.tocoo()
    u, i = torch.from_numpy(tm.row.astype(np.int64)), torch.from_numpy(tm.col.astype(np.int64))
    g = dgl.heterograph({ETYPES[0]: (u, i), ETYPES[1]: (i, u)}, num_nodes_dict={"user": 45, "item": 31})
    import pandas as pd

    f_new = art.feature_encoders["item"].transform(pd.DataFrame([attrs])).float()
    with torch.no_grad():
        x = ni({"user": torch.arange(45), "item": torch.arange(30)}, {"item": art.features["item"]})
        x["item"] = torch.cat([x["item"], ni.embed_features("item", f_new)])
        h = enc(g, x)
        np.testing.assert_allclose(h["item"][:30].numpy(), art.embeddings["item"].numpy(), atol=1e-4)
    np.testing.assert_allclose(vec, h["item"][30].numpy(), atol=1e-5)


def test_cold_start_ridge_fallback_when_model_is_missing(tiny_run_nomodel):
    m = ServingModel.load(tiny_run_nomodel)
    res = m.cold_start({"category": "Tools", "brand": "brand21", "price": 25.0}, k=5)
    assert res["method"] == "ridge" and "no model.pt" in res["method_note"]
    assert sum(r["category"] == "Tools" for r in res["similar"]) >= 4
    res = m.cold_start({"category": "Food>Bakery", "price": 14.0}, k=5)
    assert sum(r["category"] == "Food>Bakery" for r in res["similar"]) >= 4


def test_cold_start_imputes_missing_numbers_and_rejects_unknown_attributes(model):
    res = model.cold_start({"category": "Tools"}, k=2)
    assert res["imputed_with_median"] == ["price"] and len(res["similar"]) == 2
    with pytest.raises(ValueError, match=r"unknown attribute\(s\) \['colour'\]"):
        model.cold_start({"colour": "red"})
    with pytest.raises(ValueError, match="non-empty"):
        model.cold_start({})


def test_profile(model):
    res = model.profile("u01")  # a Bakery customer
    assert res["history_size"] == len(history_of(1))
    assert res["top_categories"][0] == {"category": "Food>Bakery", "count": len(history_of(1)), "share": 1.0}
    assert res["nearest_categories"][0]["category"] == "Food>Bakery"
    assert sum(c["size"] for c in res["clusters"]) == res["history_size"]
    for c in res["clusters"]:
        assert set(c["items"]) <= history_of(1)
        assert not set(c["suggestions"]) & history_of(1)
        assert c["dominant_category"] in CATS and c["label"] == c["dominant_category"]
        assert c["nearest_category"] in CATS and 0 < c["dominant_share"] <= 1
    assert {"mean", "median"} <= set(res["attributes"]["price"])
    assert res["attributes"]["brand"][0]["value"].startswith("brand1")
    with pytest.raises(UnknownIdError, match="unknown user id 'ghost'"):
        model.profile("ghost")


def test_profile_labels_a_cluster_by_its_members_majority_category():
    """One cluster at (1, 0): 2 Tools items, 1 Dairy item and 3 without a category. The catalogue's Dairy centroid
    lies next to it and the Tools centroid far off, so the label (majority: Tools) differs from the nearest category
    (Dairy), and items without a category neither win the majority nor form a catalogue category."""
    cats = ["Tools", "Tools", "Food>Dairy", "", "", "", "Food>Dairy", "Tools", "Tools", "Tools"]
    item = torch.tensor([[1.0, 0.0]] * 6 + [[1.0, 0.05]] + [[0.0, 1.0]] * 3)
    art = Artifact(
        embeddings={"user": torch.tensor([[1.0, 0.0]]), "item": item},
        idmaps={"user": IdMap(["u"], name="user"), "item": IdMap([f"i{j}" for j in range(10)], name="item")},
        meta={"target": ["user", "purchases", "item"], "scorer": "dot"},
        train_matrix=sp.csr_matrix(np.array([[1] * 6 + [0] * 4], dtype=np.float32)),
        item_attrs=pd.DataFrame({"category": cats}),
    )
    res = ServingModel(art, index="exact").profile("u", n_clusters=1)
    (cl,) = res["clusters"]
    assert cl["size"] == 6 and set(cl["items"]) <= {f"i{j}" for j in range(6)}
    assert cl["label"] == cl["dominant_category"] == "Tools" and cl["dominant_share"] == pytest.approx(2 / 6, abs=1e-3)
    assert cl["nearest_category"] == "Food>Dairy"
    assert {c["category"] for c in res["nearest_categories"]} == {"Food>Dairy", "Tools"}


def test_distmult_and_cosine_scorers(tmp_path):
    from hetrec.train.artifact import Artifact

    run = build_artifact(tmp_path, steps=20, scorer="cosine")
    m = ServingModel.load(run)
    res = m.recommend(user="u03", k=3)
    assert len(res["items"]) == 3 and all(-1.0001 <= r["score"] <= 1.0001 for r in res["items"])
    art = Artifact.load(run / "artifact")
    art.meta["scorer"] = "distmult"
    art.model_state["objective.scorers.purchases.relation"] = torch.full((8,), 2.0)
    m2 = ServingModel(art)
    res2 = m2.recommend(user="u03", k=3)
    u = art.embeddings["user"][3].numpy()
    scores = art.embeddings["item"].numpy() @ (2.0 * u)
    assert res2["items"][0]["score"] == pytest.approx(
        max(s for j, s in enumerate(scores) if f"i{j:02d}" not in history_of(3)), rel=1e-4
    )
    del art.model_state["objective.scorers.purchases.relation"]
    with pytest.raises(ValueError, match="distmult"):
        ServingModel(art)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ServingModel.load(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="neither artifact/meta.json"):
        ServingModel.load(tmp_path)


def test_concurrent_requests_give_the_serial_answers(tiny_run):
    """Requests share one model; nothing a request computes lives on it, so threads get the serial answers."""
    from concurrent.futures import ThreadPoolExecutor

    m = ServingModel.load(tiny_run)
    calls = [
        ("cold_start", ({"category": "Tools"},), {"k": 3}),  # price imputed
        ("cold_start", ({"category": "Tools", "price": 3.0},), {"k": 3}),  # nothing imputed
        ("recommend", (), {"user": "u03", "k": 4, "category": "Food"}),
        ("similar", ("i11",), {"k": 4}),
        ("associations", ("i00",), {"k": 3}),
        ("profile", ("u01",), {}),
    ] * 6
    serial = [getattr(m, name)(*a, **kw) for name, a, kw in calls]
    fresh = ServingModel.load(tiny_run)  # cold caches: the lazily built parts are raced for too
    with ThreadPoolExecutor(8) as pool:
        threaded = list(pool.map(lambda c: getattr(fresh, c[0])(*c[1], **c[2]), calls))
    assert threaded == serial
    assert serial[0]["imputed_with_median"] == ["price"] and serial[1]["imputed_with_median"] == []
    assert not [k for k in vars(fresh) if "imputed" in k or k == "_cold_reason"]
