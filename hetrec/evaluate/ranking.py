"""Full-catalogue top-K ranking evaluation (the LightGCN protocol, He et al., SIGIR 2020).

Every evaluated user is scored against **every** item; the user's training items (and, for the test split, the
validation items) are masked to ``-inf``; the top ``max(ks)`` items are taken with ``torch.topk`` and compared with
the held-out items. Users are processed in chunks sized so that the dense score block stays within a memory budget.

Metrics at K, each averaged over the users that have at least one held-out item:

* ``recall@K``    = hits in top K / |held-out items of the user|
* ``precision@K`` = hits in top K / K
* ``hit@K``       = 1 if any hit in top K
* ``ndcg@K``      = DCG / IDCG with binary relevance, DCG = sum_r hit_r / log2(r + 2), IDCG over min(|held-out|, K)
* ``mrr@K``       = 1 / (rank of the first hit) (ranks from 1), 0 without a hit in the top K
* ``coverage@K``  = fraction of the catalogue that appears in at least one evaluated user's top K (not averaged)
* ``avg_pop@K``   = mean training popularity (interaction count) of the recommended items, averaged over users

Items whose score is ``-inf`` after masking (a user with fewer than K candidates) are never counted as recommended.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp
import torch

from hetrec.graph.data import GraphData

__all__ = [
    "ScoreFn",
    "evaluate_ranking",
    "evaluate_embeddings",
    "evaluate_split",
    "split_exclusions",
    "per_user_metrics",
    "topk_items",
]

ScoreFn = Callable[[torch.Tensor], torch.Tensor]
"""``score_fn(users: LongTensor [n]) -> FloatTensor [n, num_items]`` (higher is better)."""

_BASE_METRICS = ("recall", "ndcg", "precision", "hit", "mrr")


def _as_csr(m: sp.spmatrix | np.ndarray, name: str) -> sp.csr_matrix:
    if not sp.issparse(m):
        raise TypeError(f"{name} must be a scipy.sparse matrix [num_users, num_items], got {type(m).__name__}")
    m = sp.csr_matrix(m)
    if not m.has_sorted_indices:
        m = m.sorted_indices()
    return m


def _chunk_rows(num_items: int, chunk_size: int, memory_budget_mb: float) -> int:
    # The float32 score block plus, in the worst case, a masked copy of it (torch.topk's scratch is per row):
    # 2 floats per cell.
    per_row = max(1, num_items) * 4 * 2
    by_budget = int(memory_budget_mb * 2**20 // per_row)
    return max(1, min(int(chunk_size), by_budget))


def _mask_rows(scores: torch.Tensor, exclude: sp.csr_matrix, users: np.ndarray) -> None:
    """Set ``scores[r, j] = -inf`` for every item j in ``exclude[users[r]]`` (vectorized, in place)."""
    sub = exclude[users]
    if sub.nnz == 0:
        return
    rows = np.repeat(np.arange(len(users), dtype=np.int64), np.diff(sub.indptr))
    scores[torch.from_numpy(rows), torch.from_numpy(sub.indices.astype(np.int64))] = -math.inf


def _hits(top: np.ndarray, valid: np.ndarray, truth: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
    """Boolean [n, K]: is ``top[r, j]`` a held-out item of ``users[r]`` (and a real recommendation)."""
    sub = truth[users]
    n, k = top.shape
    num_items = truth.shape[1]
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(sub.indptr))
    keys = rows * num_items + sub.indices.astype(np.int64)  # sorted: CSR rows ascending, indices sorted per row
    query = (np.arange(n, dtype=np.int64)[:, None] * num_items + top).ravel()
    if len(keys) == 0:
        return np.zeros((n, k), dtype=bool)
    pos = np.searchsorted(keys, query)
    pos[pos >= len(keys)] = len(keys) - 1
    return (keys[pos] == query).reshape(n, k) & valid


def _metrics_from_hits(hits: np.ndarray, n_truth: np.ndarray, ks: Sequence[int]) -> dict[str, np.ndarray]:
    """Per-user metric arrays from a hit matrix [n, Kmax] (Kmax may be below max(ks) for tiny catalogues)."""
    n, kmax = hits.shape
    disc = 1.0 / np.log2(np.arange(2, max(ks) + 2, dtype=np.float64))
    cdisc = np.concatenate([[0.0], np.cumsum(disc)])
    out: dict[str, np.ndarray] = {}
    hf = hits.astype(np.float64)
    for k in ks:
        kk = min(k, kmax)
        h = hf[:, :kk]
        nh = h.sum(1)
        out[f"recall@{k}"] = nh / n_truth
        out[f"precision@{k}"] = nh / k
        out[f"hit@{k}"] = (nh > 0).astype(np.float64)
        dcg = h @ disc[:kk]
        idcg = cdisc[np.minimum(n_truth, k)]
        out[f"ndcg@{k}"] = dcg / idcg
        first = np.where(nh > 0, h.argmax(1), -1)
        out[f"mrr@{k}"] = np.where(first >= 0, 1.0 / (first + 1.0), 0.0)
    return out


def topk_items(
    score_fn: ScoreFn,
    users: torch.Tensor | np.ndarray,
    k: int,
    exclude: sp.csr_matrix | None = None,
    chunk_size: int = 4096,
    memory_budget_mb: float = 1024.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k item ids and scores for users, with excluded items masked (chunked; shared by evaluation and serving).

    Returns:
        ``(ids int64 [n, k'], scores float32 [n, k'])`` with ``k' = min(k, num_items)``; slots whose score is
        ``-inf`` (fewer than k candidates) have id ``-1``.
    """
    users_np = np.asarray(users, dtype=np.int64)
    ids_out, sc_out = [], []
    n = len(users_np)
    step = _chunk_rows(exclude.shape[1], chunk_size, memory_budget_mb) if exclude is not None else None
    start = 0
    while start < n:
        if step is None:  # catalogue size unknown: score one user first to learn it
            u = users_np[start : start + 1]
        else:
            u = users_np[start : start + step]
        scores = _score_chunk(score_fn, u, exclude)
        if step is None:
            step = _chunk_rows(scores.shape[1], chunk_size, memory_budget_mb)
        kk = min(k, scores.shape[1])
        val, idx = torch.topk(scores, kk, dim=1)
        _check_nan(val)
        idx = idx.numpy().astype(np.int64)
        val = val.numpy().astype(np.float32)
        idx[~np.isfinite(val)] = -1
        ids_out.append(idx)
        sc_out.append(val)
        start += len(u)
    if not ids_out:
        return np.zeros((0, k), dtype=np.int64), np.zeros((0, k), dtype=np.float32)
    return np.concatenate(ids_out), np.concatenate(sc_out)


