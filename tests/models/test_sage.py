"""GraphSAGE (Hamilton et al., 2017) on typed graphs."""

from __future__ import annotations

import pytest
import torch

from hetrec._dgl import dgl
from hetrec.models.sage import SAGE
from hetrec.testing import assert_encoder, toy_shop_graph


@pytest.mark.parametrize("aggregator", ["mean", "pool"])
@pytest.mark.parametrize("reverse", [True, False])
def test_sage_contract(aggregator, reverse):
    g, x = toy_shop_graph(reverse=reverse)
    torch.manual_seed(0)
    in_dims = {nt: t.shape[1] for nt, t in x.items()}
    enc = SAGE(g.canonical_etypes, in_dims, hidden_dim=8, out_dim=4, aggregator=aggregator)
    assert_encoder(enc, g, x, out_dim=4)


def test_sage_options_contract():
    g, x = toy_shop_graph()
    enc = SAGE(g.canonical_etypes, {nt: t.shape[1] for nt, t in x.items()}, num_layers=3, hidden_dim=8, out_dim=8,
               relation_aggregate="mean", activation="gelu", layer_norm=True, residual=True, dropout=0.2)
    assert_encoder(enc, g, x, out_dim=8)


def test_sage_mean_one_layer_equals_formula():
    g = dgl.heterograph({("user", "clicks", "item"): (torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1]))},
                        num_nodes_dict={"user": 2, "item": 3})
    x = {"user": torch.tensor([[1.0, 2.0], [3.0, -1.0]]), "item": torch.tensor([[0.5], [-1.0], [2.0]])}
    enc = SAGE(g.canonical_etypes, {"user": 2, "item": 1}, num_layers=1, out_dim=3).eval()
    layer = enc.layers[0]
    conv = layer.conv.mods[str(("user", "clicks", "item"))]
    neigh = torch.stack([(x["user"][0] + x["user"][1]) / 2, x["user"][1], torch.zeros(2)])
    want = conv.fc_self(x["item"]) + neigh @ conv.fc_neigh.weight.T
    assert torch.allclose(enc(g, x)["item"], want, atol=1e-6)
    # users receive no relation: their own input through the root term
    assert torch.allclose(enc(g, x)["user"], layer.root("user", x["user"]), atol=1e-6)


def test_sage_unknown_aggregator():
    g, x = toy_shop_graph()
    with pytest.raises(ValueError, match="encoder.aggregator=mean"):
        SAGE(g.canonical_etypes, {nt: t.shape[1] for nt, t in x.items()}, aggregator="median")
