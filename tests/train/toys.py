"""Tiny hand-built GraphData and a trivial encoder for trainer tests (no dependency on the data/graph stages).

A plain module (not conftest.py) so tests import it by a name no other test folder uses: `pytest tests/serve
tests/train` collects both folders in one session."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hetrec.data.idmap import IdMap
from hetrec.dgl import dgl, dglnn
from hetrec.graph.data import GraphData


def toy_graph_data(num_users: int = 60, num_items: int = 40, seed: int = 0) -> GraphData:
    """Two user groups, each clicking items of its own half of the catalogue; co_bought links items in pairs."""
    rng = np.random.default_rng(seed)
    us, its = [], []
    for u in range(num_users):
        half = u % 2
        pool = np.arange(half * num_items // 2, (half + 1) * num_items // 2)
        picked = rng.choice(pool, size=8, replace=False)
        us += [u] * len(picked)
        its += list(picked)
    u = np.array(us)
    i = np.array(its)
    order = rng.permutation(len(u))
    u, i = u[order], i[order]
    n = len(u)
    test = np.zeros(n, bool)
    valid = np.zeros(n, bool)
    seen: dict[int, int] = {}
    for k in range(n):  # hold out up to 2 valid + 1 test per user
        c = seen.get(u[k], 0)
        if c == 0:
            test[k] = True
        elif c < 3:
            valid[k] = True
        seen[u[k]] = c + 1
    train = ~(test | valid)
    cb_src = np.arange(0, num_items, 2)
    cb_dst = cb_src + 1
    cb_s = np.concatenate([cb_src, cb_dst])
    cb_d = np.concatenate([cb_dst, cb_src])
    t = lambda a: torch.as_tensor(a, dtype=torch.int64)
    g = dgl.heterograph(
        {
            ("user", "clicks", "item"): (t(u[train]), t(i[train])),
            ("item", "rev_clicks", "user"): (t(i[train]), t(u[train])),
            ("item", "co_bought", "item"): (t(cb_s), t(cb_d)),
            ("item", "rev_co_bought", "item"): (t(cb_d), t(cb_s)),
        },
        num_nodes_dict={"user": num_users, "item": num_items},
    )
    for et in g.canonical_etypes:
        g.edges[et].data["weight"] = torch.ones(g.num_edges(et))
    return GraphData(
        graph=g,
        features={"item": torch.randn(num_items, 3, generator=torch.Generator().manual_seed(seed))},
        target=("user", "clicks", "item"),
        splits={
            "train": (t(u[train]), t(i[train])),
            "valid": (t(u[valid]), t(i[valid])),
            "test": (t(u[test]), t(i[test])),
        },
        reverse_etypes={"clicks": "rev_clicks", "rev_clicks": "clicks", "co_bought": "rev_co_bought",
                        "rev_co_bought": "co_bought"},
        idmaps={"user": IdMap([f"u{k}" for k in range(num_users)]), "item": IdMap([f"i{k}" for k in range(num_items)])},
        name="toy",
        planted={"complementary_pairs": np.stack([cb_src, cb_dst], 1)},
    )


class ToyInput(nn.Module):
    """Id embeddings (+ projected features) per node type: the NodeInput interface, minimal."""

    def __init__(self, num_nodes, feat_dims, dim):
        super().__init__()
        self.dim = dim
        self.emb = nn.ModuleDict({nt: nn.Embedding(n, dim) for nt, n in num_nodes.items()})
        for e in self.emb.values():
            nn.init.normal_(e.weight, std=0.1)
        self.proj = nn.ModuleDict({nt: nn.Linear(d, dim) for nt, d in feat_dims.items()})

    def forward(self, ids, feats):
        out = {}
        for nt, idx in ids.items():
            out[nt] = self.emb[nt](idx)
            if nt in self.proj and nt in feats:
                out[nt] = out[nt] + self.proj[nt](feats[nt])
        return out


class ToyEncoder(nn.Module):
    """Mean-aggregating heterogeneous SAGE layers (DGL's HeteroGraphConv), the Encoder interface, minimal."""

    def __init__(self, etypes, in_dims, num_layers: int = 2, out_dim: int = 16):
        super().__init__()
        self.num_layers, self.out_dim = num_layers, out_dim
        dim = next(iter(in_dims.values()))
        self.layers = nn.ModuleList(
            dglnn.HeteroGraphConv({et: dglnn.SAGEConv(dim if k == 0 else out_dim, out_dim, "mean")
                                   for _, et, _ in etypes}, aggregate="sum")
            for k in range(num_layers)
        )

    def forward(self, graph_or_blocks, x):
        graphs = graph_or_blocks if isinstance(graph_or_blocks, list) else [graph_or_blocks] * self.num_layers
        h = dict(x)
        for k, (layer, g) in enumerate(zip(self.layers, graphs)):
            h = layer(g, h)
            if k < self.num_layers - 1:
                h = {nt: torch.relu(v) for nt, v in h.items()}
        return h