def _score_chunk(score_fn: ScoreFn, users: np.ndarray, exclude: sp.csr_matrix | None) -> torch.Tensor:
    with torch.no_grad():
        scores = score_fn(torch.from_numpy(users))
    if isinstance(scores, np.ndarray):
        scores = torch.from_numpy(scores)
    if not isinstance(scores, torch.Tensor) or scores.dim() != 2 or scores.shape[0] != len(users):
        shape = tuple(scores.shape) if hasattr(scores, "shape") else type(scores).__name__
        raise ValueError(
            f"score_fn returned {shape} for {len(users)} users; it must return a [n_users, num_items] tensor"
        )
    scores = scores.detach()
    if scores.device.type != "cpu":
        scores = scores.cpu()
    # Never write into a tensor the caller still owns (a view of a cached score matrix, or the matrix itself).
    owned = getattr(score_fn, "writable_output", False)
    if (scores._base is not None and not owned) or not scores.is_contiguous() or scores.dtype not in (
        torch.float32,
        torch.float64,
    ):
        scores = scores.to(torch.float32).contiguous().clone()
    if exclude is not None:
        if exclude.shape[1] != scores.shape[1]:
            raise ValueError(
                f"score_fn returned {scores.shape[1]} item columns but exclude has {exclude.shape[1]} items"
            )
        _mask_rows(scores, exclude, users)
    return scores


def _check_nan(top_values: torch.Tensor) -> None:
    # torch.topk ranks NaN above every number, so a NaN anywhere in a row shows up in its top-k values.
    if torch.isnan(top_values).any():
        raise ValueError("score_fn returned NaN scores; check the model (diverged training or 0/0 in cosine)")


