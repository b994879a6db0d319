"""Explanations: every returned item as a JSON-ready row with the evidence behind it and a sentence a shop assistant
could say ("because you bought X (similar, 0.83); often bought together with Y: 23 co-purchases, lift 4.1").

Functions of a loaded :class:`~hetrec.serve.model.ServingModel` that only read it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hetrec.serve.evidence import rnd

if TYPE_CHECKING:
    from hetrec.serve.model import ServingModel

__all__ = ["item_row", "item_rows", "reason_links", "explain_recs", "explain_similar", "explain_association", "path"]


def item_row(model: ServingModel, i: int, rank: int, score: float) -> dict[str, Any]:
    """``{"rank", "item", "score", ["name",] ["category"]}`` of internal item ``i``."""
    row: dict[str, Any] = {"rank": rank, "item": str(model.items.raw_ids[i]), "score": rnd(score)}
    if model.names is not None:
        row["name"] = str(model.names[i])
    if model.categories is not None:
        row["category"] = model._category(i)
    return row


def item_rows(model: ServingModel, ids: list[int], scores: list[float]) -> list[dict[str, Any]]:
    """:func:`item_row` of every ``(id, score)``, ranks from 1 (the same rows, without a call per item)."""
    raw, names, cats = model.items.raw_ids, model.names, model.categories
    rows = []
    for r, (i, s) in enumerate(zip(ids, scores), 1):
        row: dict[str, Any] = {"rank": r, "item": str(raw[i]), "score": round(float(s), 4)}
        if names is not None:
            row["name"] = str(names[i])
        if cats is not None:
            row["category"] = str(cats[i]) if cats[i] else None
        rows.append(row)
    return rows


def _history_co_counts(model: ServingModel, ids: np.ndarray, hist: np.ndarray) -> np.ndarray | None:
    """``[h, k]`` co-purchase counts between the history items (rows) and the recommended items (columns), gathered
    from the history's rows of the symmetric count matrix only (O(their nnz), no scipy slicing); ``None`` without
    basket evidence."""
    ev = model.evidence
    if not ev.co or not len(hist) or not len(ids):
        return None
    cm = ev.co_sym
    starts, ends = cm.indptr[hist], cm.indptr[hist + 1]
    lens = (ends - starts).astype(np.int64)
    total = int(lens.sum())
    co_hist = np.zeros((len(hist), len(ids)))
    if total == 0:
        return co_hist
    first = np.cumsum(lens) - lens
    pos = np.arange(total, dtype=np.int64) - np.repeat(first, lens) + np.repeat(starts.astype(np.int64), lens)
    row, col, data = np.repeat(np.arange(len(hist)), lens), cm.indices[pos], cm.data[pos]
    order = np.argsort(ids, kind="stable")
    sid = ids[order]
    p = np.minimum(np.searchsorted(sid, col), len(sid) - 1)
    hit = sid[p] == col
    co_hist[row[hit], order[p[hit]]] = data[hit]
    return co_hist


def reason_links(model: ServingModel, ids: np.ndarray, hist: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the reasons of recommended ``ids`` point at, for a non-empty history ``hist``: ``(closest history item
    [k] int64, its cosine similarity [k] float32, history item most often bought together with it [k] int64, -1 when
    none)``. The top-K table stores these for its rows (they depend on the user only)."""
    # one dot product per (item, history item) pair, summed in the same order whatever the number of rows (a BLAS
    # matrix product rounds differently for 20 and 50 rows): the table's links equal those of a k-row answer
    sims = (model.item_unit[ids][:, None, :] * model.item_unit[hist][None, :, :]).sum(axis=-1)  # [k, h]
    best = sims.argmax(axis=1)
    best_sim = sims[np.arange(len(ids)), best].astype(np.float32)
    co_with = np.full(len(ids), -1, dtype=np.int64)
    co_hist = _history_co_counts(model, ids, hist)
    if co_hist is not None:
        has = co_hist.max(axis=0) > 0
        co_with[has] = hist[co_hist.argmax(axis=0)[has]]
    return hist[best], best_sim, co_with


