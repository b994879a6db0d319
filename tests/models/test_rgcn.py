"""R-GCN (Schlichtkrull et al., 2018) with basis and block-diagonal decomposition."""

from __future__ import annotations

import pytest
import torch

from hetrec._dgl import dgl
from hetrec.models.rgcn import RGCN
from hetrec.testing import assert_encoder, toy_shop_graph


@pytest.mark.parametrize(
    "reverse,kw",
    [(True, {"regularizer": "basis", "num_bases": 2}), (False, {"regularizer": "basis", "num_bases": 2}),
     (True, {"regularizer": "bdd", "num_bases": 4}), (True, {"regularizer": "none"})],
)
def test_rgcn_contract(reverse, kw):
    g, x = toy_shop_graph(reverse=reverse)
    torch.manual_seed(0)
    enc = RGCN(g.canonical_etypes, {nt: t.shape[1] for nt, t in x.items()}, hidden_dim=8, out_dim=8, **kw)
    assert_encoder(enc, g, x, out_dim=8)


def test_rgcn_basis_shares_parameters_across_relations():
    g, x = toy_shop_graph()
    dims = {nt: 16 for nt in g.ntypes}
    full = RGCN(g.canonical_etypes, dims, num_layers=1, out_dim=16, regularizer="none")
    basis = RGCN(g.canonical_etypes, dims, num_layers=1, out_dim=16, regularizer="basis", num_bases=2)
    bdd = RGCN(g.canonical_etypes, dims, num_layers=1, out_dim=16, regularizer="bdd", num_bases=4)
    count = lambda m: sum(p.numel() for p in m.parameters())
    r = len(g.canonical_etypes)
    assert count(full) == r * 16 * 16 + 16 * 16 + 16
    assert count(basis) == 2 * 16 * 16 + r * 2 + 16 * 16 + 16
    assert count(bdd) == r * 4 * 4 * 4 + 16 * 16 + 16


def test_rgcn_one_layer_equals_formula():
    """h_i' = h_i W_0 + Σ_r mean_{j ∈ N_r(i)} h_j W_r + b."""
    g = dgl.heterograph({
        ("user", "clicks", "item"): (torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1])),
        ("user", "buys", "item"): (torch.tensor([1]), torch.tensor([0])),
    }, num_nodes_dict={"user": 2, "item": 3})  # one-way relations only: DGL calls it uni-bipartite
    x = {"user": torch.tensor([[1.0, 2.0], [3.0, -1.0]]), "item": torch.tensor([[0.5, 0.5], [-1.0, 2.0], [0.0, 1.0]])}
    enc = RGCN(g.canonical_etypes, {"user": 2, "item": 2}, num_layers=1, out_dim=3, regularizer="none").eval()
    layer = enc.layers[0]
    w = layer.relation_weights()
    w_clicks, w_buys = w[layer.rel_names.index("clicks")], w[layer.rel_names.index("buys")]
    loop = x["item"] @ layer.loop.weight.T
    want = loop + layer.bias
    want[0] += (x["user"][0] + x["user"][1]) / 2 @ w_clicks + x["user"][1] @ w_buys
    want[1] += x["user"][1] @ w_clicks
    assert torch.allclose(enc(g, x)["item"], want, atol=1e-6)
    assert torch.allclose(enc(g, x)["user"], x["user"] @ layer.loop.weight.T + layer.bias, atol=1e-6)


def test_rgcn_config_errors():
    g, x = toy_shop_graph()
    dims = {nt: t.shape[1] for nt, t in x.items()}
    with pytest.raises(ValueError, match="encoder.regularizer=basis"):
        RGCN(g.canonical_etypes, dims, regularizer="diag")
    with pytest.raises(ValueError, match="divisible by num_bases=3"):
        RGCN(g.canonical_etypes, dims, hidden_dim=8, regularizer="bdd", num_bases=3)
    dup = [("user", "in", "group"), ("item", "in", "category")]
    with pytest.raises(ValueError, match=r"relation name\(s\) \['in'\]"):
        RGCN(dup, {"user": 2, "group": 2, "item": 2, "category": 2})


@pytest.mark.parametrize("norm", ["both", "none"])
def test_rgcn_norm_and_learned_relation_weights_contract(norm):
    g, x = toy_shop_graph()
    torch.manual_seed(0)
    enc = RGCN(g.canonical_etypes, {nt: t.shape[1] for nt, t in x.items()}, hidden_dim=8, out_dim=8, norm=norm,
               self_loop=False, relation_aggregate="weighted", activation="none", layer_combine="mean")
    assert enc.sampled_equals_full is (norm != "both")
    assert_encoder(enc, g, x, out_dim=8)
    with pytest.raises(ValueError, match=r"unknown norm 'left'; choose one of right, both, none"):
        RGCN(g.canonical_etypes, {nt: t.shape[1] for nt, t in x.items()}, norm="left")
