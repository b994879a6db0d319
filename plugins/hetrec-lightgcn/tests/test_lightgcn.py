"""LightGCN plugin: the shared encoder contract, the paper's propagation rule, discovery as an installed plugin."""

from __future__ import annotations

import pytest
import torch

from hetrec._dgl import dgl
from hetrec.testing import assert_encoder, toy_shop_graph
from hetrec_lightgcn import LightGCN


def dims_of(x):
    return {nt: t.shape[1] for nt, t in x.items()}


@pytest.mark.parametrize("reverse", [True, False])
def test_lightgcn_contract_with_feature_projection(reverse):
    g, x = toy_shop_graph(reverse=reverse)
    enc = LightGCN(g.canonical_etypes, dims_of(x), out_dim=8)
    assert_encoder(enc, g, x, out_dim=8)


def test_lightgcn_contract_pure_has_no_parameters():
    g, feats = toy_shop_graph()
    torch.manual_seed(0)
    proj = {nt: torch.nn.Linear(t.shape[1], 8) for nt, t in feats.items()}
    with torch.no_grad():
        x = {nt: proj[nt](t) for nt, t in feats.items()}  # what NodeInput hands over: one size for every type
    enc = LightGCN(g.canonical_etypes, dims_of(x), num_layers=2)
    assert enc.out_dim == 8 and sum(p.numel() for p in enc.parameters()) == 0
    assert_encoder(enc, g, x, out_dim=8)


def test_lightgcn_equals_paper_formula():
    """E = mean_k (D^-1/2 A D^-1/2)^k E0 with A = [[0, R], [R^T, 0]], R = clicks + purchases (He et al., 2020,
    eq. 8)."""
    g, feats = toy_shop_graph()
    nu, ni = g.num_nodes("user"), g.num_nodes("item")
    torch.manual_seed(1)
    x = {"user": torch.randn(nu, 4), "item": torch.randn(ni, 4), "category": torch.randn(3, 4)}
    enc = LightGCN(g.canonical_etypes, dims_of(x), num_layers=3)
    r = torch.zeros(nu, ni)
    for rel in ("clicks", "purchases"):
        u, i = g.edges(etype=rel)
        r.index_put_((u, i), torch.ones(len(u)), accumulate=True)
    a = torch.zeros(nu + ni, nu + ni)
    a[:nu, nu:] = r
    a[nu:, :nu] = r.T
    d = a.sum(1).clamp(min=1).rsqrt()
    s = d[:, None] * a * d[None, :]
    e = torch.cat([x["user"], x["item"]])
    layers = [e]
    for _ in range(3):
        layers.append(s @ layers[-1])
    want = torch.stack(layers).mean(0)
    out = enc(g, x)
    assert torch.allclose(out["user"], want[:nu], atol=1e-5)
    assert torch.allclose(out["item"], want[nu:], atol=1e-5)
    assert torch.equal(out["category"], x["category"])  # outside the user-item relations: layer 0


def test_lightgcn_relation_choice_and_errors():
    g, x = toy_shop_graph()
    x8 = {nt: torch.ones(t.shape[0], 8) for nt, t in x.items()}
    only = LightGCN(g.canonical_etypes, dims_of(x8), relations=["purchases", "rev_purchases"])
    assert [r for _, r, _ in only.relations] == ["purchases", "rev_purchases"]
    default = LightGCN(g.canonical_etypes, dims_of(x8))
    assert {r for _, r, _ in default.relations} == {"clicks", "purchases", "rev_clicks", "rev_purchases"}
    with pytest.raises(ValueError, match="different input sizes.*encoder.out_dim=64"):
        LightGCN(g.canonical_etypes, dims_of(x))
    with pytest.raises(ValueError, match=r"relations \['views'\] are not in the graph"):
        LightGCN(g.canonical_etypes, dims_of(x8), relations=["views"])
    with pytest.raises(ValueError, match="no relation between 'customer' and 'item'"):
        LightGCN(g.canonical_etypes, dims_of(x8), user_type="customer")


def test_lightgcn_on_blocks_uses_every_layer():
    """Mini-batch path: the mean over layers restricted to the seeds equals the full graph when every node is seeded."""
    g, x = toy_shop_graph()
    x8 = {nt: torch.randn(t.shape[0], 8, generator=torch.Generator().manual_seed(2)) for nt, t in x.items()}
    enc = LightGCN(g.canonical_etypes, dims_of(x8), num_layers=2)
    seeds = {"user": torch.arange(6), "item": torch.arange(8), "category": torch.arange(3)}
    inp, out, blocks = dgl.dataloading.MultiLayerFullNeighborSampler(2).sample(g, seeds)
    got = enc(blocks, {nt: x8[nt][inp[nt]] for nt in inp})
    full = enc(g, x8)
    for nt in out:
        assert torch.allclose(got[nt], full[nt][out[nt]], atol=1e-6)


def test_installed_plugin_is_registered():
    from hetrec import registry

    info = registry.available_encoders()["lightgcn"]
    assert info.package == "hetrec-lightgcn" and info.config.endswith("hetrec_lightgcn/conf/encoder/lightgcn.yaml")
    assert registry.get_encoder_class("lightgcn") is LightGCN


@pytest.mark.parametrize("relations", [None, ["clicks"]])
def test_full_graph_operator_matches_per_relation_path_with_gradients(relations):
    """The cached full-graph operator (and its custom backward) gives the per-relation path's outputs and input
    gradients; with only ``clicks`` users receive nothing, so the per-relation path runs (operator is None)."""
    gen = torch.Generator().manual_seed(0)

    def edges(num_src, num_dst):  # 300 random edges
        return torch.randint(num_src, (300,), generator=gen), torch.randint(num_dst, (300,), generator=gen)

    g = dgl.heterograph(
        {
            ("user", "clicks", "item"): edges(50, 70),
            ("item", "rev_clicks", "user"): edges(70, 50),
            ("item", "in", "cat"): (torch.arange(70), torch.randint(5, (70,), generator=gen)),
        },
        num_nodes_dict={"user": 55, "item": 72, "cat": 5},
    )
    enc = LightGCN(g.canonical_etypes, {nt: 8 for nt in g.ntypes}, num_layers=3, relations=relations)
    x = {nt: torch.randn(g.num_nodes(nt), 8, generator=gen, dtype=torch.float64).requires_grad_() for nt in g.ntypes}
    w = {nt: torch.randn(g.num_nodes(nt), 8, generator=gen, dtype=torch.float64) for nt in g.ntypes}

    def run():
        out = enc(g, x)
        grads = torch.autograd.grad(sum((out[nt] * w[nt]).sum() for nt in out), [x[nt] for nt in g.ntypes])
        return out, grads

    fast, fast_grads = run()
    assert (enc._operator(g) is None) == (relations is not None)
    enc._propagate_full = lambda graph, h: None  # force the per-relation path
    slow, slow_grads = run()
    assert sorted(fast) == sorted(slow)
    for nt in fast:
        torch.testing.assert_close(fast[nt], slow[nt])
    for a, b in zip(fast_grads, slow_grads):
        torch.testing.assert_close(a, b)