def per_user_metrics(
    score_fn: ScoreFn,
    truth: sp.spmatrix | Mapping[str, sp.spmatrix],
    exclude: sp.spmatrix | None,
    ks: Sequence[int] = (10, 20),
    users: torch.Tensor | np.ndarray | None = None,
    chunk_size: int = 4096,
    memory_budget_mb: float = 1024.0,
    item_popularity: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]], dict[str, float]]:
    """Per-user metric arrays (the work horse of :func:`evaluate_ranking`).

    Returns:
        ``(users, per_truth, global)``: the evaluated user ids (those with at least one held-out item in any truth),
        ``per_truth[name][metric]`` float64 arrays aligned with ``users`` (NaN where that truth has no items for the
        user), and catalogue-level figures ``coverage@K``.
    """
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValueError(f"ks must be positive integers, got {ks}")
    truths = {"": truth} if not isinstance(truth, Mapping) else dict(truth)
    if "" not in truths and truths:  # several relations: the main ("") figures use their union
        truths = {"": _union(truths), **{str(k): v for k, v in truths.items()}}
    if not truths:
        raise ValueError("truth is an empty mapping; pass at least one held-out matrix")
    truths = {name: _as_csr(t, f"truth[{name!r}]" if name else "truth") for name, t in truths.items()}
    shapes = {t.shape for t in truths.values()}
    if len(shapes) != 1:
        raise ValueError(f"all truth matrices must have the same shape, got {sorted(shapes)}")
    num_users, num_items = next(iter(shapes))
    if exclude is not None:
        exclude = _as_csr(exclude, "exclude")
        if exclude.shape != (num_users, num_items):
            raise ValueError(f"exclude has shape {exclude.shape} but truth has {(num_users, num_items)}")
    if item_popularity is None:
        item_popularity = (
            np.zeros(num_items) if exclude is None else np.asarray(exclude.getnnz(axis=0), dtype=np.float64)
        )
    item_popularity = np.asarray(item_popularity, dtype=np.float64)
    if item_popularity.shape != (num_items,):
        raise ValueError(f"item_popularity has shape {item_popularity.shape}, expected ({num_items},)")

    counts = {name: np.diff(t.indptr) for name, t in truths.items()}
    any_truth = np.zeros(num_users, dtype=bool)
    for c in counts.values():
        any_truth |= c > 0
    if users is None:
        users_np = np.flatnonzero(any_truth).astype(np.int64)
    else:
        users_np = np.unique(np.asarray(users, dtype=np.int64))
        if len(users_np) and (users_np[0] < 0 or users_np[-1] >= num_users):
            raise ValueError(f"users must lie in [0, {num_users}), got [{users_np[0]}, {users_np[-1]}]")
        users_np = users_np[any_truth[users_np]]

    kmax = ks[-1]
    per: dict[str, dict[str, list[np.ndarray]]] = {name: {} for name in truths}
    pop_parts: dict[int, list[np.ndarray]] = {k: [] for k in ks}
    covered = {k: np.zeros(num_items, dtype=bool) for k in ks}
    step = _chunk_rows(num_items, chunk_size, memory_budget_mb)
    start = 0
    n = len(users_np)
    while start < n:
        u = users_np[start : start + step]
        scores = _score_chunk(score_fn, u, exclude)
        if scores.shape[1] != num_items:
            raise ValueError(f"score_fn returned {scores.shape[1]} item columns, truth has {num_items} items")
        kk = min(kmax, num_items)
        val, idx = torch.topk(scores, kk, dim=1)
        _check_nan(val)
        del scores
        top = idx.numpy().astype(np.int64)
        valid = np.isfinite(val.numpy())
        for k in ks:
            t, v = top[:, :k], valid[:, :k]
            covered[k][t[v]] = True
            popsum = np.where(v, item_popularity[t], 0.0).sum(1)
            nrec = v.sum(1)
            pop_parts[k].append(np.divide(popsum, nrec, out=np.zeros(len(u)), where=nrec > 0))
        for name, t in truths.items():
            nt = counts[name][u]
            h = _hits(top, valid, t, u)
            with np.errstate(invalid="ignore", divide="ignore"):
                m = _metrics_from_hits(h, np.maximum(nt, 1), ks)
            for key, arr in m.items():
                arr = np.where(nt > 0, arr, np.nan)
                per[name].setdefault(key, []).append(arr)
        start += len(u)

    out: dict[str, dict[str, np.ndarray]] = {}
    for name in truths:
        out[name] = {key: np.concatenate(v) for key, v in per[name].items()} if n else {}
        for k in ks:
            out[name][f"avg_pop@{k}"] = (
                np.where(counts[name][users_np] > 0, np.concatenate(pop_parts[k]), np.nan) if n else np.zeros(0)
            )
    glob = {f"coverage@{k}": float(covered[k].sum() / max(num_items, 1)) for k in ks}
    return users_np, out, glob


