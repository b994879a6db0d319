"""A tiny trained artifact with planted structure, shared by the serving tests.

30 items in three categories (``Food>Dairy`` i00-i09, ``Food>Bakery`` i10-i19, ``Tools`` i20-i29) and 45 users; user
``uNN`` buys 5 items of category ``NN % 3``. Planted cross-sell: every Dairy user buys ``i00``, and most of them also
the tool ``i25`` (a co-purchase across categories that embeddings alone would not suggest). A NodeInput + GraphSAGE
model is trained with BPR for a few hundred full-graph steps; its outputs are the artifact's embeddings, and its state
dict (``node_input.*``, ``encoder.*``) is the artifact's ``model.pt``, so cold start can rebuild it.

A plain module (not conftest.py) so tests import it by a name no other test folder uses: `pytest tests/serve
tests/train` collects both folders in one session; conftest.py makes the fixtures from it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from hetrec._dgl import dgl
from hetrec.data.idmap import IdMap
from hetrec.train.artifact import Artifact

CATS = ["Food>Dairy", "Food>Bakery", "Tools"]
ETYPES = [("user", "purchases", "item"), ("item", "rev_purchases", "user")]
ENCODER_CONFIG = {"_target_": "hetrec.models.sage.SAGE", "num_layers": 2, "hidden_dim": 16, "out_dim": 8}


def item_attrs() -> pd.DataFrame:
    rows = []
    for i in range(30):
        c = i // 10
        rows.append(
            {
                "name": f"product {i}",
                "category": CATS[c],
                "brand": f"brand{c}{i % 2}",
                "price": float(2 + 10 * c + (i % 5)),
            }
        )
    return pd.DataFrame(rows)


def purchases(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pairs = set()
    for u in range(45):
        c = u % 3
        for i in rng.choice(10, 5, replace=False):
            pairs.add((u, 10 * c + int(i)))
        if c == 0:
            pairs.add((u, 0))
            if rng.random() < 0.8:
                pairs.add((u, 25))
    return np.array(sorted(pairs), dtype=np.int64)


def co_bought(train: sp.csr_matrix, min_count: int = 2) -> dict[str, np.ndarray]:
    """Pair evidence with every user's purchases as one basket."""
    b = train.astype(np.float64)
    co = (b.T @ b).tocoo()
    n = b.shape[0]
    freq = np.asarray(b.sum(axis=0)).ravel()
    keep = (co.row != co.col) & (co.data >= min_count)
    src, dst, cnt = co.row[keep], co.col[keep], co.data[keep]
    support = cnt / n
    conf = cnt / freq[src]
    lift = conf / (freq[dst] / n)
    return {"src": src, "dst": dst, "count": cnt, "support": support, "confidence": conf, "lift": lift}


def build_artifact(path: Path, with_model: bool = True, scorer: str = "dot", steps: int = 300) -> Path:
    from hetrec.models.input import NodeInput
    from hetrec.models.sage import SAGE

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add contention
    try:
        return _build(path, with_model, scorer, steps, NodeInput, SAGE)
    finally:
        torch.set_num_threads(threads)


def _build(path, with_model, scorer, steps, NodeInput, SAGE) -> Path:
    from hetrec.graph.features import NodeFeatureEncoder

    torch.manual_seed(0)
    attrs = item_attrs()
    pairs = purchases()
    n_users, n_items = 45, 30
    train = sp.csr_matrix((np.ones(len(pairs), np.float32), (pairs[:, 0], pairs[:, 1])), shape=(n_users, n_items))
    fe = NodeFeatureEncoder({"category": "categorical", "brand": "categorical", "price": "numeric"}).fit(attrs)
    feats = fe.transform(attrs)
    u, i = torch.from_numpy(pairs[:, 0]), torch.from_numpy(pairs[:, 1])
    g = dgl.heterograph({ETYPES[0]: (u, i), ETYPES[1]: (i, u)}, num_nodes_dict={"user": n_users, "item": n_items})
    node_input = NodeInput({"user": n_users, "item": n_items}, {"item": feats.shape[1]}, dim=16)
    encoder = SAGE(ETYPES, node_input.out_dims, **{k: v for k, v in ENCODER_CONFIG.items() if k != "_target_"})
    opt = torch.optim.Adam(list(node_input.parameters()) + list(encoder.parameters()), lr=0.01)
    ids = {"user": torch.arange(n_users), "item": torch.arange(n_items)}
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        h = encoder(g, node_input(ids, {"item": feats}))
        neg = torch.randint(0, n_items, (len(u),), generator=gen)
        pos_s = (h["user"][u] * h["item"][i]).sum(1)
        neg_s = (h["user"][u] * h["item"][neg]).sum(1)
        loss = -torch.nn.functional.logsigmoid(pos_s - neg_s).mean() + 1e-4 * sum(
            (p**2).sum() for p in node_input.parameters()
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    node_input.eval()
    encoder.eval()
    with torch.no_grad():
        h = encoder(g, node_input(ids, {"item": feats}))
    state = {f"node_input.{k}": v for k, v in node_input.state_dict().items()}
    state.update({f"encoder.{k}": v for k, v in encoder.state_dict().items()})
    meta = {
        "dataset": "tiny",
        "encoder": "sage",
        "target": list(ETYPES[0]),
        "scorer": scorer,
        "canonical_etypes": [list(e) for e in ETYPES],
        "num_nodes": {"user": n_users, "item": n_items},
        "feat_dims": {"item": int(feats.shape[1])},
        "node_input": {"dim": 16, "id_embedding": True},
        "encoder_config": ENCODER_CONFIG,
        "hetrec_version": "test",
    }
    art = Artifact(
        embeddings={"user": h["user"], "item": h["item"]},
        idmaps={
            "user": IdMap([f"u{x:02d}" for x in range(n_users)], name="user"),
            "item": IdMap([f"i{x:02d}" for x in range(n_items)], name="item"),
        },
        meta=meta,
        train_matrix=train,
        co_bought=co_bought(train),
        item_attrs=attrs,
        model_state=state if with_model else None,
        features={"item": feats},
        feature_encoders={"item": fe},
    )
    run = path / "run"
    art.save(run / "artifact")
    return run
