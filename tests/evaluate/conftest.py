"""Hand-built GraphData for evaluation tests (independent of the graph builder)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from hetrec._dgl import dgl
from hetrec.data.idmap import IdMap
from hetrec.graph.data import GraphData


def graphdata_from_pairs(
    train: tuple[np.ndarray, np.ndarray],
    num_users: int,
    num_items: int,
    valid: tuple[np.ndarray, np.ndarray] | None = None,
    test: tuple[np.ndarray, np.ndarray] | None = None,
    baskets: sp.csr_matrix | None = None,
    event: str = "clicks",
    name: str = "hand",
) -> GraphData:
    """GraphData whose graph holds the training pairs (and reverses) of one relation, plus held-out splits."""
    tu, ti = (torch.as_tensor(np.asarray(a), dtype=torch.int64) for a in train)
    empty = (torch.zeros(0, dtype=torch.int64), torch.zeros(0, dtype=torch.int64))
    as_pairs = lambda p: empty if p is None else tuple(torch.as_tensor(np.asarray(a), dtype=torch.int64) for a in p)
    g = dgl.heterograph(
        {("user", event, "item"): (tu, ti), ("item", f"rev_{event}", "user"): (ti, tu)},
        num_nodes_dict={"user": num_users, "item": num_items},
    )
    for et in g.canonical_etypes:
        g.edges[et].data["weight"] = torch.ones(g.num_edges(et))
    return GraphData(
        graph=g,
        features={},
        target=("user", event, "item"),
        splits={"train": (tu, ti), "valid": as_pairs(valid), "test": as_pairs(test)},
        reverse_etypes={event: f"rev_{event}", f"rev_{event}": event},
        idmaps={"user": IdMap(range(num_users), "user"), "item": IdMap(range(num_items), "item")},
        split_hash="hand",
        name=name,
        train_baskets=baskets,
    )


def random_graphdata(num_users=60, num_items=40, density=0.15, seed=0) -> GraphData:
    rng = np.random.default_rng(seed)
    m = rng.random((num_users, num_items)) < density
    u, i = np.nonzero(m)
    r = rng.random(len(u))
    tr, va, te = r < 0.7, (r >= 0.7) & (r < 0.8), r >= 0.8
    return graphdata_from_pairs((u[tr], i[tr]), num_users, num_items, (u[va], i[va]), (u[te], i[te]))


@pytest.fixture
def small_data() -> GraphData:
    return random_graphdata()
