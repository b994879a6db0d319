"""The public plugin kit (hetrec.testing): the gradient check judges parameters fairly but still catches dead ones,
zero_grad_ok, seeded factories, the dense toy graph, assert_plugin_config."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hetrec.dgl import dglnn, fn
from hetrec.models.base import Encoder, LayeredEncoder, RootTerm, TypedConv, dst_part, dst_types
from hetrec.models.sage import SAGE
from hetrec.testing import assert_encoder, assert_plugin_config, toy_shop_graph


def dims_of(x):
    return {nt: t.shape[1] for nt, t in x.items()}


class MeanConv(Encoder):
    """One linear map per type, then mean over in-neighbours plus self (like the guide's SGC); ``extra`` adds a
    parameter wired in the way the test asks for."""

    def __init__(self, etypes, in_dims, *, out_dim=8, extra="none", **kw):
        super().__init__(etypes, in_dims, out_dim=out_dim, **kw)
        self.lins = nn.ModuleDict({nt: nn.Linear(d, out_dim) for nt, d in self.in_dims.items()})
        self.extra = extra
        if extra != "none":
            self.gate = nn.Parameter(torch.ones(out_dim))

    def propagate(self, graphs, x):
        h = {nt: self.lins[nt](t) for nt, t in x.items()}
        for g in graphs:
            with g.local_scope():
                for nt, t in h.items():
                    g.srcnodes[nt].data["h"] = t
                g.multi_update_all({et: (fn.copy_u("h", "m"), fn.mean("m", "h")) for et in g.canonical_etypes}, "mean")
                own = dst_part(g, h)
                h = {
                    nt: (g.dstnodes[nt].data["h"] + own[nt]) / 2 if "h" in g.dstnodes[nt].data else own[nt]
                    for nt in own
                }
        if self.extra == "times_zero":  # a real bug: the parameter reaches the output multiplied by zero
            h = {nt: t + 0.0 * self.gate * t for nt, t in h.items()}
        elif self.extra == "softmax_of_one":  # a real bug: a softmax over a size-1 axis is constant
            w = torch.softmax(self.gate[:1], 0)
            h = {nt: t * w for nt, t in h.items()}
        return h


def test_dead_parameters_still_fail_with_cause_and_option():
    g, x = toy_shop_graph()
    with pytest.raises(AssertionError, match=r"parameter 'gate' has no gradient \(unused in forward\?\)"):
        assert_encoder(MeanConv(g.canonical_etypes, dims_of(x), extra="unused"), g, x)
    for bug in ("times_zero", "softmax_of_one"):  # zero on the given graph *and* on the denser probe graphs
        with pytest.raises(AssertionError) as e:
            assert_encoder(MeanConv(g.canonical_etypes, dims_of(x), extra=bug), g, x)
        msg = str(e.value)
        assert "parameter 'gate' has an all-zero gradient on the given graph and on 3 denser random graphs" in msg
        assert "softmax over a single neighbour" in msg and "zero_grad_ok=['gate']" in msg
        assert "('category', 'rev_in', 'item')" in msg  # the relation whose destinations have one in-edge each
        assert_encoder(MeanConv(g.canonical_etypes, dims_of(x), extra=bug), g, x, zero_grad_ok=["ga*"])


def test_zero_grad_ok_patterns_must_match_a_parameter():
    g, x = toy_shop_graph()
    with pytest.raises(AssertionError, match=r"zero_grad_ok \['\*attn_q'\] match no parameter"):
        assert_encoder(MeanConv(g.canonical_etypes, dims_of(x)), g, x, zero_grad_ok=["*attn_q"])


class RelationGAT(nn.Module):
    def __init__(self, in_src, in_dst, out_dim):
        super().__init__()
        self.gat = dglnn.GATConv((in_src, in_dst), out_dim, 2, allow_zero_in_degree=True)

    def forward(self, g, feat):
        return self.gat(g, feat).mean(1)


class GATLayer(nn.Module):
    def __init__(self, etypes, in_dims, out_dim):
        super().__init__()
        self.conv = TypedConv({et: RelationGAT(in_dims[et[0]], in_dims[et[2]], out_dim) for et in etypes})
        self.root = RootTerm(in_dims, out_dim)

    def forward(self, g, h):
        hd = dst_part(g, h)
        out = self.conv(g, (h, hd) if g.is_block else h)
        return {nt: self.root(nt, hd[nt]) + out.get(nt, 0) for nt in dst_types(g)}


class GAT(LayeredEncoder):
    def make_layer(self, index, in_dims, out_dim):
        return GATLayer(self.etypes, in_dims, out_dim)


def test_attention_on_a_single_in_neighbour_has_zero_gradient_on_the_stock_graph_and_is_judged_on_probes():
    g, x = toy_shop_graph()
    make = lambda: GAT(g.canonical_etypes, dims_of(x), hidden_dim=8, out_dim=8)
    # judged on the stock graph alone, attn_l over rev_in (every item has one category) is exactly zero
    with pytest.raises(AssertionError) as e:
        assert_encoder(make, g, x, probes=0)
    msg = str(e.value)
    assert "('category', 'rev_in', 'item')" in msg and "attn_" in msg and "zero_grad_ok=" in msg
    assert "denser random graphs" not in msg
    # the reason is the graph, not the encoder: every rev_in destination has exactly one in-edge
    assert g.in_degrees(etype="rev_in").tolist() == [1] * g.num_nodes("item")
    assert_encoder(make, g, x, seed=3)  # judged where attention can learn: passes
    g2, x2 = toy_shop_graph(dense=True)  # and on the dense graph no probe is needed
    assert_encoder(lambda: GAT(g2.canonical_etypes, dims_of(x2), hidden_dim=8, out_dim=8), g2, x2, probes=0, seed=1)


def test_factory_is_built_under_the_seed_and_leaves_the_global_rng_alone():
    g, x = toy_shop_graph()
    built = []

    def make():
        built.append(SAGE(g.canonical_etypes, dims_of(x), hidden_dim=4, out_dim=4))
        return built[-1]

    torch.manual_seed(123)
    state = torch.get_rng_state()
    for seed in (5, 5, 6):
        assert_encoder(make, g, x, seed=seed)
    assert torch.equal(torch.get_rng_state(), state)
    key = "layers.0.conv.mods.('category', 'rev_in', 'item').fc_self.weight"
    first, again, other = (dict(b.named_parameters())[key] for b in built)
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert not built[0].training  # left in eval mode


def test_dense_toy_graph_gives_every_destination_two_neighbours_on_the_user_item_and_category_relations():
    g, x = toy_shop_graph(dense=True)
    for rel in ("clicks", "purchases", "rev_clicks", "rev_purchases", "rev_in"):
        src, dst = g.edges(etype=rel)
        distinct = {d: set() for d in range(g.num_nodes(g.to_canonical_etype(rel)[2]))}
        for s, d in zip(src.tolist(), dst.tolist()):
            distinct[d].add(s)
        assert min(len(v) for v in distinct.values()) >= 2, rel
    assert x["item"][:, 1:].sum(1).tolist() == [2.0] * 8  # two categories per item
    stock, _ = toy_shop_graph()
    assert stock.num_edges("clicks") < g.num_edges("clicks") and set(stock.canonical_etypes) == set(g.canonical_etypes)


def test_assert_plugin_config_composes_installed_encoders_and_names_failures():
    cfg = assert_plugin_config("sage", ["encoder.num_layers=1", "encoder.out_dim=6"])
    assert cfg._target_ == "hetrec.models.sage.SAGE" and cfg.num_layers == 1
    assert assert_plugin_config("lightgcn").num_layers >= 1
    with pytest.raises(AssertionError, match="unknown encoder 'gat_nope'.*pip install -e"):
        assert_plugin_config("gat_nope")
    with pytest.raises(AssertionError, match="does not compose with Hydra.*encoder.nope"):
        assert_plugin_config("sage", ["encoder.nope=1"])
    with pytest.raises(AssertionError, match="unknown aggregator 'foo'"):
        assert_plugin_config("sage", ["encoder.aggregator=foo"])
