"""NodeInput: id embeddings plus feature projections."""

from __future__ import annotations

import pytest
import torch

from hetrec.models.input import NodeInput
from hetrec.testing import toy_shop_graph


def test_node_input_sums_id_embedding_and_feature_projection():
    g, feats = toy_shop_graph()
    ni = NodeInput({nt: g.num_nodes(nt) for nt in g.ntypes}, {"item": 4, "user": 3}, dim=5)
    ids = {"item": torch.tensor([2, 0]), "user": torch.tensor([1]), "category": torch.tensor([0, 1, 2])}
    out = ni(ids, {"item": feats["item"][ids["item"]], "user": feats["user"][ids["user"]]})
    assert {k: tuple(v.shape) for k, v in out.items()} == {"item": (2, 5), "user": (1, 5), "category": (3, 5)}
    want = ni.embeddings["item"](ids["item"]) + ni.projections["item"](feats["item"][ids["item"]])
    assert torch.allclose(out["item"], want)
    assert torch.allclose(out["category"], ni.embeddings["category"](ids["category"]))  # no features: ids only
    assert ni.out_dims == {"category": 5, "item": 5, "user": 5}


def test_embed_features_is_the_cold_start_path():
    _, feats = toy_shop_graph()
    ni = NodeInput({"item": 8, "user": 6}, {"item": 4}, dim=3, id_embedding=False)
    new_item = torch.tensor([[0.5, 0.0, 1.0, 0.0]])
    assert torch.allclose(ni.embed_features("item", new_item), ni.projections["item"](new_item))
    out = ni({"item": torch.tensor([1]), "user": torch.tensor([0, 1])}, {"item": feats["item"][[1]]})
    assert torch.allclose(out["item"], ni.embed_features("item", feats["item"][[1]]))
    # without ids or features a type gets one learnable vector
    assert torch.allclose(out["user"][0], out["user"][1]) and "user" in ni.type_vectors
    with pytest.raises(KeyError, match="node type 'user' has no features"):
        ni.embed_features("user", torch.zeros(1, 3))


def test_node_input_errors():
    ni = NodeInput({"item": 8}, {"item": 4}, dim=3)
    with pytest.raises(KeyError, match="feats has no 'item' entry"):
        ni({"item": torch.tensor([0])}, {})
    with pytest.raises(ValueError, match=r"feats\['item'\] has shape \(2, 4\), expected \[1, 4\]"):
        ni({"item": torch.tensor([0])}, {"item": torch.zeros(2, 4)})
    with pytest.raises(ValueError, match="not in num_nodes"):
        NodeInput({"item": 8}, {"user": 3}, dim=3)


def test_id_dropout_zeroes_a_share_of_id_embeddings_in_training_only():
    n = 4000
    ni = NodeInput({"item": n, "user": 10}, {"item": 2}, dim=3, id_dropout=0.25)
    assert ni.id_dropout == {"item": 0.25}  # a float: every type with features (users have none here)
    ids = {"item": torch.arange(n), "user": torch.arange(10)}
    feats = {"item": torch.randn(n, 2)}
    proj = ni.embed_features("item", feats["item"])
    torch.manual_seed(0)
    out = ni(ids, feats)
    dropped = torch.isclose(out["item"], proj, atol=1e-6).all(1)  # the feature path alone
    assert 0.2 < dropped.float().mean() < 0.3
    kept = ~dropped
    assert torch.allclose(out["item"][kept], proj[kept] + ni.embeddings["item"](ids["item"][kept]))
    assert torch.allclose(out["user"], ni.embeddings["user"](ids["user"]))  # users untouched
    torch.manual_seed(0)
    assert torch.equal(ni(ids, feats)["item"], out["item"])  # the global stream decides (seeded by the trainer)
    ni.eval()  # evaluation never drops
    assert torch.allclose(ni(ids, feats)["item"], proj + ni.embeddings["item"](ids["item"]))
    # combined with the untrained mask: both zero
    ni.train()
    untrained = {"item": torch.zeros(n, dtype=torch.bool)}
    untrained["item"][:100] = True
    assert torch.allclose(ni(ids, feats, untrained)["item"][:100], proj[:100], atol=1e-6)


def test_id_dropout_options_and_errors():
    ni = NodeInput({"item": 5, "user": 4}, {"item": 2}, dim=3, id_dropout={"user": 0.5, "item": 0.0})
    assert ni.id_dropout == {"user": 0.5}  # a mapping names the types, even one without features
    with pytest.raises(ValueError, match="node_input.id_dropout=0.5"):
        NodeInput({"item": 5}, {"item": 2}, dim=3, id_dropout=1.0)
    with pytest.raises(ValueError, match="got 'abc'"):
        NodeInput({"item": 5}, {"item": 2}, dim=3, id_dropout="abc")
    with pytest.raises(ValueError, match=r"\['shop'\]"):
        NodeInput({"item": 5}, {"item": 2}, dim=3, id_dropout={"shop": 0.5})
    with pytest.raises(ValueError, match="id_embedding is false"):
        NodeInput({"item": 5}, {"item": 2}, dim=3, id_embedding=False, id_dropout=0.5)
