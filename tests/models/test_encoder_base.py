"""The encoder contract's input checks (shared by every Encoder subclass) and block handling."""

from __future__ import annotations

import pytest
import torch

from hetrec.dgl import dgl, fn
from hetrec.models.base import Encoder, dst_part, make_activation
from hetrec.models.sage import SAGE
from hetrec.testing import toy_shop_graph


def dims_of(x):
    return {nt: t.shape[1] for nt, t in x.items()}


def test_block_count_error_says_what_to_set():
    g, x = toy_shop_graph()
    enc = SAGE(g.canonical_etypes, dims_of(x), num_layers=2)
    _, _, blocks = dgl.dataloading.NeighborSampler([10, 10, 5]).sample(g, {"item": torch.tensor([0, 1])})
    with pytest.raises(ValueError) as e:
        enc(blocks, x)
    assert str(e.value) == (
        "SAGE(num_layers=2) got 3 blocks; set train.fanouts to 2 values (one per layer) or encoder.num_layers=3"
    )


def test_input_errors_name_the_node_type_and_fix():
    g, x = toy_shop_graph()
    enc = SAGE(g.canonical_etypes, dims_of(x))
    with pytest.raises(KeyError, match="no input for node type 'category'"):
        enc(g, {k: v for k, v in x.items() if k != "category"})
    with pytest.raises(ValueError, match=r"x\['user'\] has shape \(5, 3\), expected \[6, 3\]"):
        enc(g, {**x, "user": x["user"][:5]})
    with pytest.raises(ValueError, match=r"x\['item'\] has 5 columns but in_dims\['item'\] = 4"):
        enc(g, {**x, "item": torch.cat([x["item"], x["item"][:, :1]], 1)})
    other = dgl.heterograph({("user", "follows", "user"): ([0], [1])})
    with pytest.raises(ValueError, match=r"relation\(s\) \[\('user', 'follows', 'user'\)\] this encoder was not built"):
        enc(other, {"user": torch.zeros(2, 3)})
    with pytest.raises(TypeError, match="expected a DGLGraph or a list of 2 blocks"):
        enc({"user": 1}, x)


def test_constructor_errors():
    g, x = toy_shop_graph()
    with pytest.raises(ValueError, match=r"in_dims has no size for node type\(s\) \['category'\]"):
        SAGE(g.canonical_etypes, {"user": 3, "item": 4})
    with pytest.raises(ValueError, match="encoder.num_layers=2"):
        SAGE(g.canonical_etypes, dims_of(x), num_layers=0)
    with pytest.raises(ValueError, match="not a canonical etype"):
        SAGE(["clicks"], dims_of(x))
    with pytest.raises(ValueError, match="encoder.activation=relu"):
        make_activation("swishy", "SAGE")
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        SAGE(g.canonical_etypes, dims_of(x), dropout=1.5)


def test_encoder_accepts_omegaconf_containers():
    from omegaconf import OmegaConf

    g, x = toy_shop_graph()
    cfg = OmegaConf.create({"etypes": [list(e) for e in g.canonical_etypes], "in_dims": dims_of(x)})
    enc = SAGE(cfg.etypes, cfg.in_dims, out_dim=4)
    assert enc.etypes == g.canonical_etypes
    assert enc(g, x)["user"].shape == (6, 4)


def test_dst_part_repairs_dgl_block_order_for_types_without_in_edges():
    """DGL's to_block does not put destination users first among source users when users receive no edges;
    dst_part must still return the destination rows."""
    g, x = toy_shop_graph(reverse=False)
    seeds = {nt: torch.arange(g.num_nodes(nt)) for nt in g.ntypes}
    _, _, blocks = dgl.dataloading.MultiLayerFullNeighborSampler(2).sample(g, seeds)
    b = blocks[0]
    ids = {"user": b.srcnodes["user"].data[dgl.NID].float().unsqueeze(1)}
    got = dst_part(b, ids)["user"].squeeze(1).long()
    assert torch.equal(got, b.dstnodes["user"].data[dgl.NID])


def test_base_propagate_must_be_implemented():
    g, x = toy_shop_graph()
    enc = Encoder(g.canonical_etypes, dims_of(x))
    with pytest.raises(NotImplementedError, match="must implement propagate"):
        enc(g, x)


def test_layer_combine_needs_hidden_equal_out():
    from hetrec.models.sage import SAGE

    g, x = toy_shop_graph()
    with pytest.raises(ValueError, match=r"hidden_dim must equal out_dim .*set encoder.hidden_dim=8"):
        SAGE(g.canonical_etypes, {nt: t.shape[1] for nt, t in x.items()}, hidden_dim=16, out_dim=8,
             layer_combine="mean")


