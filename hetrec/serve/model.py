"""`ServingModel`: a trained run's artifact loaded once, answering recommendation and association questions.

Everything takes and returns **raw ids** (the ids of the shop's own tables); internal ids never leave this module.
Every answer is a plain JSON-ready ``dict`` and every returned item carries the evidence behind it and a sentence a
shop assistant could say ("because you bought X (similarity 0.83); often bought together with Y: 23 co-purchases,
lift 4.1").

Scores:
    - ``recommend(user=...)``: the run's scorer (``dot``, ``cosine`` or ``distmult``) between the user's and the items'
      embeddings, through the retrieval index (:mod:`hetrec.serve.index`), items the user already has filtered out.
    - ``recommend(history=[...])`` (a visitor not in the graph, e.g. a basket), ``similar``, ``associations``, profiles:
      cosine similarity of item embeddings; a history is represented by the mean of its items' unit vectors.
    - ``associations``: ``score = (1 - alpha) * max(cos, 0) + alpha * evidence`` with
      ``evidence = confidence * count / (count + 3)`` (co-purchase confidence P(B | A) from the training baskets, shrunk
      toward 0 when the pair was seen only a few times); without basket evidence for a pair, confidence and count come
      from shared buyers in the training matrix instead.
    - ``cold_start``: a new item's embedding from its attributes alone. Preferred path ``"encoder"``: the artifact's
      fitted item feature encoder -> ``NodeInput.embed_features`` -> the trained encoder on one-node blocks in which
      the new item is an isolated destination node (it has no edges yet). Fallback ``"ridge"`` (only when the model
      cannot be rebuilt from the artifact, e.g. no ``model.pt``): a ridge regression from item input features to item
      embeddings, fitted on the catalogue at first use. The response's ``method`` says which path was taken and why.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from hetrec.serve.errors import ColdStartUnavailable, UnknownIdError
from hetrec.serve.index import AUTO_ANN, BUILD_DEFAULTS, INDEX_KINDS, ItemIndex, build_index
from hetrec.train.artifact import Artifact

__all__ = ["ServingModel", "Recommender", "resolve_artifact_dir", "EVENT_VERBS"]

EVENT_VERBS = {
    "purchases": "bought",
    "purchase": "bought",
    "buys": "bought",
    "orders": "ordered",
    "clicks": "viewed",
    "views": "viewed",
    "carts": "added to your cart",
    "rates": "rated",
    "ratings": "rated",
}
"""Past-tense verb per target relation, for reasons ("because you bought X")."""

SHRINK = 3.0  # pseudo-count of the evidence shrinkage in associations


def resolve_artifact_dir(path: str | os.PathLike) -> Path:
    """The artifact folder of ``path``: ``path/artifact`` for a run folder, ``path`` itself for an artifact folder."""
    p = Path(path)
    if (p / "artifact" / "meta.json").exists():
        return p / "artifact"
    if (p / "meta.json").exists():
        return p
    if not p.exists():
        raise FileNotFoundError(f"run folder {str(p)!r} does not exist; pass --run with a folder written by hetrec-train")
    raise FileNotFoundError(
        f"{str(p)!r} holds neither artifact/meta.json nor meta.json; pass the run folder of hetrec-train "
        f"(hydra.run.dir) or its artifact/ subfolder"
    )


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(n, 1e-12)).astype(np.float32)


def _r(x: float, nd: int = 4) -> float:
    return float(round(float(x), nd))


class ServingModel:
    """A run's artifact in memory with retrieval indexes: recommend, similar, associations, cold start, profiles.

    Args:
        artifact: the loaded :class:`~hetrec.train.artifact.Artifact`.
        index: retrieval index, ``auto`` | ``exact`` | ``hnsw`` | ``ivf``. Default ``auto`` (exact below
            ``auto_threshold`` items, IVF above; see :data:`hetrec.serve.index.AUTO_ANN`).
        auto_threshold: catalogue size at which ``auto`` switches to the ANN index. Default 50,000.
        index_options: options of the ANN index (``m``, ``ef_construction``, ``ef_search``; ``nlist``, ``nprobe``).
        cache_dir: folder where built ANN indexes are cached (file name = index kind, options and a hash of the
            vectors, so a stale index is never reused). Default none (``load`` uses ``<artifact>/index_cache``).
        alpha: weight of co-purchase evidence against embedding similarity in :meth:`associations`. Default 0.5.
        max_k: the largest ``k`` a request may ask for (the HTTP API answers 422 above it). Default 1000.

    Shapes:
        user embeddings ``[num_users, D]``, item embeddings ``[num_items, D]``; ``train_matrix`` ``[num_users,
        num_items]``.
    """

    def __init__(
        self,
        artifact: Artifact,
        index: str = "auto",
        auto_threshold: int = 50_000,
        index_options: Mapping[str, Any] | None = None,
        cache_dir: str | os.PathLike | None = None,
        alpha: float = 0.5,
        max_k: int = 1000,
    ) -> None:
        if index not in INDEX_KINDS:
            raise ValueError(f"unknown index {index!r}; choose one of {', '.join(INDEX_KINDS)} (e.g. --index hnsw)")
        if not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.artifact = artifact
        self.meta = dict(artifact.meta)
        target = self.meta.get("target") or ["user", "interacts", "item"]
        self.user_type, self.event, self.item_type = str(target[0]), str(target[1]), str(target[2])
        self.verb = EVENT_VERBS.get(self.event, "interacted with")
        for nt in (self.user_type, self.item_type):
            if nt not in artifact.embeddings:
                raise ValueError(f"artifact has no embeddings for node type '{nt}' (has {sorted(artifact.embeddings)})")
            if nt not in artifact.idmaps:
                raise ValueError(f"artifact has no id map for node type '{nt}' (has {sorted(artifact.idmaps)})")
            if len(artifact.idmaps[nt]) != artifact.embeddings[nt].shape[0]:
                raise ValueError(
                    f"artifact: {len(artifact.idmaps[nt])} {nt} ids but {artifact.embeddings[nt].shape[0]} {nt} "
                    f"embeddings; the artifact is inconsistent, re-run hetrec-train"
                )
        self.users = artifact.idmaps[self.user_type]
        self.items = artifact.idmaps[self.item_type]
        # hash indexes for one-id lookups (IdMap.to_internal builds an Index per call: fine for batches, slow per id)
        self._user_index = pd.Index(self.users.raw_ids)
        self._item_index = pd.Index(self.items.raw_ids)
        self.item_emb = artifact.embeddings[self.item_type].detach().cpu().float().numpy()
        self.user_emb = artifact.embeddings[self.user_type].detach().cpu().float().numpy()
        self.item_unit = _unit(self.item_emb)
        self.scorer = str(self.meta.get("scorer", "dot"))
        self.index_kind = index
        self.auto_threshold = int(auto_threshold)
        self.index_options = dict(index_options or {})
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.alpha = float(alpha)
        self.max_k = int(max_k)
        self._user_query = self._make_user_query()
        self._indexes: dict[str, ItemIndex] = {}
        self._lock = threading.RLock()
        self._cold: tuple[str, Any] | None = None
        self._cold_reason = ""
        self._prepare_evidence()

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | os.PathLike, **options: Any) -> ServingModel:
        """Load a run folder (or its ``artifact/`` folder) once; see the class for ``options``."""
        adir = resolve_artifact_dir(path)
        options.setdefault("cache_dir", adir / "index_cache")
        model = cls(Artifact.load(adir), **options)
        model.path = adir
        return model

    path: Path | None = None

    def _make_user_query(self) -> np.ndarray:
        if self.scorer == "dot":
            return self.user_emb
        if self.scorer == "cosine":
            return _unit(self.user_emb)
        if self.scorer == "distmult":
            rel = self._distmult_relation()
            return (self.user_emb * rel[None, :]).astype(np.float32)
        raise ValueError(f"artifact meta.json has scorer {self.scorer!r}; serving supports dot, cosine, distmult")

    def _distmult_relation(self) -> np.ndarray:
        state = self.artifact.model_state or {}
        d = self.item_emb.shape[1]
        exact = f"objective.scorers.{self.event}.relation"  # what hetrec-train's LinkPredictionModel saves
        if exact in state and state[exact].numel() == d:
            return state[exact].detach().float().reshape(-1).numpy()
        cands = [(k, v) for k, v in state.items() if k.startswith(("scorer.", "objective.")) and v.numel() == d]
        named = [(k, v) for k, v in cands if self.event in k]
        pick = named or cands
        if len(pick) != 1:
            raise ValueError(
                f"scorer is distmult but model.pt has {len(pick)} candidate relation vectors of size {d} "
                f"({[k for k, _ in pick]}); expected '{exact}' holding the target relation's diagonal"
            )
        return pick[0][1].detach().float().reshape(-1).numpy()

    def _prepare_evidence(self) -> None:
        n_items, n_users = len(self.items), len(self.users)
        tm = self.artifact.train_matrix
        if tm is not None:
            if tm.shape != (n_users, n_items):
                raise ValueError(
                    f"artifact train_matrix.npz has shape {tm.shape}, expected ({n_users}, {n_items}) users x items"
                )
            tm = tm.tocsr().astype(np.float32)
            tm.data[:] = 1.0
            self.train = tm
            self.train_csc = tm.tocsc()
            self.popularity = np.asarray(tm.sum(axis=0)).ravel()
        else:
            self.train = sp.csr_matrix((n_users, n_items), dtype=np.float32)
            self.train_csc = self.train.tocsc()
            self.popularity = np.zeros(n_items, dtype=np.float32)
        self.co: dict[str, sp.csr_matrix] = {}
        co = self.artifact.co_bought
        if co is not None and len(co.get("src", [])):
            src, dst = np.asarray(co["src"], np.int64), np.asarray(co["dst"], np.int64)
            for f in ("count", "support", "confidence", "lift"):
                m = sp.csr_matrix((np.asarray(co[f], np.float64), (src, dst)), shape=(n_items, n_items))
                m.sum_duplicates()
                self.co[f] = m
            c = self.co["count"]
            self.co_sym = c.maximum(c.T).tocsr()  # count is symmetric; a top-k cut may have kept one direction
            self.co_sym.sort_indices()
            for m in self.co.values():
                m.sort_indices()
            if not self.popularity.any():
                self.popularity = np.asarray(self.co["count"].sum(axis=0)).ravel()
        attrs = self.artifact.item_attrs
        if attrs is not None and len(attrs) != n_items:
            raise ValueError(f"artifact item_attrs.parquet has {len(attrs)} rows for {n_items} items")
        self.attrs = attrs.reset_index(drop=True) if attrs is not None else None
        self.categories: np.ndarray | None = None
        if self.attrs is not None and "category" in self.attrs.columns:
            self.categories = self.attrs["category"].astype("string").fillna("").to_numpy(dtype=object)
        self.names: np.ndarray | None = None
        for col in ("name", "title"):
            if self.attrs is not None and col in self.attrs.columns:
                self.names = self.attrs[col].astype("string").fillna("").to_numpy(dtype=object)
                break
        self._cat_centroids: tuple[np.ndarray, np.ndarray] | None = None
        self._cat_masks: dict[str, np.ndarray] = {}
        self._pop_order: np.ndarray | None = None

    # ------------------------------------------------------------------ indexes
    def index(self, space: str = "similar") -> ItemIndex:
        """The retrieval index of one space: ``"similar"`` (unit item vectors) or ``"recommend"`` (scorer's space).

        Built at first use (or read from the cache folder) and kept.
        """
        if space == "recommend" and self.scorer == "cosine":
            space = "similar"
        with self._lock:
            if space not in self._indexes:
                vec = self.item_unit if space == "similar" else self.item_emb
                cache = None
                kind = self.index_kind
                if kind == "auto":
                    kind = "exact" if len(vec) < self.auto_threshold else AUTO_ANN
                if self.cache_dir is not None and kind != "exact":
                    h = hashlib.sha1(np.ascontiguousarray(vec).view(np.uint8)).hexdigest()[:16]
                    build = {**BUILD_DEFAULTS[kind], **self.index_options}
                    opts = "_".join(f"{k}{build[k]}" for k in sorted(BUILD_DEFAULTS[kind]))
                    cache = self.cache_dir / f"{kind}_{space}_{opts}_{h}.faiss"
                self._indexes[space] = build_index(vec, kind=kind, cache_path=cache, **self.index_options)
            return self._indexes[space]

    def warm_up(self) -> ServingModel:
        """Build (or read) the indexes now instead of at the first request."""
        self.index("similar")
        if self.scorer != "cosine":
            self.index("recommend")
        return self

    # ------------------------------------------------------------------ helpers
    def _k(self, k: object) -> int:
        try:
            k = int(k)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"k must be an integer, got {k!r}") from None
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        return k

    def _item(self, raw: object) -> int:
        try:
            return int(self._item_index.get_loc(str(raw)))
        except KeyError:
            raise UnknownIdError("item", raw, len(self.items)) from None

    def _user(self, raw: object) -> int | None:
        try:
            return int(self._user_index.get_loc(str(raw)))
        except KeyError:
            return None

    def _label(self, i: int) -> str:
        raw = self.items.raw_ids[i]
        if self.names is not None and self.names[i]:
            return f"{raw} ({self.names[i]})"
        return str(raw)

    def _category(self, i: int) -> str | None:
        if self.categories is None:
            return None
        c = self.categories[i]
        return str(c) if c else None

    def _allowed(self, category: str | None, allowed_items: Iterable[object] | None) -> np.ndarray | None:
        mask = None
        if category:
            if self.categories is None:
                raise ValueError("category filter given but the artifact has no item category attribute")
            mask = self._cat_masks.get(category)
            if mask is None:
                cats = pd.Series(self.categories, dtype="string")
                mask = ((cats == category) | cats.str.startswith(f"{category}>")).to_numpy(dtype=bool)
                if not mask.any():
                    raise UnknownIdError("category", category, len(set(self.categories)))
                if len(self._cat_masks) >= 64:  # a small cache: one mask per recently asked category
                    self._cat_masks.pop(next(iter(self._cat_masks)))
                self._cat_masks[category] = mask
        if allowed_items is not None:
            ids = self.items.to_internal(list(allowed_items), missing="ignore")
            allow = np.zeros(len(self.items), dtype=bool)
            allow[ids[ids >= 0]] = True  # ids unknown to the model (new stock) cannot be ranked and are skipped
            mask = allow if mask is None else mask & allow
        return mask

    def _item_row(self, i: int, rank: int, score: float) -> dict[str, Any]:
        row: dict[str, Any] = {"rank": rank, "item": str(self.items.raw_ids[i]), "score": _r(score)}
        if self.names is not None:
            row["name"] = str(self.names[i])
        if self.categories is not None:
            row["category"] = self._category(i)
        return row

    def _co(self, field: str, a: int, b: int) -> float:
        """One entry of a co-purchase matrix (a binary search in row ``a``; scipy's ``m[a, b]`` is ~10x slower)."""
        m = self.co_sym if field == "count_sym" else self.co.get(field)
        if m is None:
            return 0.0
        lo, hi = m.indptr[a], m.indptr[a + 1]
        j = lo + int(np.searchsorted(m.indices[lo:hi], b))
        return float(m.data[j]) if j < hi and m.indices[j] == b else 0.0

    def _pair_evidence(self, a: int, b: int) -> dict[str, Any] | None:
        """Co-purchase evidence of the pair (a, b), read in the direction a -> b (count is symmetric)."""
        if not self.co:
            return None
        cnt = self._co("count_sym", a, b)
        if cnt <= 0:
            return None
        conf = self._co("confidence", a, b)
        lift = self._co("lift", a, b) or self._co("lift", b, a)
        sup = self._co("support", a, b) or self._co("support", b, a)
        return {"count": int(cnt), "support": _r(sup, 6), "confidence": _r(conf), "lift": _r(lift, 3)}

    # ------------------------------------------------------------------ capabilities
    def popular(
        self, k: int = 10, category: str | None = None, allowed_items: Iterable[object] | None = None,
        exclude: Sequence[int] = (),
    ) -> list[dict[str, Any]]:
        """The ``k`` most popular items (training interactions per item), with filters; raw ids."""
        k = self._k(k)
        mask = self._allowed(category, allowed_items)
        pop = self.popularity
        if self._pop_order is None:  # most popular first, ties by internal id; computed once
            self._pop_order = np.lexsort((np.arange(len(pop)), -pop.astype(np.float64)))
        order = self._pop_order
        if mask is not None or len(exclude):
            ok = np.ones(len(pop), dtype=bool) if mask is None else mask.copy()
            ok[np.asarray(exclude, dtype=np.int64)] = False
            order = order[ok[order]]
        order = order[:k]
        rows = []
        for r, i in enumerate(order, 1):
            row = self._item_row(int(i), r, pop[i])
            n = int(pop[i])
            row["reason"] = f"popular: {n} {'customer' if n == 1 else 'customers'} {self.verb} it"
            row["evidence"] = {"popularity": n}
            rows.append(row)
        return rows

    def recommend(
        self,
        user: object | None = None,
        history: Sequence[object] | None = None,
        k: int = 10,
        category: str | None = None,
        allowed_items: Iterable[object] | None = None,
        exclude_seen: bool = True,
    ) -> dict[str, Any]:
        """Top-``k`` items for a known user, or for a visitor given by the items of a history (basket, session).

        Args:
            user: raw user id. Unknown users get popular items and ``"fallback": "popular"``.
            history: raw item ids, for a visitor not in the graph (instead of ``user``). Empty: popular items and
                ``"fallback": "popular"``; an unknown item raises :class:`UnknownIdError`.
            k: number of items; 0 gives none, more than the catalogue gives every item that passes the filters.
            category: only items of this category (or its sub-categories, ``"Food"`` matches ``"Food>Dairy"``).
            allowed_items: only these raw item ids (e.g. the in-stock list); ids the model does not know are skipped.
            exclude_seen: drop the items the user already has (or the history items). Default ``True``.

        Returns:
            ``{"user", "history", "k", "fallback", "method", "items": [{"rank", "item", "score", ["name",
            "category",] "reason", "evidence"}]}``.
        """
        if (user is None) == (history is None):
            raise ValueError("recommend needs exactly one of user=RAW_ID or history=[RAW_ITEM_IDS]")
        k = self._k(k)
        mask = self._allowed(category, allowed_items)
        out: dict[str, Any] = {"user": None if user is None else str(user), "history": None, "k": k, "fallback": None}
        if history is not None:
            hist_raw = [str(h) for h in history]
            out["history"] = hist_raw
            hist = np.asarray([self._item(h) for h in hist_raw], dtype=np.int64)
            if len(hist) == 0:
                out.update(method="popular", fallback="popular", items=self.popular(k, category, allowed_items))
                return out
            q = _unit(self.item_unit[hist].mean(axis=0))
            with self._lock:
                ids, scores = self.index("similar").search(q, k, exclude=hist if exclude_seen else None, allowed=mask)
            out["method"] = "history"
        else:
            u = self._user(user)
            if u is None:
                out.update(method="popular", fallback="popular", items=self.popular(k, category, allowed_items))
                return out
            hist = self.train.indices[self.train.indptr[u] : self.train.indptr[u + 1]].astype(np.int64)
            with self._lock:
                ids, scores = self.index("recommend").search(
                    self._user_query[u], k, exclude=hist if exclude_seen else None, allowed=mask
                )
            out["method"] = "user_embedding"
        out["items"] = self._explain_recs(ids, scores, hist)
        return out

    def _explain_recs(self, ids: np.ndarray, scores: np.ndarray, hist: np.ndarray) -> list[dict[str, Any]]:
        rows = []
        sims = self.item_unit[ids] @ self.item_unit[hist].T if len(hist) else None  # [k, h]
        co_hist = None  # [h, k] co-purchase counts between history items and recommended items
        if self.co and len(hist) and len(ids):
            sub = self.co_sym[hist].tocoo()  # rows of the history only: O(their nnz), no O(num_items) column index
            order = np.argsort(ids, kind="stable")
            sid = ids[order]
            p = np.minimum(np.searchsorted(sid, sub.col), len(sid) - 1)
            hit = sid[p] == sub.col
            co_hist = np.zeros((len(hist), len(ids)))
            co_hist[sub.row[hit], order[p[hit]]] = sub.data[hit]
        for r, (i, s) in enumerate(zip(ids.tolist(), scores.tolist()), 1):
            row = self._item_row(i, r, s)
            parts, ev = [], {}
            if sims is not None:
                j = int(np.argmax(sims[r - 1]))
                h = int(hist[j])
                ev["closest_history_item"] = str(self.items.raw_ids[h])
                ev["similarity"] = _r(sims[r - 1, j])
                parts.append(f"because you {self.verb} {self._label(h)} (similar, {sims[r - 1, j]:.2f})")
                best = None
                if co_hist is not None and co_hist[:, r - 1].max() > 0:
                    best = int(hist[int(np.argmax(co_hist[:, r - 1]))])
                if best is not None:
                    pe = self._pair_evidence(best, i)
                    if pe is not None:
                        ev["co_bought"] = {"with": str(self.items.raw_ids[best]), **pe}
                        parts.append(
                            f"often bought together with {self._label(best)}: {pe['count']} co-purchases, "
                            f"lift {pe['lift']:.1f}"
                        )
            else:
                parts.append("matches your taste profile (user embedding)")
            row["reason"] = "; ".join(parts)
            row["evidence"] = ev
            rows.append(row)
        return rows

    def similar(
        self, item: object, k: int = 10, category: str | None = None, allowed_items: Iterable[object] | None = None
    ) -> dict[str, Any]:
        """Nearest items to ``item`` by cosine similarity of embeddings (the item itself excluded).

        Returns:
            ``{"item", "k", "items": [{"rank", "item", "score", ..., "reason", "evidence"}]}``.
        """
        i = self._item(item)
        k = self._k(k)
        mask = self._allowed(category, allowed_items)
        with self._lock:
            ids, scores = self.index("similar").search(self.item_unit[i], k, exclude=[i], allowed=mask)
        rows = []
        cat = self._category(i)
        for r, (j, s) in enumerate(zip(ids.tolist(), scores.tolist()), 1):
            row = self._item_row(j, r, s)
            parts = [f"similarity {s:.2f} to {self._label(i)}"]
            ev: dict[str, Any] = {"similarity": _r(s)}
            if cat is not None and self._category(j) == cat:
                parts.append(f"same category {cat}")
                ev["shared_category"] = cat
            pe = self._pair_evidence(i, j)
            if pe is not None:
                parts.append(f"bought together {pe['count']} times (lift {pe['lift']:.1f})")
                ev["co_bought"] = pe
            row["reason"] = "; ".join(parts)
            row["evidence"] = ev
            rows.append(row)
        return {"item": str(item), "k": k, "items": rows}

    def associations(
        self,
        item: object,
        k: int = 10,
        alpha: float | None = None,
        category: str | None = None,
        allowed_items: Iterable[object] | None = None,
        candidates: int | None = None,
    ) -> dict[str, Any]:
        """Cross-sell / bundle candidates for ``item``: embedding similarity combined with co-purchase evidence.

        Args:
            item: raw item id.
            k: number of candidates.
            alpha: weight of co-purchase evidence (see the module docstring). Default: the model's ``alpha``.
            category, allowed_items: filters, as in :meth:`recommend`.
            candidates: how many nearest items join the co-bought partners as candidates. Default ``max(50, 3k)``.

        Returns:
            ``{"item", "k", "alpha", "items": [{"rank", "item", "score", ..., "reason", "evidence": {"similarity",
            "co_bought_count", "support", "confidence", "lift", "shared_buyers", "shared_category", "path"}}]}``.
        """
        a = self._item(item)
        k = self._k(k)
        alpha = self.alpha if alpha is None else float(alpha)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        mask = self._allowed(category, allowed_items)
        out: dict[str, Any] = {"item": str(item), "k": k, "alpha": alpha, "items": []}
        if k == 0:
            return out
        m = int(candidates or max(50, 3 * k))
        with self._lock:
            near, _ = self.index("similar").search(self.item_unit[a], m, exclude=[a], allowed=mask)
        partners = []
        if self.co:
            cm = self.co_sym
            partners = [cm.indices[cm.indptr[a] : cm.indptr[a + 1]]]
        cand = np.unique(np.concatenate([near.astype(np.int64)] + [np.asarray(p, np.int64) for p in partners]))
        cand = cand[cand != a]
        if mask is not None:
            cand = cand[mask[cand]]
        if len(cand) == 0:
            return out
        sim = self.item_unit[cand] @ self.item_unit[a]
        buyers_a = self.train_csc[:, a]
        n_a = int(buyers_a.nnz)
        shared = np.asarray((self.train_csc[:, cand].T @ buyers_a).todense()).ravel()
        if self.co:
            cnt = np.array([self._co("count_sym", a, int(b)) for b in cand])
            conf = np.array([self._co("confidence", a, int(b)) for b in cand])
        else:
            cnt = np.zeros(len(cand))
            conf = np.zeros(len(cand))
        # without basket evidence for a pair, shared buyers give the count and P(B | A) over buyers
        use_buyers = (cnt <= 0) & (shared > 0)
        ev_cnt = np.where(use_buyers, shared, cnt)
        ev_conf = np.where(use_buyers, shared / max(n_a, 1), conf)
        evidence = ev_conf * ev_cnt / (ev_cnt + SHRINK)
        score = (1.0 - alpha) * np.maximum(sim, 0.0) + alpha * evidence
        order = np.lexsort((cand, -score))[:k]
        cat_a = self._category(a)
        for r, j in enumerate(order, 1):
            b = int(cand[j])
            row = self._item_row(b, r, score[j])
            pe = self._pair_evidence(a, b)
            cat_b = self._category(b)
            shared_cat = cat_a if cat_a is not None and cat_a == cat_b else None
            path = self._path(a, b, pe, int(shared[j]), shared_cat)
            ev = {
                "similarity": _r(sim[j]),
                "co_bought_count": pe["count"] if pe else 0,
                "support": pe["support"] if pe else 0.0,
                "confidence": pe["confidence"] if pe else 0.0,
                "lift": pe["lift"] if pe else 0.0,
                "shared_buyers": int(shared[j]),
                "shared_category": shared_cat,
                "path": path,
            }
            parts = []
            if pe:
                parts.append(
                    f"bought together {pe['count']} times (confidence {pe['confidence']:.0%}, lift {pe['lift']:.1f})"
                )
            if shared[j] > 0:
                parts.append(f"{int(shared[j])} shared {'buyer' if shared[j] == 1 else 'buyers'}")
            parts.append(f"embedding similarity {sim[j]:.2f}")
            if shared_cat:
                parts.append(f"same category {shared_cat}")
            parts.append(f"strongest link: {path['text']}")
            row["reason"] = "; ".join(parts)
            row["evidence"] = ev
            out["items"].append(row)
        return out

    def _path(self, a: int, b: int, pe: dict | None, shared: int, shared_cat: str | None) -> dict[str, Any]:
        ra, rb = str(self.items.raw_ids[a]), str(self.items.raw_ids[b])
        if pe is not None:
            return {
                "type": "co_bought",
                "nodes": [ra, rb],
                "text": f"{ra} -co_bought({pe['count']}x)-> {rb}",
            }
        if shared > 0:
            ua = self.train_csc.indices[self.train_csc.indptr[a] : self.train_csc.indptr[a + 1]]
            ub = self.train_csc.indices[self.train_csc.indptr[b] : self.train_csc.indptr[b + 1]]
            u = int(np.intersect1d(ua, ub)[0])
            ru = str(self.users.raw_ids[u])
            more = f" (+{shared - 1} more shared buyers)" if shared > 1 else ""
            return {
                "type": "shared_buyer",
                "nodes": [ra, ru, rb],
                "text": f"{ra} <-{self.event}- user {ru} -{self.event}-> {rb}{more}",
            }
        if shared_cat is not None:
            return {"type": "shared_category", "nodes": [ra, shared_cat, rb], "text": f"{ra} -in-> {shared_cat} <-in- {rb}"}
        return {"type": "embedding", "nodes": [ra, rb], "text": f"{ra} ~ {rb} (embedding similarity only)"}

    # ------------------------------------------------------------------ cold start
    def embed_new_item(self, attributes: Mapping[str, Any]) -> tuple[np.ndarray, str, str]:
        """Embedding of a new item from its attributes: ``(vector [D], method, note)``; see the module docstring."""
        if not isinstance(attributes, Mapping) or not attributes:
            raise ValueError("cold_start needs a non-empty mapping of item attributes, e.g. {'category': 'Food'}")
        if self.attrs is not None:
            unknown = sorted(set(map(str, attributes)) - set(self.attrs.columns))
            if unknown:
                raise ValueError(
                    f"cold_start: unknown attribute(s) {unknown}; the catalogue has {list(self.attrs.columns)}"
                )
            row = {c: attributes.get(c, None) for c in self.attrs.columns}
            self._imputed = []
            for c in self.attrs.columns:  # a missing number is unknown: use the catalogue's median
                if row[c] is None and pd.api.types.is_numeric_dtype(self.attrs[c]) and self.attrs[c].notna().any():
                    row[c] = self.attrs[c].median()
                    self._imputed.append(str(c))
            df = pd.DataFrame([row], columns=self.attrs.columns)
            for c in self.attrs.columns:  # keep the training dtypes so fitted transformers accept the row
                try:
                    df[c] = df[c].astype(self.attrs[c].dtype)
                except (TypeError, ValueError) as e:
                    raise ValueError(
                        f"cold_start: attribute {c!r}={attributes.get(c)!r} does not fit the catalogue's type "
                        f"{self.attrs[c].dtype}: {e}"
                    ) from None
        else:
            df = pd.DataFrame([dict(attributes)])
        feats = self._item_features(df)
        method, fn = self._cold_start_path()
        with torch.no_grad():
            vec = fn(feats)
        return np.asarray(vec, dtype=np.float32).reshape(-1), method, self._cold_reason

    def _item_features(self, df: pd.DataFrame) -> torch.Tensor:
        encs = self.artifact.feature_encoders or {}
        enc = encs.get(self.item_type)
        if enc is None:
            raise ColdStartUnavailable(
                "this artifact has no fitted item feature encoder (feature_encoders.pkl); cold start needs the "
                "item attributes to be turned into the features the model was trained on: train with item attributes"
            )
        try:
            x = enc.transform(df)  # type: ignore[attr-defined]
        except Exception as e:  # noqa: BLE001 - a bad attribute value is the caller's error; say which
            raise ValueError(f"cold_start: the item feature encoder rejected the attributes {df.iloc[0].to_dict()}: {e}") from e
        if sp.issparse(x):
            x = x.toarray()
        x = torch.as_tensor(np.asarray(x, dtype=np.float32) if not isinstance(x, torch.Tensor) else x).float()
        return x.reshape(1, -1)

    def _cold_start_path(self) -> tuple[str, Any]:
        with self._lock:
            if self._cold is None:
                try:
                    self._cold = ("encoder", self._build_encoder_path())
                    self._cold_reason = "trained encoder on the item's features (isolated new node)"
                except ColdStartUnavailable as e:
                    self._cold = ("ridge", self._build_ridge_path(str(e)))
            return self._cold

    def _build_encoder_path(self) -> Any:
        from hetrec._dgl import dgl  # noqa: PLC0415 - only cold start needs DGL

        meta, state = self.meta, self.artifact.model_state
        need = ("canonical_etypes", "num_nodes", "node_input", "encoder_config")
        missing = [k for k in need if not meta.get(k)]
        if state is None or missing:
            raise ColdStartUnavailable(
                f"the model cannot be rebuilt from this artifact ({'no model.pt' if state is None else ''}"
                f"{', ' if state is None and missing else ''}{'meta.json lacks ' + ', '.join(missing) if missing else ''})"
            )
        try:
            from hydra.utils import instantiate

            from hetrec.models.input import NodeInput
        except ImportError as e:
            raise ColdStartUnavailable(f"cannot import the model classes: {e}") from e
        etypes = [tuple(e) for e in meta["canonical_etypes"]]
        ni = meta["node_input"]
        feat_dims = {k: int(v) for k, v in (meta.get("feat_dims") or {}).items()}
        node_input = NodeInput(meta["num_nodes"], feat_dims, int(ni["dim"]), bool(ni.get("id_embedding", True)))
        in_dims = meta.get("in_dims") or node_input.out_dims
        try:
            encoder = instantiate(meta["encoder_config"], etypes=etypes, in_dims=in_dims, _convert_="all")
        except Exception as e:  # noqa: BLE001
            raise ColdStartUnavailable(f"cannot instantiate encoder_config {meta['encoder_config']}: {e}") from e
        prefixes = {"node_input": node_input, "encoder": encoder}
        for name, mod in prefixes.items():
            sub = {k[len(name) + 1 :]: v for k, v in state.items() if k.startswith(name + ".")}
            if not sub:
                raise ColdStartUnavailable(
                    f"model.pt has no '{name}.*' parameters (keys start with {sorted({k.split('.')[0] for k in state})}); "
                    f"save the state dict of a module with attributes node_input and encoder"
                )
            try:
                mod.load_state_dict(sub, strict=True)
            except RuntimeError as e:
                raise ColdStartUnavailable(f"model.pt does not match the {name} rebuilt from meta.json: {e}") from e
            mod.eval()
        if self.item_type not in node_input.projections:
            raise ColdStartUnavailable(f"the model has no feature projection for '{self.item_type}' (trained without item features)")
        ntypes = sorted({s for s, _, _ in etypes} | {d for _, _, d in etypes})
        item_type, dim = self.item_type, node_input.dim
        empty = torch.zeros(0, dtype=torch.int64)

        def one_node_block() -> Any:
            counts = {nt: int(nt == item_type) for nt in ntypes}
            return dgl.create_block(
                {et: (empty, empty) for et in etypes}, num_src_nodes=counts, num_dst_nodes=counts
            )

        def embed(feats: torch.Tensor) -> np.ndarray:
            x = {nt: torch.zeros(0, dim) for nt in ntypes}
            x[item_type] = node_input.embed_features(item_type, feats)
            blocks = [one_node_block() for _ in range(encoder.num_layers)]
            vec = encoder(blocks, x)[item_type][0].detach().numpy()
            # objective.item_bias: a new product has no learned popularity term yet; it gets the catalogue's mean
            return np.append(vec, bias).astype(np.float32) if bias is not None else vec

        bias = float(self.item_emb[:, -1].mean()) if self.meta.get("item_bias") else None

        return embed

    def _build_ridge_path(self, why: str) -> Any:
        feats = (self.artifact.features or {}).get(self.item_type)
        if feats is None:
            raise ColdStartUnavailable(f"{why}; and the ridge fallback needs item features (features.pt), absent too")
        from sklearn.linear_model import Ridge

        x = feats.detach().float().numpy()
        y = self.item_emb
        if len(x) > 200_000:
            rows = np.random.default_rng(0).choice(len(x), 200_000, replace=False)
            x, y = x[rows], y[rows]
        reg = Ridge(alpha=1.0).fit(x, y)
        self._cold_reason = f"ridge regression from item features to embeddings (encoder path unavailable: {why})"
        return lambda f: reg.predict(f.numpy())

    def cold_start(self, attributes: Mapping[str, Any], k: int = 10, k_users: int | None = None) -> dict[str, Any]:
        """A new product from its attributes alone: the items it resembles and the users most likely to want it.

        Args:
            attributes: the new item's attributes, by the catalogue's column names (e.g. ``{"category":
                "Food>Dairy", "brand": "Acme", "price": 2.5}``); missing columns are treated as unknown values.
            k: number of similar items. k_users: number of users (default ``k``).
            Numeric attributes left out are filled with the catalogue's median (listed in ``imputed_with_median``).

        Returns:
            ``{"method": "encoder"|"ridge", "method_note", "attributes", "similar": [...], "users": [{"rank", "user",
            "score", "reason"}]}``.
        """
        k = self._k(k)
        k_users = k if k_users is None else self._k(k_users)
        with self._lock:  # _imputed is per call
            vec, method, note = self.embed_new_item(attributes)
            imputed = list(getattr(self, "_imputed", []))
        if not np.isfinite(vec).all():
            raise ValueError(f"cold_start produced a non-finite embedding for {dict(attributes)}")
        unit = _unit(vec)
        with self._lock:
            ids, scores = self.index("similar").search(unit, k)
        similar = []
        for r, (j, s) in enumerate(zip(ids.tolist(), scores.tolist()), 1):
            row = self._item_row(j, r, s)
            row["reason"] = f"similarity {s:.2f} to the new product's embedding"
            similar.append(row)
        item_q = unit if self.scorer == "cosine" else vec
        us = self._user_query @ item_q
        k_users = min(k_users, len(us))
        top = np.argpartition(-us, k_users - 1)[:k_users] if 0 < k_users < len(us) else np.arange(k_users)
        top = top[np.lexsort((top, -us[top]))]
        users = []
        for r, u in enumerate(top.tolist(), 1):
            hist = self.train.indices[self.train.indptr[u] : self.train.indptr[u + 1]]
            reason = f"predicted score {us[u]:.2f}"
            if len(hist) and len(ids):
                s = self.item_unit[hist] @ unit
                h = int(hist[int(np.argmax(s))])
                reason += f"; {self.verb} {self._label(h)} (similarity {float(s.max()):.2f} to the new product)"
            users.append({"rank": r, "user": str(self.users.raw_ids[u]), "score": _r(us[u]), "reason": reason})
        return {
            "method": method,
            "method_note": note,
            "imputed_with_median": imputed,
            "attributes": {str(a): (v.item() if hasattr(v, "item") else v) for a, v in attributes.items()},
            "similar": similar,
            "users": users,
        }

    # ------------------------------------------------------------------ profile
    def _category_centroids(self) -> tuple[np.ndarray, np.ndarray]:
        if self._cat_centroids is None:
            codes, names = pd.factorize(np.where(self.categories == "", None, self.categories))  # "": no category
            ok = codes >= 0
            c = np.zeros((len(names), self.item_unit.shape[1]), dtype=np.float64)
            np.add.at(c, codes[ok], self.item_unit[ok])
            self._cat_centroids = (np.asarray(names, dtype=object), _unit(c))
        return self._cat_centroids

    def _dominant_category(self, members: np.ndarray) -> dict[str, Any]:
        """The most frequent category among ``members`` (ties: alphabetically first; items without one are not
        counted) and its share of the members: ``{"dominant_category", "dominant_share"}``, ``None``/0.0 if none."""
        cats = self.categories[members]
        names, counts = np.unique(cats[cats != ""].astype(str), return_counts=True)
        if not len(names):
            return {"dominant_category": None, "dominant_share": 0.0}
        j = int(np.argmax(counts))
        return {"dominant_category": str(names[j]), "dominant_share": _r(counts[j] / len(members), 3)}

    def profile(self, user: object, top: int = 5, n_clusters: int = 3) -> dict[str, Any]:
        """What a known user is into: top categories and attributes of their history, and interest clusters.

        Interest clusters: k-means (``min(n_clusters, distinct history items)`` clusters) on the unit embeddings of
        the user's training items; each cluster names its items closest to the centre (``items``), its dominant
        category (the most frequent among its members, ``dominant_category`` with ``dominant_share``), the category
        of the whole catalogue whose centroid is nearest to the centre (``nearest_category``), and the catalogue items
        nearest to the centre that the user does not have yet (``suggestions``). A cluster's ``label`` is its dominant
        category, or its most central item when its members have no category.

        Returns:
            ``{"user", "history_size", "top_categories", "attributes", "clusters", "nearest_categories"}``.
        """
        u = self._user(user)
        if u is None:
            raise UnknownIdError("user", user, len(self.users))
        hist = self.train.indices[self.train.indptr[u] : self.train.indptr[u + 1]].astype(np.int64)
        out: dict[str, Any] = {"user": str(user), "history_size": int(len(hist)), "top_categories": [],
                               "attributes": {}, "clusters": [], "nearest_categories": []}
        if self.categories is not None and len(hist):
            vc = pd.Series(self.categories[hist]).replace("", np.nan).dropna().value_counts()
            out["top_categories"] = [
                {"category": str(c), "count": int(n), "share": _r(n / len(hist), 3)} for c, n in vc.head(top).items()
            ]
        if self.attrs is not None and len(hist):
            sub = self.attrs.iloc[hist]
            for col in self.attrs.columns:
                if col in ("category", "name", "title"):
                    continue
                s = sub[col].dropna()
                if len(s) == 0:
                    continue
                if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                    out["attributes"][col] = {"mean": _r(s.mean(), 3), "median": _r(s.median(), 3),
                                              "min": _r(s.min(), 3), "max": _r(s.max(), 3)}
                elif self.attrs[col].nunique() <= max(50, len(self.attrs) // 2):
                    vc = s.astype(str).value_counts().head(top)
                    out["attributes"][col] = [{"value": v, "count": int(n)} for v, n in vc.items()]
        if len(hist):
            from sklearn.cluster import KMeans

            x = self.item_unit[hist]
            nc = int(min(n_clusters, len(np.unique(x.round(6), axis=0))))
            labels = np.zeros(len(hist), dtype=int) if nc <= 1 else KMeans(nc, n_init=4, random_state=0).fit_predict(x)
            cat_names, cat_cent = self._category_centroids() if self.categories is not None else (None, None)
            for c in range(max(nc, 1)):
                members = hist[labels == c]
                if len(members) == 0:
                    continue
                centre = _unit(self.item_unit[members].mean(axis=0))
                closeness = self.item_unit[members] @ centre
                rep = members[np.argsort(-closeness, kind="stable")[:3]]
                cl: dict[str, Any] = {"size": int(len(members)), "share": _r(len(members) / len(hist), 3),
                                      "items": [str(self.items.raw_ids[i]) for i in rep]}
                if self.categories is not None:
                    cl.update(self._dominant_category(members))
                    near = int(np.argmax(cat_cent @ centre)) if len(cat_names) else None
                    cl["nearest_category"] = None if near is None else str(cat_names[near])
                with self._lock:
                    nxt, _ = self.index("similar").search(centre, 3, exclude=hist)
                cl["suggestions"] = [str(self.items.raw_ids[i]) for i in nxt]
                cl["label"] = cl.get("dominant_category") or self._label(int(rep[0]))
                out["clusters"].append(cl)
            out["clusters"].sort(key=lambda c: -c["size"])
        if self.categories is not None:
            names, cent = self._category_centroids()
            q = _unit(self.item_unit[hist].mean(axis=0)) if len(hist) else None
            if q is not None:
                s = cent @ q
                order = np.argsort(-s, kind="stable")[:top]
                out["nearest_categories"] = [{"category": str(names[i]), "similarity": _r(s[i])} for i in order]
        return out

    # ------------------------------------------------------------------ info
    def info(self) -> dict[str, Any]:
        """What is loaded (for ``/health``)."""
        return {
            "dataset": self.meta.get("dataset"),
            "encoder": self.meta.get("encoder"),
            "scorer": self.scorer,
            "target": [self.user_type, self.event, self.item_type],
            "num_users": len(self.users),
            "num_items": len(self.items),
            "dim": int(self.item_emb.shape[1]),
            "index": {s: ix.describe() for s, ix in self._indexes.items()} or {"kind": self.index_kind},
            "co_bought_pairs": int(self.co["count"].nnz) if self.co else 0,
            "has_model": self.artifact.model_state is not None,
            "max_k": self.max_k,
        }


Recommender = ServingModel
"""Alias: the serving stage's recommender is a :class:`ServingModel`."""