def _activity_groups(activity: np.ndarray, quantiles: Sequence[float]) -> list[tuple[str, np.ndarray]]:
    qs = sorted(float(q) for q in quantiles)
    if any(not 0.0 < q < 1.0 for q in qs):
        raise ValueError(f"activity_quantiles must lie in (0, 1), got {qs}")
    edges = np.quantile(activity, qs) if len(activity) else np.zeros(len(qs))
    group = np.searchsorted(edges, activity, side="left")  # activity <= edge_0 -> group 0 ("cold")
    ng = len(qs) + 1
    names = ["cold"] + [f"mid{i}" for i in range(1, ng - 1)] + ["warm"]
    return [(names[g], group == g) for g in range(ng)]


def _mean(a: np.ndarray) -> float:
    a = a[~np.isnan(a)]
    return float(a.mean()) if len(a) else 0.0


def evaluate_ranking(
    score_fn: ScoreFn,
    truth: sp.spmatrix | Mapping[str, sp.spmatrix],
    exclude: sp.spmatrix | None,
    ks: Sequence[int] = (10, 20),
    users: torch.Tensor | np.ndarray | None = None,
    chunk_size: int = 4096,
    memory_budget_mb: float = 1024.0,
    item_popularity: np.ndarray | None = None,
    user_activity: np.ndarray | None = None,
    activity_quantiles: Sequence[float] | None = None,
    bootstrap: int = 0,
    seed: int = 0,
) -> dict[str, float]:
    """Full-catalogue ranking metrics (LightGCN protocol; He et al., SIGIR 2020), user-chunked, bounded memory.

    Args:
        score_fn: ``score_fn(users: LongTensor [n]) -> FloatTensor [n, num_items]``, higher is better. Called under
            ``torch.no_grad()``. The evaluator masks scores in place, on a copy when the returned tensor is a view
            (e.g. a slice of a cached score matrix), unless ``score_fn.writable_output = True`` says the block is
            scratch memory the evaluator may overwrite.
        truth: held-out user x item matrix (any non-zero is relevant), or ``{relation: matrix}`` for several
            relations; then the plain keys use the union of all matrices and ``"<relation>/<metric>"`` keys give
            each relation's figures (over users with held-out items in that relation).
        exclude: user x item matrix of items never to recommend (training items; for test also validation items),
            or ``None``.
        ks: cut-offs (default ``(10, 20)``).
        users: evaluate only these users (default: every user with a held-out item); users without held-out items
            are skipped.
        chunk_size: most users scored at once (default 4096); lowered further to respect ``memory_budget_mb``.
        memory_budget_mb: bound for the dense score block and top-k scratch (default 1024).
        item_popularity: per-item training counts for ``avg_pop@K`` (default: column counts of ``exclude``).
        user_activity: per-user training counts for the cold/warm breakdown (default: row counts of ``exclude``).
        activity_quantiles: e.g. ``(0.2, 0.8)``: split users by activity at these quantiles into ``cold``,
            ``mid1``, ..., ``warm`` groups (a user whose activity equals an edge falls in the lower group); adds
            ``"cold/recall@20"``-style keys and ``"cold/num_users"``, plus ``"new/..."`` keys for the users without
            any training interaction when there are some (time splits). Default ``None`` (no breakdown).
        bootstrap: number of per-user bootstrap resamples (default 0 = off); adds ``"<metric>_ci_low"`` and
            ``"<metric>_ci_high"`` (95% percentile interval) for every averaged metric.
        seed: bootstrap seed (default 0).

    Returns:
        ``{"recall@10": .., "ndcg@10": .., "precision@10": .., "hit@10": .., "mrr@10": .., "coverage@10": ..,
        "avg_pop@10": .., ..., "num_users": n}`` plus breakdown / relation / CI keys when asked for.

    Shapes:
        truth, exclude: [num_users, num_items]; item_popularity: [num_items]; user_activity: [num_users]
    """
    users_np, per, glob = per_user_metrics(
        score_fn, truth, exclude, ks, users, chunk_size, memory_budget_mb, item_popularity
    )
    main = per[""]
    result: dict[str, float] = {key: _mean(arr) for key, arr in main.items()}
    result.update(glob)
    result["num_users"] = float(len(users_np))
    for name, metrics in per.items():
        if name:
            for key, arr in metrics.items():
                result[f"{name}/{key}"] = _mean(arr)
    if activity_quantiles:
        if user_activity is None:
            if exclude is None:
                raise ValueError("activity_quantiles needs user_activity or an exclude (training) matrix")
            user_activity = np.diff(_as_csr(exclude, "exclude").indptr)
        act = np.asarray(user_activity, dtype=np.float64)[users_np]
        groups = _activity_groups(act, activity_quantiles)
        new = act == 0  # users without training interactions (common in time splits): ranked by the fallback alone
        if new.any():
            groups.append(("new", new))
        for gname, mask in groups:
            result[f"{gname}/num_users"] = float(mask.sum())
            for key, arr in main.items():
                result[f"{gname}/{key}"] = _mean(arr[mask])
    if bootstrap > 0 and len(users_np):
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(users_np), size=(int(bootstrap), len(users_np)))
        for key, arr in main.items():
            a = np.nan_to_num(arr, nan=0.0)
            boots = a[idx].mean(1)
            lo, hi = np.percentile(boots, [2.5, 97.5])
            result[f"{key}_ci_low"] = float(lo)
            result[f"{key}_ci_high"] = float(hi)
    return result