def test_weighted_relations_start_as_mean_and_learn():
    """relation_aggregate=weighted starts as the mean of the relations into a type; its weights are parameters."""
    from hetrec.models.base import TypedConv

    g, x = toy_shop_graph()
    x = {nt: torch.randn(g.num_nodes(nt), 4) for nt in g.ntypes}
    mods = {et: torch.nn.Linear(4, 4) for et in g.canonical_etypes}

    class Rel(torch.nn.Module):  # module(rel_graph, (h_src, h_dst)) -> mean of the sources per destination
        def __init__(self, lin):
            super().__init__()
            self.lin = lin

        def forward(self, rg, feat):
            with rg.local_scope():
                rg.srcdata["h"] = self.lin(feat[0])
                rg.update_all(fn.copy_u("h", "m"), fn.mean("m", "h"))
                return rg.dstdata["h"]

    torch.manual_seed(0)
    weighted = TypedConv({et: Rel(m) for et, m in mods.items()}, aggregate="weighted")
    mean = TypedConv({et: Rel(m) for et, m in mods.items()}, aggregate="mean")
    a, b = weighted(g, x), mean(g, x)
    assert set(a) == set(b) and all(torch.allclose(a[nt], b[nt], atol=1e-6) for nt in a)
    shares = weighted.relation_weights()
    assert abs(sum(v for et, v in shares.items() if et[2] == "item") - 1.0) < 1e-6
    with torch.no_grad():
        weighted.relation_logits[weighted.etype_index[("user", "clicks", "item")]] = 50.0
    only = weighted(g, x)["item"]
    assert torch.allclose(only, Rel(mods[("user", "clicks", "item")])(g[("user", "clicks", "item")],
                                                                        (x["user"], x["item"])), atol=1e-5)


def test_edge_dropout_only_while_training():
    from hetrec.models.gcn import GCN

    g, x = toy_shop_graph()
    enc = GCN(g.canonical_etypes, {nt: t.shape[1] for nt, t in x.items()}, hidden_dim=8, out_dim=8,
              edge_dropout=0.5)
    enc.eval()
    a, b = enc(g, x), enc(g, x)
    assert all(torch.equal(a[nt], b[nt]) for nt in a)
    enc.train()
    torch.manual_seed(1)
    c = enc(g, x)
    assert any(not torch.allclose(a[nt], c[nt]) for nt in a)


class _Counting(torch.nn.Module):
    def __init__(self, in_dims, out_dim, tag):
        super().__init__()
        self.tag = tag
        self.lins = torch.nn.ModuleDict({nt: torch.nn.Linear(d, out_dim) for nt, d in in_dims.items()})

    def forward(self, g, h):
        hd = dst_part(g, h)
        return {nt: self.lins[nt](hd[nt]) for nt in hd}


def test_layers_are_built_after_the_subclass_init_with_its_settings():
    """The documented rule: super().__init__ first, own settings after, base options through **options; make_layer
    runs once the outermost __init__ has returned, also for a subclass of a subclass."""
    from hetrec.models.base import LayeredEncoder

    calls = []

    class Tagged(LayeredEncoder):
        def __init__(self, etypes, in_dims, *, tag="a", **options):
            super().__init__(etypes, in_dims, **options)
            assert len(self.layers) == 0  # not built yet inside __init__
            self.tag = tag

        def make_layer(self, index, in_dims, out_dim):
            calls.append((type(self).__name__, index, self.tag))
            return _Counting(in_dims, out_dim, self.tag)

    class Tagged2(Tagged):
        def __init__(self, etypes, in_dims, *, suffix="!", **options):
            super().__init__(etypes, in_dims, **options)
            self.tag = self.tag + suffix

    class Inherits(Tagged2):  # no __init__ of its own
        pass

    g, x = toy_shop_graph()
    enc = Tagged(g.canonical_etypes, dims_of(x), tag="t", num_layers=3, hidden_dim=5, out_dim=4)
    assert calls == [("Tagged", 0, "t"), ("Tagged", 1, "t"), ("Tagged", 2, "t")]
    assert [layer.tag for layer in enc.layers] == ["t"] * 3 and enc(g, x)["user"].shape == (6, 4)
    calls.clear()
    Tagged2(g.canonical_etypes, dims_of(x), tag="u", num_layers=2)
    assert calls == [("Tagged2", 0, "u!"), ("Tagged2", 1, "u!")]  # once, after the outermost __init__
    calls.clear()
    Inherits(g.canonical_etypes, dims_of(x), suffix="?", num_layers=1)
    assert calls == [("Inherits", 0, "a?")]
    assert "_init_depth" not in vars(enc)
    with pytest.raises(RuntimeError, match="build\\(\\) ran twice"):
        enc.build()
    with pytest.raises(ValueError, match="hidden_dim must equal out_dim"):  # checked at build time, still raised
        Tagged(g.canonical_etypes, dims_of(x), layer_combine="mean", hidden_dim=5, out_dim=4)
