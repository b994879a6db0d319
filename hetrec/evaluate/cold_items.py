"""New products, measured: rank the users who will buy a cold item, and a user's cold items among a launch.

Needs a graph built with ``graph.split.strategy=cold_items`` (`hetrec.graph.splits`): a seeded share of the items lost
every interaction; they are split by item into a validation launch (``splits["cold_valid"]``) and a test launch
(``splits["cold_test"]``). Their attributes stay (node features, category edges). Two rankings per launch:

* **users for a new item** (the promotion question): for each cold item, every user is ranked; the item's buyers are
  the relevant set. Recall/NDCG@K averaged over the launch's items (items without buyers do not count).
* **items for a user**: for each user with held-out cold items, the launch's cold items are ranked (candidates: the
  cold items of that launch only); Recall/NDCG@K averaged over users.

Both go through :func:`hetrec.evaluate.ranking.evaluate_ranking` (queries = items, resp. users), with per-query
bootstrap 95% intervals. Rows (methods):

Training with this split never uses a cold item as a negative (:func:`warm_negatives`).

* ``encoder``: the trained encoder run on the training graph, in which a cold item has only its features and its
  category edges; its never-trained id embedding is zero (as `NodeInput` does for isolated nodes) and, with
  ``objective.item_bias``, its bias is the warm items' mean (as ``hetrec cold-start`` does).
* ``encoder_isolated``: the same with the cold items' category edges removed too: the item is an isolated node
  represented by its features alone, which is what ``hetrec cold-start`` serves (one-node blocks,
  `hetrec.serve.model.ServingModel._build_encoder_path`).
* ``ridge``: a ridge regression from item features to the trained item embeddings, fitted on the warm items (items
  with training pairs), applied to the cold items' features: the math of the serving fallback
  (``ServingModel._build_ridge_path``, which fits on the whole catalogue; here the cold items' untrained embeddings
  are left out of the fit). Factored here rather than called because the serving path needs a saved artifact and
  serve/model.py is being split into modules. ``alpha`` chosen on the validation launch.
* ``category_popularity``: a user's training interactions in the item's categories (the category relation of the
  graph; without one, a multilabel/categorical item attribute such as MovieLens genres); ties by user activity.
* ``attribute_knn``: the cold item's ``k`` nearest warm items by cosine of the item features; a user's score is the
  similarity-weighted count of their training interactions with those (``k`` chosen on the validation launch).
* ``encoder_knn``: ``attribute_knn`` in the space of the ``encoder`` row's item embeddings (cosine, bias column
  left out): users ranked by their interactions with the new item's nearest warm items as the encoder sees them.
* ``user_activity`` (users-for-item only): users ranked by their number of training interactions, a reference.

Rows built on a model's scores (``encoder``, ``encoder_isolated``, ``ridge``) rank users per item either by the raw
score or by the joint form (:func:`joint_offset`: per-user softmax normalisation plus log activity), chosen on
validation. Choices (that calibration, ``ridge`` alpha, the kNN rows' k) are made on the validation launch's
users-for-item Recall@20; the test launch is reported, never used to choose.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from hetrec.evaluate.ranking import evaluate_ranking
from hetrec.graph.data import GraphData
from hetrec.graph.schema import CATEGORY, IN_CATEGORY, reverse_name

__all__ = ["evaluate_cold_items", "warm_negatives", "launch", "rank_metrics", "category_scores", "knn_scores",
           "encoder_embeddings", "joint_offset", "RIDGE_ALPHAS", "KNN_KS"]

log = logging.getLogger("hetrec.evaluate")

RIDGE_ALPHAS = (0.1, 1.0, 10.0, 100.0)
CALIBRATIONS = ("raw", "joint")
KNN_KS = (10, 50, 200)
REPORT = ("recall", "ndcg", "hit")
DEFAULT_BOOTSTRAP = 1000


def launch(data: GraphData, split: str) -> tuple[np.ndarray, sp.csr_matrix]:
    """The cold items of one launch (``cold_valid``/``cold_test``), sorted, and the truth ``[num_users, n]`` (1 where
    the user interacted with the launch's item, columns in the order of the items)."""
    if split not in data.splits:
        raise ValueError(
            f"GraphData({data.name!r}) has no {split!r} pairs; build it with graph.split.strategy=cold_items"
        )
    u, i = (t.numpy().astype(np.int64) for t in data.splits[split])
    items = np.unique(i)
    col = np.searchsorted(items, i)
    truth = sp.csr_matrix((np.ones(len(u), np.float32), (u, col)), shape=(data.num_users, len(items)))
    truth.sum_duplicates()
    truth.data[:] = 1.0
    return items, truth


def rank_metrics(scores: np.ndarray, truth: sp.csr_matrix, ks: Sequence[int], bootstrap: int = 0, seed: int = 0,
                 users_for_item: bool = True) -> dict[str, float]:
    """Recall/NDCG/Hit@K (and bootstrap intervals) of a dense score matrix ``[num_users, n_items]`` against
    ``truth`` (same shape): ranking users per item (``users_for_item``) or items per user.

    Returns:
        ``{"recall@20": .., "recall@20_ci_low": .., ..., "num_queries": n}`` (queries: items, resp. users, with at
        least one relevant entry).
    """
    s = np.asarray(scores, dtype=np.float32)
    t = sp.csr_matrix(truth)
    if users_for_item:
        s, t = s.T, sp.csr_matrix(t.T)
    s = torch.from_numpy(np.ascontiguousarray(s))
    ks = [int(k) for k in ks if int(k) <= s.shape[1]] or [s.shape[1]]
    out = evaluate_ranking(lambda q: s[q.long()], t, None, ks, bootstrap=int(bootstrap), seed=int(seed))
    keep = {k: float(v) for k, v in out.items() if k.split("@")[0] in REPORT}
    keep["num_queries"] = float(out["num_users"])
    return keep


def warm_negatives(model: torch.nn.Module, data: GraphData) -> None:
    """Never use a cold item as a negative (``cold_items`` split; called by ``hetrec.train.app.build_model``): a new
    product is not in the training catalogue, and treating it as a non-purchase of every user would teach the model
    its held-out outcome. Every task whose destinations are items bans the cold items
    (:meth:`hetrec.objectives.samplers.NegativeSampler.ban`): drawing samplers never draw them, ``sampler=all``
    masks them out of the softmax, in-batch sampling masks them (they are never training positives anyway)."""
    if "cold_test" not in data.splits:
        return
    cold = torch.unique(torch.cat([data.splits[s][1] for s in ("cold_valid", "cold_test") if s in data.splits]).long())
    for task in getattr(model.objective, "tasks", []):
        if task.etype[2] == data.target[2]:
            task.sampler.ban(cold)


# ---------------------------------------------------------------------------------------------- the rows' scores
def encoder_embeddings(model: torch.nn.Module, data: GraphData, cold: np.ndarray, isolate: bool = False
                       ) -> dict[str, torch.Tensor]:
    """Full-graph embeddings of the trained ``model`` (a `LinkPredictionModel`) in which the ``cold`` items are
    represented by their features (and category edges unless ``isolate``): id embedding zeroed, item bias (if any)
    set to the mean of the other items' biases. CPU float32 ``{ntype: [N, D]}``."""
    from hetrec.models.input import NodeInput

    g = data.graph
    it = data.target[2]
    cold_t = torch.as_tensor(np.asarray(cold, dtype=np.int64))
    if isolate:
        for et in g.canonical_etypes:
            if et[1] in (IN_CATEGORY, reverse_name(IN_CATEGORY)) and it in (et[0], et[2]):
                src, dst = g.edges(etype=et)
                mine = src if et[0] == it else dst
                eids = torch.nonzero(torch.isin(mine, cold_t)).flatten()
                g = g if len(eids) == 0 else _remove(g, et, eids)
    dev = next(model.parameters()).device
    g = g.to(dev)
    was = model.training
    model.eval()
    with torch.no_grad():
        ids = {nt: torch.arange(g.num_nodes(nt), device=dev) for nt in g.ntypes}
        feats = {nt: f.to(dev) for nt, f in data.features.items() if nt in ids}
        if isinstance(model.node_input, NodeInput):
            untrained = _no_edge(g)
            mask = untrained.get(it, torch.zeros(g.num_nodes(it), dtype=torch.bool, device=dev)).clone()
            mask[cold_t.to(dev)] = True
            untrained[it] = mask
            x = model.node_input(ids, feats, untrained)
        else:
            x = model.node_input(ids, feats)
        h = model.objective.augment(model.encoder(g, x))
    model.train(was)
    out = {k: v.detach().float().cpu() for k, v in h.items()}
    if getattr(model.objective, "item_bias", None) is not None and len(cold):
        warm = np.ones(out[it].shape[0], dtype=bool)
        warm[np.asarray(cold)] = False
        out[it][cold_t, -1] = out[it][torch.from_numpy(warm), -1].mean()
    return out


def _remove(g, et, eids):
    from hetrec._dgl import dgl

    return dgl.remove_edges(g, eids, etype=et)


def _no_edge(g) -> dict[str, torch.Tensor]:
    deg = {nt: torch.zeros(g.num_nodes(nt), dtype=torch.long, device=g.device) for nt in g.ntypes}
    for s, r, d in g.canonical_etypes:
        deg[s] += g.out_degrees(etype=(s, r, d)).long()
        deg[d] += g.in_degrees(etype=(s, r, d)).long()
    return {nt: v == 0 for nt, v in deg.items()}


def _scorer_scores(model: torch.nn.Module, users: torch.Tensor, items: torch.Tensor) -> np.ndarray:
    scorer = copy.deepcopy(model.objective.scorer).cpu()
    with torch.no_grad():
        return scorer.all(users.float(), items.float()).numpy()


def joint_offset(model: torch.nn.Module, users: torch.Tensor, warm_items: torch.Tensor, activity: np.ndarray,
                 chunk: int = 4096) -> np.ndarray:
    """Per-user offset that turns a model's scores into joint log-probabilities for ranking users per item.

    A model trained with a (sampled) softmax over items scores ``s(u, i) = log P(i | u) + log Z_u`` up to the
    temperature: comparable across items for one user, not across users for one item. Ranking the users for a new
    item needs ``log P(u, i) = log P(i | u) + log P(u)``, so the offset is ``log(n_u + 1) - logsumexp_j s(u, j) / T``
    over the warm items ``j`` (``n_u``: the user's training interactions, ``P(u)`` their share). ``[num_users]``.
    """
    scorer = copy.deepcopy(model.objective.scorer).cpu()
    temp = float(getattr(model.objective, "temperature", 1.0) or 1.0)
    out = np.empty(users.shape[0], dtype=np.float64)
    with torch.no_grad():
        for a in range(0, users.shape[0], chunk):
            out[a:a + chunk] = torch.logsumexp(scorer.all(users[a:a + chunk].float(), warm_items.float()) / temp, 1)
    return np.log(np.asarray(activity, dtype=np.float64) + 1.0) - out


def item_categories_matrix(data: GraphData) -> tuple[sp.csr_matrix | None, str]:
    """Item x category membership ``[num_items, C]`` and where it came from: the graph's ``(item, in, category)``
    relation, else the first multilabel (then categorical) item attribute of the feature encoder."""
    it = data.target[2]
    et = (it, IN_CATEGORY, CATEGORY)
    if et in data.graph.canonical_etypes:
        src, dst = (t.numpy().astype(np.int64) for t in data.graph.edges(etype=et))
        m = sp.csr_matrix((np.ones(len(src), np.float32), (src, dst)),
                          shape=(data.num_items, data.graph.num_nodes(CATEGORY)))
        return m, "graph category relation"
    attrs, enc = data.item_attrs, data.feature_encoders.get(it)
    if attrs is None or enc is None:
        return None, "no categories"
    cols = sorted(getattr(enc, "columns", []), key=lambda c: {"multilabel": 0, "categorical": 1}.get(c.kind, 2))
    for c in cols:
        if c.kind not in ("multilabel", "categorical") or c.name not in attrs.columns:
            continue
        vals = attrs[c.name].astype("string").fillna("").to_numpy(dtype=object)
        sep = getattr(c, "sep", None) if c.kind == "multilabel" else None
        labels = [[p for p in (v.split(sep) if sep else [v]) if p] for v in vals]
        names = {lab: k for k, lab in enumerate(sorted({lab for ls in labels for lab in ls}))}
        rows = np.repeat(np.arange(len(labels)), [len(ls) for ls in labels])
        cols_ = np.asarray([names[lab] for ls in labels for lab in ls], dtype=np.int64)
        m = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols_)), shape=(len(labels), len(names)))
        return m, f"item attribute {c.name!r} ({c.kind})"
    return None, "no categories"