def _union(truth: Mapping[str, sp.spmatrix]) -> sp.csr_matrix:
    mats = [_as_csr(t, f"truth[{n!r}]") for n, t in truth.items()]
    u = mats[0].copy()
    for m in mats[1:]:
        u = u + m
    u.data[:] = 1.0
    return u


def evaluate_embeddings(
    user_emb: torch.Tensor,
    item_emb: torch.Tensor,
    truth: sp.spmatrix | Mapping[str, sp.spmatrix],
    exclude: sp.spmatrix | None,
    ks: Sequence[int] = (10, 20),
    **kwargs,
) -> dict[str, float]:
    """Ranking metrics of dot-product scores ``user_emb @ item_emb.T`` (see :func:`evaluate_ranking` for kwargs).

    Shapes:
        user_emb: [num_users, D]; item_emb: [num_items, D]
    """
    if user_emb.dim() != 2 or item_emb.dim() != 2 or user_emb.shape[1] != item_emb.shape[1]:
        raise ValueError(
            f"user_emb {tuple(user_emb.shape)} and item_emb {tuple(item_emb.shape)} must be [N, D] with the same D"
        )
    ue = user_emb.detach().float().cpu()
    ie = item_emb.detach().float().cpu().contiguous()
    buf: list[torch.Tensor] = []

    def score_fn(users: torch.Tensor) -> torch.Tensor:
        # One reused output block: avoids a fresh multi-hundred-MB allocation (and its page faults) per chunk.
        if not buf or buf[0].shape[0] < len(users):
            buf[:] = [torch.empty(len(users), ie.shape[0])]
        out = buf[0][: len(users)]
        torch.mm(ue[users], ie.T, out=out)
        return out

    score_fn.writable_output = True  # type: ignore[attr-defined]

    return evaluate_ranking(score_fn, truth, exclude, ks, **kwargs)


def split_exclusions(data: GraphData, split: str, train: sp.csr_matrix | None = None) -> sp.csr_matrix:
    """The items ranking excludes for ``split``: the training items, and for ``test`` also the validation items
    (``train``: the training interaction matrix when the caller has it already)."""
    exclude = data.interaction_matrix("train") if train is None else train
    if split == "test" and len(data.splits.get("valid", (torch.zeros(0),))[0]):
        exclude = exclude + data.interaction_matrix("valid")
        exclude.data[:] = 1.0
    return exclude


def evaluate_split(
    data: GraphData,
    score_fn: ScoreFn,
    split: str = "valid",
    ks: Sequence[int] = (10, 20),
    **kwargs,
) -> dict[str, float]:
    """Evaluate one held-out split of a :class:`GraphData`: train items excluded; for ``test`` also valid items.

    Item popularity for ``avg_pop@K`` and user activity for the breakdown come from the training split only.
    Extra kwargs go to :func:`evaluate_ranking`.
    """
    if split not in ("valid", "test"):
        raise ValueError(f"split must be 'valid' or 'test', got {split!r}")
    train = data.interaction_matrix("train")
    truth = data.interaction_matrix(split)
    if truth.nnz == 0:
        raise ValueError(f"GraphData({data.name!r}) has no {split!r} pairs; nothing to evaluate")
    exclude = split_exclusions(data, split, train)
    kwargs.setdefault("item_popularity", np.asarray(train.getnnz(axis=0), dtype=np.float64))
    kwargs.setdefault("user_activity", np.diff(train.indptr))
    return evaluate_ranking(score_fn, truth, exclude, ks, **kwargs)
