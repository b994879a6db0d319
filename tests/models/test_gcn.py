"""GCN (Kipf & Welling, 2017) on typed graphs."""

from __future__ import annotations

import pytest
import torch

from hetrec._dgl import dgl
from hetrec.models.gcn import GCN
from hetrec.testing import assert_encoder, toy_shop_graph


@pytest.mark.parametrize("reverse", [True, False])
def test_gcn_contract(reverse):
    g, x = toy_shop_graph(reverse=reverse)
    torch.manual_seed(0)
    enc = GCN(g.canonical_etypes, {nt: t.shape[1] for nt, t in x.items()}, hidden_dim=8, out_dim=6, dropout=0.1)
    assert_encoder(enc, g, x, out_dim=6)


def test_gcn_options_contract():
    g, x = toy_shop_graph()
    enc = GCN(g.canonical_etypes, {nt: t.shape[1] for nt, t in x.items()}, num_layers=3, hidden_dim=8, out_dim=8,
              activation="leaky_relu", layer_norm=True, residual=True)
    assert_encoder(enc, g, x, out_dim=8)


def test_gcn_single_relation_equals_kipf_formula():
    """On one homogeneous relation, one layer is exactly D̃^-½ (A + I) D̃^-½ X W + b."""
    src = torch.tensor([0, 1, 1, 2, 3, 3])
    dst = torch.tensor([1, 0, 2, 1, 0, 2])
    g = dgl.heterograph({("item", "co_bought", "item"): (src, dst)}, num_nodes_dict={"item": 5})  # item 4 isolated
    x = {"item": torch.arange(15, dtype=torch.float32).reshape(5, 3) / 10}
    torch.manual_seed(0)
    enc = GCN(g.canonical_etypes, {"item": 3}, num_layers=1, out_dim=2).eval()
    a = torch.zeros(5, 5)
    a[dst, src] = 1.0  # row = receiver
    a_tilde = a + torch.eye(5)
    d_in = a_tilde.sum(1)  # in-degree + 1 of the receiver
    d_out = a_tilde.sum(0)  # out-degree + 1 of the sender
    norm = a_tilde / torch.sqrt(d_in[:, None] * d_out[None, :])
    layer = enc.layers[0]
    w = layer.conv.mods[str(("item", "co_bought", "item"))].conv.weight
    want = norm @ x["item"] @ w + layer.bias["item"]
    got = enc(g, x)["item"]
    assert torch.allclose(got, want, atol=1e-6)


def test_gcn_wrong_block_count_message():
    g, x = toy_shop_graph()
    enc = GCN(g.canonical_etypes, {nt: t.shape[1] for nt, t in x.items()}, num_layers=2)
    sampler = dgl.dataloading.MultiLayerFullNeighborSampler(3)
    _, _, blocks = sampler.sample(g, {"user": torch.tensor([0])})
    with pytest.raises(ValueError, match=r"^GCN\(num_layers=2\) got 3 blocks; set train.fanouts to 2 values"):
        enc(blocks, x)


def test_light_gcn_equals_lightgcn_formula():
    """weight=False, self_loop=False, activation none, layer_combine=mean on one bipartite relation (and its reverse)
    is LightGCN: mean of E, ÂE, Â²E with Â = D^-½ A D^-½ over the user-item graph."""
    u = torch.tensor([0, 0, 1, 2, 2, 2])
    i = torch.tensor([0, 1, 1, 0, 2, 3])
    g = dgl.heterograph({("user", "buys", "item"): (u, i), ("item", "rev_buys", "user"): (i, u)},
                        num_nodes_dict={"user": 4, "item": 4})  # user 3 isolated
    torch.manual_seed(0)
    x = {"user": torch.randn(4, 5), "item": torch.randn(4, 5)}
    enc = GCN(g.canonical_etypes, {"user": 5, "item": 5}, weight=False, self_loop=False, activation="none",
              layer_combine="mean", num_layers=2, hidden_dim=5, out_dim=5)
    a = torch.zeros(8, 8)
    a[u, 4 + i] = a[4 + i, u] = 1.0
    d = a.sum(1).clamp(min=1)
    norm = a / torch.sqrt(d[:, None] * d[None, :])
    e0 = torch.cat([x["user"], x["item"]])
    want = (e0 + norm @ e0 + norm @ norm @ e0) / 3
    got = enc(g, x)
    assert torch.allclose(torch.cat([got["user"], got["item"]]), want, atol=1e-6)
    assert not list(enc.parameters())  # parameter-free propagation


@pytest.mark.parametrize("aggregate", ["weighted", "attention"])
def test_gcn_learned_relation_weights_contract(aggregate):
    g, x = toy_shop_graph()
    torch.manual_seed(0)
    enc = GCN(g.canonical_etypes, {nt: t.shape[1] for nt, t in x.items()}, hidden_dim=8, out_dim=8,
              relation_aggregate=aggregate, layer_combine="weighted", edge_dropout=0.2)
    assert_encoder(enc, g, x, out_dim=8)


def test_gcn_weight_false_maps_other_input_sizes_to_out_dim():
    """Without weights the layers keep the size: inputs of other sizes are first mapped to out_dim (and hidden_dim is
    moot), so node_input.dim need not equal encoder.out_dim."""
    g, x = toy_shop_graph()
    torch.manual_seed(0)
    enc = GCN(g.canonical_etypes, {nt: t.shape[1] for nt, t in x.items()}, weight=False, self_loop=False,
              activation="none", layer_combine="mean", hidden_dim=32, out_dim=6)
    assert set(enc.input_proj) == set(x) and enc.hidden_dim == 6
    assert_encoder(enc, g, x, out_dim=6)