def category_scores(train: sp.csr_matrix, member: sp.csr_matrix, cold: np.ndarray) -> np.ndarray:
    """``[num_users, n_cold]``: the user's training interactions in the cold item's categories (summed over its
    categories), plus a tie-break below 1e-3 by the user's activity and, per user, below 1e-6 by the categories'
    popularity.

    Shapes:
        train: [U, I] binary; member: [I, C]; cold: [n] -> [U, n]
    """
    per_cat = (train @ member).tocsr()  # [U, C]
    s = np.asarray((per_cat @ member[cold].T).todense(), dtype=np.float64)
    act = np.asarray(train.sum(1)).ravel()
    cat_pop = np.asarray(per_cat.sum(0)).ravel() @ member[cold].T.toarray() if member.shape[1] else np.zeros(len(cold))
    s += 1e-3 * act[:, None] / max(act.max(), 1.0)
    s += 1e-6 * np.asarray(cat_pop).ravel()[None, :] / max(float(np.max(cat_pop)) if len(cold) else 1.0, 1.0)
    return s


def knn_scores(train: sp.csr_matrix, feats: np.ndarray, cold: np.ndarray, warm: np.ndarray, k: int) -> np.ndarray:
    """``[num_users, n_cold]``: sum over the cold item's ``k`` nearest warm items (cosine of features, negatives
    clipped) of similarity x the user's interaction, plus a tie-break below 1e-6 by user activity."""
    f = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    sim = np.clip(f[cold] @ f[warm].T, 0.0, None)  # [n_cold, n_warm]
    k = min(int(k), len(warm))
    if k < len(warm):
        drop = np.argpartition(-sim, k, axis=1)[:, k:]
        np.put_along_axis(sim, drop, 0.0, axis=1)
    s = (train[:, warm] @ sim.T.astype(np.float32))
    act = np.asarray(train.sum(1)).ravel()
    return np.asarray(s, dtype=np.float64) + 1e-6 * act[:, None] / max(act.max(), 1.0)


