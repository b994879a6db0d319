"""Profiles: what a known user is into (top categories and attributes of their history, interest clusters).

Interest clusters: k-means (``min(n_clusters, distinct history items)`` clusters) on the unit embeddings of the
user's training items; each cluster names its items closest to the centre (``items``), its dominant category (the
most frequent among its members, ``dominant_category`` with ``dominant_share``), the category of the whole catalogue
whose centroid is nearest to the centre (``nearest_category``), and the catalogue items nearest to the centre that
the user does not have yet (``suggestions``). A cluster's ``label`` is its dominant category, or its most central
item when its members have no category.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hetrec.serve.errors import UnknownIdError
from hetrec.serve.evidence import rnd, unit

if TYPE_CHECKING:
    from hetrec.serve.model import ServingModel

__all__ = ["Profiles"]


class Profiles:
    """The profile capability of one loaded model; the catalogue's category centroids are computed once."""

    def __init__(self, model: ServingModel) -> None:
        self.model = model
        self._lock = threading.Lock()
        self._centroids: tuple[np.ndarray, np.ndarray] | None = None

    def category_centroids(self) -> tuple[np.ndarray, np.ndarray]:
        """``(category names [C], unit centroids [C, D])`` of the catalogue's items (items without one left out)."""
        with self._lock:
            if self._centroids is None:
                m = self.model
                codes, names = pd.factorize(np.where(m.categories == "", None, m.categories))  # "": no category
                ok = codes >= 0
                c = np.zeros((len(names), m.item_unit.shape[1]), dtype=np.float64)
                np.add.at(c, codes[ok], m.item_unit[ok])
                self._centroids = (np.asarray(names, dtype=object), unit(c))
            return self._centroids

    def dominant_category(self, members: np.ndarray) -> dict[str, Any]:
        """The most frequent category among ``members`` (ties: alphabetically first; items without one are not
        counted) and its share of the members: ``{"dominant_category", "dominant_share"}``, ``None``/0.0 if none."""
        cats = self.model.categories[members]
        names, counts = np.unique(cats[cats != ""].astype(str), return_counts=True)
        if not len(names):
            return {"dominant_category": None, "dominant_share": 0.0}
        j = int(np.argmax(counts))
        return {"dominant_category": str(names[j]), "dominant_share": rnd(counts[j] / len(members), 3)}

    def profile(self, user: object, top: int = 5, n_clusters: int = 3) -> dict[str, Any]:
        """See :meth:`hetrec.serve.model.ServingModel.profile`."""
        m = self.model
        u = m._user(user)
        if u is None:
            raise UnknownIdError("user", user, len(m.users))
        hist = m.evidence.history(u)
        out: dict[str, Any] = {"user": str(user), "history_size": int(len(hist)), "top_categories": [],
                               "attributes": self._attributes(hist, top) if len(hist) else {}, "clusters": [],
                               "nearest_categories": []}
        if m.categories is not None and len(hist):
            vc = pd.Series(m.categories[hist]).replace("", np.nan).dropna().value_counts()
            out["top_categories"] = [
                {"category": str(c), "count": int(n), "share": rnd(n / len(hist), 3)} for c, n in vc.head(top).items()
            ]
        if len(hist):
            out["clusters"] = self._clusters(hist, n_clusters)
        if m.categories is not None and len(hist):
            names, cent = self.category_centroids()
            s = cent @ unit(m.item_unit[hist].mean(axis=0))
            order = np.argsort(-s, kind="stable")[:top]
            out["nearest_categories"] = [{"category": str(names[i]), "similarity": rnd(s[i])} for i in order]
        return out

    def _attributes(self, hist: np.ndarray, top: int) -> dict[str, Any]:
        attrs = self.model.attrs
        out: dict[str, Any] = {}
        if attrs is None:
            return out
        sub = attrs.iloc[hist]
        for col in attrs.columns:
            if col in ("category", "name", "title"):
                continue
            s = sub[col].dropna()
            if len(s) == 0:
                continue
            if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                out[col] = {"mean": rnd(s.mean(), 3), "median": rnd(s.median(), 3),
                            "min": rnd(s.min(), 3), "max": rnd(s.max(), 3)}
            elif attrs[col].nunique() <= max(50, len(attrs) // 2):
                vc = s.astype(str).value_counts().head(top)
                out[col] = [{"value": v, "count": int(n)} for v, n in vc.items()]
        return out

    def _clusters(self, hist: np.ndarray, n_clusters: int) -> list[dict[str, Any]]:
        from sklearn.cluster import KMeans

        m = self.model
        x = m.item_unit[hist]
        nc = int(min(n_clusters, len(np.unique(x.round(6), axis=0))))
        labels = np.zeros(len(hist), dtype=int) if nc <= 1 else KMeans(nc, n_init=4, random_state=0).fit_predict(x)
        cat_names, cat_cent = self.category_centroids() if m.categories is not None else (None, None)
        clusters = []
        for c in range(max(nc, 1)):
            members = hist[labels == c]
            if len(members) == 0:
                continue
            centre = unit(m.item_unit[members].mean(axis=0))
            closeness = m.item_unit[members] @ centre
            rep = members[np.argsort(-closeness, kind="stable")[:3]]
            cl: dict[str, Any] = {"size": int(len(members)), "share": rnd(len(members) / len(hist), 3),
                                  "items": [str(m.items.raw_ids[i]) for i in rep]}
            if m.categories is not None:
                cl.update(self.dominant_category(members))
                near = int(np.argmax(cat_cent @ centre)) if len(cat_names) else None
                cl["nearest_category"] = None if near is None else str(cat_names[near])
            nxt, _ = m.search("similar", centre, 3, exclude=hist)
            cl["suggestions"] = [str(m.items.raw_ids[i]) for i in nxt]
            cl["label"] = cl.get("dominant_category") or m._label(int(rep[0]))
            clusters.append(cl)
        clusters.sort(key=lambda c: -c["size"])
        return clusters