def explain_recs(model: ServingModel, ids: np.ndarray, scores: np.ndarray, hist: np.ndarray,
                 explain: bool = True, links: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                 ) -> list[dict[str, Any]]:
    """Rows of recommended ``ids`` for a user (or visitor) whose history is ``hist``: the closest history item and,
    when there is basket evidence, the history item most often bought together with it.

    ``links``: :func:`reason_links` of ``(ids, hist)`` when already known (the top-K table); else computed, for all
    rows at once. ``explain=False`` gives the rows without ``reason`` and ``evidence``.
    """
    ids = np.asarray(ids, dtype=np.int64)
    rows = item_rows(model, ids.tolist(), np.asarray(scores).tolist())
    if not explain:
        return rows
    hist = np.asarray(hist, dtype=np.int64)
    if not len(hist) or not len(ids):
        for row in rows:
            row["reason"], row["evidence"] = "matches your taste profile (user embedding)", {}
        return rows
    raw, names, verb, pair = model.items.raw_ids, model.names, model.verb, model.evidence.pair

    def label(i: int) -> str:  # ServingModel._label
        return f"{raw[i]} ({names[i]})" if names is not None and names[i] else str(raw[i])

    closest, best_sim, co_with = links if links is not None else reason_links(model, ids, hist)
    for row, i, h, sim, b in zip(rows, ids.tolist(), closest.tolist(), best_sim.tolist(), co_with.tolist()):
        ev: dict[str, Any] = {"closest_history_item": str(raw[h]), "similarity": round(sim, 4)}
        reason = f"because you {verb} {label(h)} (similar, {sim:.2f})"
        if b >= 0:
            pe = pair(b, i)
            if pe is not None:
                ev["co_bought"] = {"with": str(raw[b]), **pe}
                reason += f"; often bought together with {label(b)}: {pe['count']} co-purchases, lift {pe['lift']:.1f}"
        row["reason"] = reason
        row["evidence"] = ev
    return rows


def explain_similar(model: ServingModel, i: int, ids: np.ndarray, scores: np.ndarray) -> list[dict[str, Any]]:
    """Rows of the items ``ids`` similar to item ``i``: similarity, shared category, co-purchases."""
    rows = []
    cat = model._category(i)
    for r, (j, s) in enumerate(zip(ids.tolist(), scores.tolist()), 1):
        row = item_row(model, j, r, s)
        parts = [f"similarity {s:.2f} to {model._label(i)}"]
        ev: dict[str, Any] = {"similarity": rnd(s)}
        if cat is not None and model._category(j) == cat:
            parts.append(f"same category {cat}")
            ev["shared_category"] = cat
        pe = model.evidence.pair(i, j)
        if pe is not None:
            parts.append(f"bought together {pe['count']} times (lift {pe['lift']:.1f})")
            ev["co_bought"] = pe
        row["reason"] = "; ".join(parts)
        row["evidence"] = ev
        rows.append(row)
    return rows


def explain_association(model: ServingModel, a: int, b: int, rank: int, score: float, sim: float,
                        shared: int) -> dict[str, Any]:
    """The row of association candidate ``b`` for item ``a``: pair evidence, shared buyers, strongest link."""
    row = item_row(model, b, rank, score)
    pe = model.evidence.pair(a, b)
    cat_a, cat_b = model._category(a), model._category(b)
    shared_cat = cat_a if cat_a is not None and cat_a == cat_b else None
    link = path(model, a, b, pe, shared, shared_cat)
    row["evidence"] = {
        "similarity": rnd(sim),
        "co_bought_count": pe["count"] if pe else 0,
        "support": pe["support"] if pe else 0.0,
        "confidence": pe["confidence"] if pe else 0.0,
        "lift": pe["lift"] if pe else 0.0,
        "shared_buyers": int(shared),
        "shared_category": shared_cat,
        "path": link,
    }
    parts = []
    if pe:
        parts.append(f"bought together {pe['count']} times (confidence {pe['confidence']:.0%}, lift {pe['lift']:.1f})")
    if shared > 0:
        parts.append(f"{int(shared)} shared {'buyer' if shared == 1 else 'buyers'}")
    parts.append(f"embedding similarity {sim:.2f}")
    if shared_cat:
        parts.append(f"same category {shared_cat}")
    parts.append(f"strongest link: {link['text']}")
    row["reason"] = "; ".join(parts)
    return row


def path(model: ServingModel, a: int, b: int, pe: dict | None, shared: int, shared_cat: str | None) -> dict[str, Any]:
    """The strongest link between items ``a`` and ``b``: co-purchase, a shared buyer, a shared category, or only
    embedding similarity, as ``{"type", "nodes", "text"}``."""
    ra, rb = str(model.items.raw_ids[a]), str(model.items.raw_ids[b])
    if pe is not None:
        return {"type": "co_bought", "nodes": [ra, rb], "text": f"{ra} -co_bought({pe['count']}x)-> {rb}"}
    if shared > 0:
        csc = model.evidence.train_csc
        ua = csc.indices[csc.indptr[a] : csc.indptr[a + 1]]
        ub = csc.indices[csc.indptr[b] : csc.indptr[b + 1]]
        ru = str(model.users.raw_ids[int(np.intersect1d(ua, ub)[0])])
        more = f" (+{shared - 1} more shared buyers)" if shared > 1 else ""
        return {
            "type": "shared_buyer",
            "nodes": [ra, ru, rb],
            "text": f"{ra} <-{model.event}- user {ru} -{model.event}-> {rb}{more}",
        }
    if shared_cat is not None:
        return {"type": "shared_category", "nodes": [ra, shared_cat, rb], "text": f"{ra} -in-> {shared_cat} <-in- {rb}"}
    return {"type": "embedding", "nodes": [ra, rb], "text": f"{ra} ~ {rb} (embedding similarity only)"}
