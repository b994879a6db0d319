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

__all__ = ["item_row", "explain_recs", "explain_similar", "explain_association", "path"]


def item_row(model: ServingModel, i: int, rank: int, score: float) -> dict[str, Any]:
    """``{"rank", "item", "score", ["name",] ["category"]}`` of internal item ``i``."""
    row: dict[str, Any] = {"rank": rank, "item": str(model.items.raw_ids[i]), "score": rnd(score)}
    if model.names is not None:
        row["name"] = str(model.names[i])
    if model.categories is not None:
        row["category"] = model._category(i)
    return row


def explain_recs(model: ServingModel, ids: np.ndarray, scores: np.ndarray, hist: np.ndarray) -> list[dict[str, Any]]:
    """Rows of recommended ``ids`` for a user (or visitor) whose history is ``hist``: the closest history item and,
    when there is basket evidence, the history item most often bought together with it."""
    ev_store = model.evidence
    rows = []
    sims = model.item_unit[ids] @ model.item_unit[hist].T if len(hist) else None  # [k, h]
    co_hist = None  # [h, k] co-purchase counts between history items and recommended items
    if ev_store.co and len(hist) and len(ids):
        sub = ev_store.co_sym[hist].tocoo()  # rows of the history only: O(their nnz), no O(num_items) column index
        order = np.argsort(ids, kind="stable")
        sid = ids[order]
        p = np.minimum(np.searchsorted(sid, sub.col), len(sid) - 1)
        hit = sid[p] == sub.col
        co_hist = np.zeros((len(hist), len(ids)))
        co_hist[sub.row[hit], order[p[hit]]] = sub.data[hit]
    for r, (i, s) in enumerate(zip(ids.tolist(), scores.tolist()), 1):
        row = item_row(model, i, r, s)
        parts, ev = [], {}
        if sims is not None:
            j = int(np.argmax(sims[r - 1]))
            h = int(hist[j])
            ev["closest_history_item"] = str(model.items.raw_ids[h])
            ev["similarity"] = rnd(sims[r - 1, j])
            parts.append(f"because you {model.verb} {model._label(h)} (similar, {sims[r - 1, j]:.2f})")
            if co_hist is not None and co_hist[:, r - 1].max() > 0:
                best = int(hist[int(np.argmax(co_hist[:, r - 1]))])
                pe = ev_store.pair(best, i)
                if pe is not None:
                    ev["co_bought"] = {"with": str(model.items.raw_ids[best]), **pe}
                    parts.append(
                        f"often bought together with {model._label(best)}: {pe['count']} co-purchases, "
                        f"lift {pe['lift']:.1f}"
                    )
        else:
            parts.append("matches your taste profile (user embedding)")
        row["reason"] = "; ".join(parts)
        row["evidence"] = ev
        rows.append(row)
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
