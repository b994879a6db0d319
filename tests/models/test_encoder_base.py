"""The encoder contract's input checks (shared by every Encoder subclass) and block handling."""

from __future__ import annotations

import pytest
import torch

from hetrec._dgl import dgl
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
    _, _, blocks = dgl.dataloading.MultiLayerFullNeighborSampler(2).sample(g, {nt: torch.arange(g.num_nodes(nt)) for nt in g.ntypes})
    b = blocks[0]
    ids = {"user": b.srcnodes["user"].data[dgl.NID].float().unsqueeze(1)}
    got = dst_part(b, ids)["user"].squeeze(1).long()
    assert torch.equal(got, b.dstnodes["user"].data[dgl.NID])


def test_base_propagate_must_be_implemented():
    g, x = toy_shop_graph()
    enc = Encoder(g.canonical_etypes, dims_of(x))
    with pytest.raises(NotImplementedError, match="must implement propagate"):
        enc(g, x)
