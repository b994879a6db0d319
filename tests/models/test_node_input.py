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
