"""A self-contained HTML association report for merchandisers (inline CSS, the plot embedded as a base64 PNG).

Sections: (optionally) the cross-sell candidates of one item; the top associated pairs of the catalogue with their
evidence (co-purchases, support, confidence, lift, embedding similarity, shared buyers, strongest graph path); one
bundle per top category (its most popular item and that item's best associations); a figure of co-purchase count
against lift coloured by embedding similarity, next to the similarity of co-bought pairs against random pairs.
"""

from __future__ import annotations

import base64
import html
import io
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from hetrec.io import atomic_write_text
from hetrec.serve.model import SHRINK, ServingModel

__all__ = ["association_report", "write_association_report", "top_pairs"]

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px 32px;color:#1d2433;background:#fafbfc}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:2px solid #dde3ea;padding-bottom:4px}
.sub{color:#5a6474;margin-bottom:16px}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.card{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:10px 16px;min-width:120px}
.card b{display:block;font-size:22px;color:#1f6feb}
table{border-collapse:collapse;background:#fff;width:100%;font-size:13px}
th,td{border:1px solid #dde3ea;padding:5px 8px;text-align:left;vertical-align:top}th{background:#eef2f6}
tr:nth-child(even) td{background:#f6f8fa}.num{text-align:right;font-variant-numeric:tabular-nums}
.bundle{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:10px 14px;margin:8px 0}
.bundle h3{margin:0 0 6px;font-size:15px}.tag{display:inline-block;background:#e7f0ff;color:#1f4f9e;border-radius:10px;
padding:1px 8px;font-size:12px;margin-right:4px}
img{max-width:100%;border:1px solid #dde3ea;border-radius:8px;background:#fff}
.path{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;color:#374151}
"""


def _e(x: object) -> str:
    return html.escape("" if x is None else str(x))


def top_pairs(model: ServingModel, n: int = 25, min_count: int = 2, alpha: float | None = None) -> list[dict[str, Any]]:
    """The catalogue's strongest associated pairs (unordered), by the association score of
    :meth:`ServingModel.associations` with the confidence of the stronger direction.

    Without co-purchase data the pairs come from the associations of the most popular items.
    """
    alpha = model.alpha if alpha is None else alpha
    pairs: list[dict[str, Any]] = []
    if model.co:
        c = model.co["count"].tocoo()
        keep = (c.row < c.col) & (c.data >= min_count)
        a, b, cnt = c.row[keep], c.col[keep], c.data[keep]
        if len(a) == 0:
            return []
        conf_ab = np.asarray(model.co["confidence"][a, b]).ravel()
        conf_ba = np.asarray(model.co["confidence"][b, a]).ravel()
        swap = conf_ba > conf_ab  # read every pair in its stronger direction (A -> B with the higher confidence)
        a, b = np.where(swap, b, a), np.where(swap, a, b)
        conf = np.maximum(conf_ab, conf_ba)
        sim = np.einsum("ij,ij->i", model.item_unit[a], model.item_unit[b])
        score = (1 - alpha) * np.maximum(sim, 0) + alpha * conf * cnt / (cnt + SHRINK)
        order = np.lexsort((b, a, -score))[:n]
        for j in order:
            ra, rb = model.items.raw_ids[a[j]], model.items.raw_ids[b[j]]
            ev = model.associations(ra, k=1, allowed_items=[rb])["items"]
            if ev:
                pairs.append({**ev[0], "a": str(ra), "b": str(rb), "score": float(score[j])})
        return pairs
    for i in np.argsort(-model.popularity, kind="stable")[: max(1, n // 3)]:
        for row in model.associations(model.items.raw_ids[i], k=3)["items"]:
            pairs.append({"a": str(model.items.raw_ids[i]), "b": row["item"], **row})
    pairs.sort(key=lambda p: -p["score"])
    return pairs[:n]


def _plot(model: ServingModel) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100)
    rng = np.random.default_rng(0)
    n = len(model.items)
    if model.co:
        c = model.co["count"].tocoo()
        keep = c.row < c.col
        a, b, cnt = c.row[keep], c.col[keep], c.data[keep]
        if len(a) > 20_000:
            s = rng.choice(len(a), 20_000, replace=False)
            a, b, cnt = a[s], b[s], cnt[s]
        lift = np.asarray(model.co["lift"][a, b]).ravel()
        sim = np.einsum("ij,ij->i", model.item_unit[a], model.item_unit[b])
        sc = axes[0].scatter(cnt, np.maximum(lift, 1e-3), c=sim, cmap="viridis", s=14, alpha=0.75, vmin=-1, vmax=1)
        axes[0].set_xscale("log")
        axes[0].set_yscale("log")
        axes[0].set_xlabel("co-purchases (baskets with both)")
        axes[0].set_ylabel("lift")
        axes[0].set_title("co-bought pairs")
        fig.colorbar(sc, ax=axes[0], label="embedding similarity")
        m = min(len(a), 20_000)
        ra, rb = rng.integers(0, n, m), rng.integers(0, n, m)
        rsim = np.einsum("ij,ij->i", model.item_unit[ra], model.item_unit[rb])
        bins = np.linspace(-1, 1, 41)
        axes[1].hist(rsim, bins=bins, alpha=0.6, density=True, label="random pairs", color="#9aa5b1")
        axes[1].hist(sim, bins=bins, alpha=0.7, density=True, label="co-bought pairs", color="#1f6feb")
        axes[1].legend()
    else:
        axes[0].bar(range(min(30, n)), np.sort(model.popularity)[::-1][:30], color="#1f6feb")
        axes[0].set_title("popularity of the top items (no co-purchase data)")
        ra, rb = rng.integers(0, n, 5000), rng.integers(0, n, 5000)
        axes[1].hist(np.einsum("ij,ij->i", model.item_unit[ra], model.item_unit[rb]), bins=40, color="#9aa5b1")
    axes[1].set_xlabel("embedding cosine similarity")
    axes[1].set_title("do embeddings know what is bought together?")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _rows_table(rows: list[dict[str, Any]], anchor_col: bool = False) -> str:
    head = ("<tr>" + ("<th>item A</th>" if anchor_col else "") + "<th>item B</th><th>category</th><th>score</th>"
            "<th>co-purchases</th><th>support</th><th>confidence</th><th>lift</th><th>similarity</th>"
            "<th>shared buyers</th><th>strongest path</th></tr>")
    body = []
    for r in rows:
        ev = r["evidence"]
        name = f" <small>{_e(r.get('name'))}</small>" if r.get("name") else ""
        body.append(
            "<tr>" + (f"<td>{_e(r['a'])}</td>" if anchor_col else "") + f"<td>{_e(r['item'])}{name}</td>"
            f"<td>{_e(r.get('category', ''))}</td><td class=num>{r['score']:.3f}</td>"
            f"<td class=num>{ev['co_bought_count']}</td><td class=num>{ev['support']:.4f}</td>"
            f"<td class=num>{ev['confidence']:.0%}</td><td class=num>{ev['lift']:.2f}</td>"
            f"<td class=num>{ev['similarity']:.2f}</td><td class=num>{ev['shared_buyers']}</td>"
            f"<td class=path>{_e(ev['path']['text'])}</td></tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def association_report(
    model: ServingModel, item: object | None = None, k: int = 10, n_pairs: int = 25, n_categories: int = 8,
    bundle_size: int = 3,
) -> str:
    """The report as an HTML string (see the module docstring).

    Args:
        model: the loaded model.
        item: raw item id whose cross-sell candidates open the report. Default none.
        k: candidates shown for ``item``. n_pairs: top pairs shown. n_categories: categories with a bundle.
        bundle_size: associated items per bundle.
    """
    info = model.info()
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f"<title>hetrec association report: {_e(info['dataset'])}</title><style>{CSS}</style></head><body>",
        "<h1>Product associations</h1>",
        f"<div class=sub>dataset <b>{_e(info['dataset'])}</b> · encoder <b>{_e(info['encoder'])}</b> · generated "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · "
        f"score = (1−α)·similarity + α·confidence·n/(n+{SHRINK:g}), "
        f"α = {model.alpha}</div>",
        "<div class=cards>",
        f"<div class=card><b>{info['num_items']:,}</b>items</div>",
        f"<div class=card><b>{info['num_users']:,}</b>customers</div>",
        f"<div class=card><b>{info['co_bought_pairs']:,}</b>co-bought pairs</div>",
        f"<div class=card><b>{int(model.train.nnz):,}</b>training interactions</div></div>",
    ]
    if item is not None:
        res = model.associations(item, k=k)
        rows = [{**r, "a": res["item"]} for r in res["items"]]
        parts.append(f"<h2>Cross-sell candidates for {_e(model._label(model._item(item)))}</h2>")
        parts.append(_rows_table(rows) if rows else "<p>No candidates.</p>")
    pairs = top_pairs(model, n=n_pairs)
    parts.append(f"<h2>Top {len(pairs)} associated pairs</h2>")
    parts.append(_rows_table(pairs, anchor_col=True) if pairs else "<p>No co-purchase evidence in this artifact.</p>")
    if model.categories is not None:
        parts.append("<h2>Bundles per category</h2>")
        cats = {}
        for i in np.argsort(-model.popularity, kind="stable"):
            c = model._category(int(i))
            if c and c not in cats:
                cats[c] = int(i)
            if len(cats) >= n_categories:
                break
        for c, anchor in cats.items():
            res = model.associations(model.items.raw_ids[anchor], k=bundle_size)
            items = "".join(
                f"<li><b>{_e(r['item'])}</b> {_e(r.get('name', ''))} <span class=tag>{_e(r.get('category', ''))}</span>"
                f"<br><small>{_e(r['reason'])}</small></li>"
                for r in res["items"]
            )
            parts.append(
                f"<div class=bundle><h3>{_e(c)}: start from {_e(model._label(anchor))} "
                f"<span class=tag>{int(model.popularity[anchor])} customers</span></h3><ol>{items}</ol></div>"
            )
    parts.append("<h2>Evidence overview</h2>")
    parts.append("<img alt='co-purchase count vs lift, and embedding similarity' "
                 f"src='data:image/png;base64,{_plot(model)}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_association_report(model: ServingModel, path: str | os.PathLike, **kwargs: Any) -> Path:
    """Write :func:`association_report` to ``path`` atomically; return the path."""
    path = Path(path)
    atomic_write_text(path, association_report(model, **kwargs))
    return path