def _pos(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    return np.searchsorted(sorted_ids, ids)


def _ridge_pred(feats: np.ndarray, emb: np.ndarray, warm: np.ndarray, rows: np.ndarray, alpha: float) -> np.ndarray:
    from sklearn.linear_model import Ridge

    return Ridge(alpha=float(alpha)).fit(feats[warm], emb[warm]).predict(feats[rows]).astype(np.float32)


# ---------------------------------------------------------------------------------------------- the evaluation
def evaluate_cold_items(data: GraphData, model: torch.nn.Module | None, emb: Mapping[str, torch.Tensor] | None,
                        ks: Sequence[int] = (10, 20), bootstrap: int = 0, seed: int = 0, **_: Any) -> dict[str, Any]:
    """Every row on the validation and the test launch (see the module docstring).

    Args:
        data: GraphData of a ``cold_items`` split. model: the trained `LinkPredictionModel` (``None``: the encoder
            rows are left out). emb: its full-graph embeddings (``Trainer.embeddings()``; the ridge row's targets).
        ks: cut-offs. bootstrap: resamples for the 95% intervals (0: ``DEFAULT_BOOTSTRAP``). seed: bootstrap seed.
        Other keyword arguments (e.g. ``activity_quantiles`` of the evaluation options) are ignored.

    Returns:
        ``{"valid": {row: {"users_for_item": {...}, "items_for_user": {...}}}, "test": {...}, "choices": {...},
        "info": {...}}``.
    """
    bootstrap = int(bootstrap) or DEFAULT_BOOTSTRAP
    it = data.target[2]
    launches = {s: launch(data, s) for s in ("cold_valid", "cold_test") if s in data.splits}
    cold_all = np.sort(np.concatenate([items for items, _ in launches.values()]))
    train = data.interaction_matrix("train")
    warm = np.flatnonzero(np.asarray(train.getnnz(axis=0)) > 0)
    feats = data.features.get(it)
    feats = None if feats is None else feats.numpy().astype(np.float32)
    member, cat_source = item_categories_matrix(data)
    info = {"cold_items": {s[5:]: int(len(items)) for s, (items, _) in launches.items()},
            "heldout_pairs": {s[5:]: int(t.nnz) for s, (_, t) in launches.items()},
            "warm_items": int(len(warm)), "category_source": cat_source, "bootstrap": bootstrap,
            "features": None if feats is None else int(feats.shape[1]),
            "choose_by": "validation launch, users_for_item recall@20"}

    enc: dict[str, dict[str, torch.Tensor]] = {}
    if model is not None and feats is not None:
        enc["encoder"] = encoder_embeddings(model, data, cold_all)
        enc["encoder_isolated"] = encoder_embeddings(model, data, cold_all, isolate=True)

    user_t, act = data.target[0], np.asarray(train.sum(1), dtype=np.float64).ravel()
    warm_t = torch.from_numpy(warm)
    offsets: dict[str, np.ndarray] = {}
    ridge_fit: dict[float, np.ndarray] = {}

    def model_scores(key: str, e: Mapping[str, torch.Tensor], items_emb: torch.Tensor, calibration: str) -> np.ndarray:
        sc = _scorer_scores(model, e[user_t], items_emb)
        if calibration == "raw":
            return sc
        if key not in offsets:
            offsets[key] = joint_offset(model, e[user_t], e[it][warm_t], act)
        temp = float(getattr(model.objective, "temperature", 1.0) or 1.0)
        return sc / temp + offsets[key][:, None]

    def scores(row: str, items: np.ndarray, p: Mapping[str, Any]) -> np.ndarray:
        if row in enc:
            return model_scores(row, enc[row], enc[row][it][torch.from_numpy(items)], p["calibration"])
        if row == "ridge":
            assert emb is not None and feats is not None
            a = float(p["alpha"])
            if a not in ridge_fit:  # predictions of every cold item (both launches) per alpha
                ridge_fit[a] = _ridge_pred(feats, emb[it].numpy(), warm, cold_all, a)
            pred = ridge_fit[a][_pos(cold_all, items)]
            return model_scores("ridge", emb, torch.from_numpy(pred), p["calibration"])
        if row == "category_popularity":
            return category_scores(train, member, items)
        if row == "attribute_knn":
            return knn_scores(train, feats, items, warm, int(p["k"]))
        if row == "encoder_knn":  # attribute kNN in the encoder's item space (bias column left out)
            e = enc["encoder"][it][:, :-1] if model.objective.item_bias is not None else enc["encoder"][it]
            return knn_scores(train, e.numpy(), items, warm, int(p["k"]))
        if row == "user_activity":
            return np.repeat(act[:, None], len(items), axis=1)
        raise KeyError(row)

    cal = [{"calibration": c} for c in CALIBRATIONS]
    grids: dict[str, list[dict[str, Any]]] = {r: cal for r in enc}
    if model is not None and emb is not None and feats is not None:
        grids["ridge"] = [{"alpha": a, **c} for a in RIDGE_ALPHAS for c in cal]
    if member is not None:
        grids["category_popularity"] = [{}]
    if feats is not None:
        grids["attribute_knn"] = [{"k": k} for k in KNN_KS]
    if "encoder" in enc:
        grids["encoder_knn"] = [{"k": k} for k in KNN_KS]
    grids["user_activity"] = [{}]

    ks = sorted({int(k) for k in ks})
    out: dict[str, Any] = {"valid": {}, "test": {}, "choices": {}, "info": info}
    for row, grid in grids.items():
        chosen = grid[0]
        if len(grid) > 1 and "cold_valid" in launches:
            items, truth = launches["cold_valid"]
            sweep = [rank_metrics(scores(row, items, p), truth, [20], 0, seed)["recall@20"] for p in grid]
            chosen = grid[int(np.argmax(sweep))]  # ties: the first of the grid
            out["choices"][row] = {"chosen": chosen, "valid_recall@20": [
                {**p, "recall@20": round(v, 5)} for p, v in zip(grid, sweep)]}
        for s, (items, truth) in launches.items():
            sc = scores(row, items, chosen)
            res = {"users_for_item": rank_metrics(sc, truth, ks, bootstrap, seed, users_for_item=True)}
            if row != "user_activity":  # constant per user: no ranking of items
                res["items_for_user"] = rank_metrics(sc, truth, ks, bootstrap, seed, users_for_item=False)
            out[s[5:]][row] = res
        log.info("cold items %s: test users_for_item recall@20 %.4f", row,
                 out["test"].get(row, {}).get("users_for_item", {}).get("recall@20", float("nan")))
    return out
