"""Item–item association evidence from baskets: sparse co-occurrence counts, support, confidence and lift.

For baskets ``B`` (a binary basket x item matrix ``X``), the co-occurrence counts are ``C = X^T X`` computed sparsely
(never a dense items x items matrix). For an ordered pair ``a -> b`` of distinct items
(association rules, Agrawal et al., 1993; lift, Brin et al., 1997)::

    count(a, b)       = baskets holding both a and b
    support(a, b)     = count(a, b) / |B|
    confidence(a->b)  = count(a, b) / count(a)
    lift(a, b)        = support(a, b) / (support(a) * support(b)) = count(a, b) * |B| / (count(a) * count(b))

Pairs are filtered by ``min_count``, ``min_support`` and ``min_lift``; each item ``a`` keeps its ``top_k`` partners
``b`` by lift (ties by count, then by item id).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

CO_BOUGHT_KEYS = ("src", "dst", "count", "support", "confidence", "lift")


def basket_matrix(
    basket: np.ndarray, item: np.ndarray, num_items: int, max_basket_size: int | None = None
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Binary basket x item CSR matrix of the rows that belong to a basket (``basket >= 0``).

    Args:
        basket: basket id of every row, ``-1`` for rows in no basket.
        item: item id of every row.
        num_items: number of item columns.
        max_basket_size: drop baskets with more distinct items than this (default ``None``: keep all).

    Returns:
        ``(X, basket_ids)``: ``X`` float32 CSR with one row per non-empty basket (in ascending basket id) and the
        original basket id of each row.

    Shapes:
        basket, item: [N] -> X: [num_baskets, num_items], basket_ids: [num_baskets]
    """
    sel = basket >= 0
    b = basket[sel].astype(np.int64)
    it = item[sel].astype(np.int64)
    if len(b) == 0:
        return sp.csr_matrix((0, num_items), dtype=np.float32), np.zeros(0, dtype=np.int64)
    key = np.unique(b * np.int64(num_items) + it)  # distinct (basket, item), sorted by basket then item
    kb, ki = key // num_items, key % num_items
    bids, row = np.unique(kb, return_inverse=True)
    sizes = np.bincount(row)
    indptr = np.zeros(len(bids) + 1, dtype=np.int64)
    np.cumsum(sizes, out=indptr[1:])
    X = sp.csr_matrix(
        (np.ones(len(key), dtype=np.float32), ki.astype(np.int32), indptr), shape=(len(bids), num_items)
    )
    if max_basket_size is not None:
        keep = sizes <= int(max_basket_size)
        if not keep.all():
            X = X[keep]
            bids = bids[keep]
    return X, bids


def co_occurrence(
    X: sp.csr_matrix,
    min_count: int = 1,
    min_support: float = 0.0,
    min_lift: float = 0.0,
    top_k: int | None = None,
) -> dict[str, np.ndarray]:
    """Ordered item pairs with their association statistics, filtered and cut to ``top_k`` per source item.

    Args:
        X: binary basket x item matrix (see `basket_matrix`).
        min_count: keep pairs bought together in at least this many baskets (default 1).
        min_support: keep pairs with ``support >= min_support`` (default 0.0).
        min_lift: keep pairs with ``lift >= min_lift`` (default 0.0).
        top_k: keep the ``top_k`` partners of every source item by lift, ties by count then item id
            (default ``None``: keep all).

    Returns:
        ``{"src", "dst"}`` int64, ``"count"`` int64, ``{"support", "confidence", "lift"}`` float64 arrays of equal
        length, sorted by source item, then rank (best first). ``"item_count"`` (baskets holding each item) and
        ``"num_baskets"`` are added for reference.

    Shapes:
        X: [B, I] -> each pair array: [E]; item_count: [I]; num_baskets: [] (0-d)
    """
    B, I = X.shape
    Xi = X.astype(np.int32) if X.dtype != np.int32 else X
    Xi = sp.csr_matrix(Xi)
    Xi.data[:] = 1  # binary, whatever came in
    item_count = np.asarray(Xi.sum(axis=0)).ravel().astype(np.int64)
    C = (Xi.T.tocsr() @ Xi).tocoo()
    r, c, n = C.row.astype(np.int64), C.col.astype(np.int64), C.data.astype(np.int64)
    m = (r != c) & (n >= max(int(min_count), 1))
    r, c, n = r[m], c[m], n[m]
    if B > 0:
        support = n / B
        confidence = n / item_count[r]
        lift = n * float(B) / (item_count[r].astype(np.float64) * item_count[c])
    else:
        support = confidence = lift = np.zeros(0)
    m = (support >= min_support) & (lift >= min_lift)
    r, c, n, support, confidence, lift = r[m], c[m], n[m], support[m], confidence[m], lift[m]
    order = np.lexsort((c, -n, -lift, r))
    r, c, n, support, confidence, lift = (a[order] for a in (r, c, n, support, confidence, lift))
    if top_k is not None and top_k > 0 and len(r):
        start = np.zeros(len(r), dtype=bool)
        start[0] = True
        np.not_equal(r[1:], r[:-1], out=start[1:])
        starts = np.flatnonzero(start)
        group_start = np.repeat(starts, np.diff(np.append(starts, len(r))))
        rank = np.arange(len(r)) - group_start
        m = rank < int(top_k)
        r, c, n, support, confidence, lift = (a[m] for a in (r, c, n, support, confidence, lift))
    return {
        "src": r,
        "dst": c,
        "count": n,
        "support": support.astype(np.float64),
        "confidence": confidence.astype(np.float64),
        "lift": lift.astype(np.float64),
        "item_count": item_count,
        "num_baskets": np.asarray(B, dtype=np.int64),
    }
