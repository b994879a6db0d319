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
    - ``cold_start``: a new item's embedding from its attributes alone (:mod:`hetrec.serve.cold_start`).

Modules: :mod:`~hetrec.serve.evidence` (artifact folder, checks, training/co-purchase evidence),
:mod:`~hetrec.serve.explain` (reasons and evidence of every returned item), :mod:`~hetrec.serve.cold_start`,
:mod:`~hetrec.serve.profile`; recommend, similar and associations live here. Nothing a request computes is stored on
the instance (requests run concurrently); the only shared mutable state is built once under a lock (indexes, the
cold-start path, category centroids) or is a bounded cache of category masks guarded by the same lock.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hetrec.serve.cold_start import ColdStart
from hetrec.serve.errors import UnknownIdError
from hetrec.serve.evidence import (
    EVENT_VERBS,
    SHRINK,
    Evidence,
    check_artifact,
    resolve_artifact_dir,
    unit,
    user_query,
)
from hetrec.serve.explain import explain_association, explain_recs, explain_similar, item_row
from hetrec.serve.index import AUTO_ANN, BUILD_DEFAULTS, INDEX_KINDS, ItemIndex, build_index
from hetrec.serve.profile import Profiles
from hetrec.serve.table import DEFAULT_TABLE_K, TopTable, array_hash, cached_array
from hetrec.train.artifact import Artifact

__all__ = ["ServingModel", "resolve_artifact_dir", "EVENT_VERBS", "SHRINK"]


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
        table_k: size ``K`` of the precomputed top-K of known users (:class:`~hetrec.serve.table.TopTable`, built by
            :meth:`warm_up`); unfiltered user requests search ``max(k, K)`` items whether or not the table is built,
            so the table and the live path answer alike. 0: no table. Default 50.

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
        table_k: int = DEFAULT_TABLE_K,
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
        check_artifact(artifact, self.user_type, self.item_type)
        self.users = artifact.idmaps[self.user_type]
        self.items = artifact.idmaps[self.item_type]
        # hash indexes for one-id lookups (IdMap.to_internal builds an Index per call: fine for batches, slow per id)
        self._user_index = pd.Index(self.users.raw_ids)
        self._item_index = pd.Index(self.items.raw_ids)
        # float32 embeddings stay views of the (memory-mapped) artifact tensors; derived vectors are read from the
        # cache folder memory-mapped, so server processes share one copy (see hetrec.serve.table)
        self.item_emb = artifact.embeddings[self.item_type].detach().cpu().float().numpy()
        self.user_emb = artifact.embeddings[self.user_type].detach().cpu().float().numpy()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.scorer = str(self.meta.get("scorer", "dot"))
        self.item_unit = cached_array(self.cache_dir, "item_unit", array_hash(self.item_emb),
                                      lambda: unit(self.item_emb))
        self.index_kind = index
        self.auto_threshold = int(auto_threshold)
        self.index_options = dict(index_options or {})
        self.alpha = float(alpha)
        self.max_k = int(max_k)
        self.table_k = max(0, int(table_k))
        self.table: TopTable | None = None
        uq = lambda: user_query(artifact, self.scorer, self.event, self.user_emb, self.item_emb.shape[1])  # noqa: E731
        self.user_query = uq() if self.scorer == "dot" else cached_array(
            self.cache_dir, f"user_query_{self.scorer}", array_hash(self.user_emb, extra=self.event), uq)
        self.evidence = Evidence.from_artifact(artifact, len(self.users), len(self.items))
        ev = self.evidence  # public names of the evidence (report.py, api.py)
        self.train, self.train_csc, self.popularity = ev.train, ev.train_csc, ev.popularity
        self.co, self.co_sym = ev.co, ev.co_sym
        self.attrs, self.categories, self.names = ev.attrs, ev.categories, ev.names
        # the list of users without history: train.new_users' choice when the artifact has one (recent sales, ...),
        # else most popular first; ties by popularity, then internal id
        self.new_user_scores = artifact.new_user_scores
        first = -self.popularity.astype(np.float64) if self.new_user_scores is None else \
            -np.asarray(self.new_user_scores, dtype=np.float64)
        # recency-weighted sales behind that list, for the explanation (train.new_users=recent:<half-life>)
        self.recent = self.new_user_scores if str(self.meta.get("new_users") or "").startswith("recent") else None
        self._pop_order = np.lexsort((np.arange(len(self.popularity)), -self.popularity.astype(np.float64), first))
        self._indexes: dict[str, ItemIndex] = {}
        self._lock = threading.RLock()  # guards the lazily built indexes and the category-mask cache
        self._cat_masks: dict[str, np.ndarray] = {}
        self._index_names: dict[tuple[str, str], tuple[str, str]] = {}
        self._cold_start = ColdStart(self)
        self._profiles = Profiles(self)

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

    # ------------------------------------------------------------------ indexes
    def index(self, space: str = "similar") -> ItemIndex:
        """The retrieval index of one space: ``"similar"`` (unit item vectors) or ``"recommend"`` (scorer's space).

        Built at first use (or read from the cache folder) and kept.
        """
        if space == "recommend" and self.scorer == "cosine":
            space = "similar"
        ix = self._indexes.get(space)
        if ix is not None:
            return ix
        with self._lock:
            if space not in self._indexes:
                vec = self.item_unit if space == "similar" else self.item_emb
                kind, key = self._index_name(space)
                cache = self.cache_dir / f"{key}.faiss" if self.cache_dir is not None and kind != "exact" else None
                self._indexes[space] = build_index(vec, kind=kind, cache_path=cache, **self.index_options)
            return self._indexes[space]

    def _index_name(self, space: str) -> tuple[str, str]:
        """``(kind, name)`` of a space's index; the name holds the build options and a hash of the vectors."""
        key = (space, self.index_kind)
        with self._lock:
            if key not in self._index_names:
                vec = self.item_unit if space == "similar" else self.item_emb
                kind = self.index_kind
                if kind == "auto":
                    kind = "exact" if len(vec) < self.auto_threshold else AUTO_ANN
                h = hashlib.sha1(np.ascontiguousarray(vec).view(np.uint8)).hexdigest()[:16]
                build = {**BUILD_DEFAULTS.get(kind, {}), **self.index_options}
                opts = "_".join(f"{k}{build[k]}" for k in sorted(BUILD_DEFAULTS.get(kind, {})))
                self._index_names[key] = (kind, f"{kind}_{space}_{opts}_{h}")
            return self._index_names[key]

    def index_key(self, space: str) -> str:
        """The cache name of a space's index (kind, build options, hash of the vectors)."""
        if space == "recommend" and self.scorer == "cosine":
            space = "similar"
        return self._index_name(space)[1]

    def search(self, space: str, query: np.ndarray, k: int, exclude: Any = None,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` of one space's index (see :meth:`index` and :meth:`hetrec.serve.index.ItemIndex.search`)."""
        return self.index(space).search(query, k, exclude=exclude, allowed=allowed)

    def warm_up(self, table: bool = True) -> ServingModel:
        """Build (or read) the indexes now instead of at the first request, and the top-K table of known users
        (``table=True`` and ``table_k > 0``)."""
        self.index("similar")
        if self.scorer != "cosine":
            self.index("recommend")
        if table and self.table_k > 0 and self.table is None and len(self.users):
            self.table = TopTable.build(self, self.table_k, self.cache_dir)
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

    def _category_mask(self, category: str) -> np.ndarray:
        with self._lock:
            mask = self._cat_masks.get(category)
        if mask is not None:
            return mask
        cats = pd.Series(self.categories, dtype="string")
        mask = ((cats == category) | cats.str.startswith(f"{category}>")).to_numpy(dtype=bool)
        if not mask.any():
            raise UnknownIdError("category", category, len(set(self.categories)))
        with self._lock:
            if len(self._cat_masks) >= 64:  # a small cache: one mask per recently asked category
                self._cat_masks.pop(next(iter(self._cat_masks)))
            self._cat_masks[category] = mask
        return mask

    def _allowed(self, category: str | None, allowed_items: Iterable[object] | None) -> np.ndarray | None:
        mask = None
        if category:
            if self.categories is None:
                raise ValueError("category filter given but the artifact has no item category attribute")
            mask = self._category_mask(category)
        if allowed_items is not None:
            ids = self.items.to_internal(list(allowed_items), missing="ignore")
            allow = np.zeros(len(self.items), dtype=bool)
            allow[ids[ids >= 0]] = True  # ids unknown to the model (new stock) cannot be ranked and are skipped
            mask = allow if mask is None else mask & allow
        return mask

    def _item_row(self, i: int, rank: int, score: float) -> dict[str, Any]:
        return item_row(self, i, rank, score)

    def _co(self, field: str, a: int, b: int) -> float:
        return self.evidence.co_value(field, a, b)

    def _pair_evidence(self, a: int, b: int) -> dict[str, Any] | None:
        return self.evidence.pair(a, b)

    # ------------------------------------------------------------------ capabilities
    def popular(
        self, k: int = 10, category: str | None = None, allowed_items: Iterable[object] | None = None,
        exclude: Sequence[int] = (),
    ) -> list[dict[str, Any]]:
        """The ``k`` most popular items, with filters; raw ids. Popular means the list chosen on validation for
        users without history (``train.new_users``: e.g. sales weighted towards the latest weeks) when the artifact
        has one, else training interactions per item."""
        k = self._k(k)
        mask = self._allowed(category, allowed_items)
        pop = self.popularity
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
            if self.recent is not None:
                row["reason"] += f", {self.recent[i]:.1f} lately (weighted by recency)"
                row["evidence"]["recent_popularity"] = round(float(self.recent[i]), 3)
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
        explain: bool = True,
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
            explain: add ``reason`` and ``evidence`` to every item. Default ``True``.

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
            q = unit(self.item_unit[hist].mean(axis=0))
            ids, scores = self.search("similar", q, k, exclude=hist if exclude_seen else None, allowed=mask)
            out["method"] = "history"
        else:
            u = self._user(user)
            hist = None if u is None else self.evidence.history(u)
            if u is None or (len(hist) == 0 and self.new_user_scores is not None):
                # unknown, or known without history and train.new_users chose a list for them on validation
                out.update(method="popular", fallback="popular", items=self.popular(k, category, allowed_items))
                return out
            if mask is None and exclude_seen and k <= self.table_k:
                # the precomputed top-K, or the same search it was built with (max(k, K) items, first k kept)
                if self.table is not None:
                    ids, scores, links = self.table.get(u, k)
                    out.update(method="user_embedding", items=explain_recs(self, ids, scores, hist, explain, links))
                    return out
                ids, scores = self.search("recommend", self.user_query[u], self.table_k, exclude=hist)
                ids, scores = ids[:k], scores[:k]
            else:
                ids, scores = self.search("recommend", self.user_query[u], k,
                                          exclude=hist if exclude_seen else None, allowed=mask)
            out["method"] = "user_embedding"
        out["items"] = explain_recs(self, ids, scores, hist, explain=explain)
        return out

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
        ids, scores = self.search("similar", self.item_unit[i], k, exclude=[i], allowed=mask)
        return {"item": str(item), "k": k, "items": explain_similar(self, i, ids, scores)}

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
        near, _ = self.search("similar", self.item_unit[a], m, exclude=[a], allowed=mask)
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
        for r, j in enumerate(order, 1):
            out["items"].append(explain_association(self, a, int(cand[j]), r, score[j], sim[j], int(shared[j])))
        return out

    # ------------------------------------------------------------------ cold start and profiles
    def embed_new_item(self, attributes: Mapping[str, Any]) -> tuple[np.ndarray, str, str]:
        """Embedding of a new item from its attributes: ``(vector [D], method, note)``; see
        :mod:`hetrec.serve.cold_start`."""
        vec, method, note, _ = self._cold_start.embed(attributes)
        return vec, method, note

    def cold_start(self, attributes: Mapping[str, Any], k: int = 10, k_users: int | None = None) -> dict[str, Any]:
        """A new product from its attributes alone: the items it resembles and the users most likely to want it.

        Args:
            attributes: the new item's attributes, by the catalogue's column names (e.g. ``{"category":
                "Food>Dairy", "brand": "Acme", "price": 2.5}``); missing columns are treated as unknown values.
            k: number of similar items. k_users: number of users (default ``k``).
            Numeric attributes left out are filled with the catalogue's median (listed in ``imputed_with_median``).

        Returns:
            ``{"method": "encoder"|"ridge", "method_note", "imputed_with_median", "attributes", "similar": [...],
            "users": [{"rank", "user", "score", "reason"}]}``.
        """
        k = self._k(k)
        return self._cold_start.answer(attributes, k, k if k_users is None else self._k(k_users))

    def profile(self, user: object, top: int = 5, n_clusters: int = 3) -> dict[str, Any]:
        """What a known user is into: top categories and attributes of their history, and interest clusters (see
        :mod:`hetrec.serve.profile`).

        Returns:
            ``{"user", "history_size", "top_categories", "attributes", "clusters", "nearest_categories"}``.
        """
        return self._profiles.profile(user, top=top, n_clusters=n_clusters)

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
            "index": {s: ix.describe() for s, ix in dict(self._indexes).items()} or {"kind": self.index_kind},
            "co_bought_pairs": int(self.co["count"].nnz) if self.co else 0,
            "has_model": self.artifact.model_state is not None,
            "max_k": self.max_k,
            "table": None if self.table is None else {"users": len(self.users), "k": self.table.k},
        }


def __getattr__(name: str) -> Any:
    if name == "Recommender":  # the baselines' interface is hetrec.evaluate.baselines.Recommender
        warnings.warn("hetrec.serve.model.Recommender is renamed ServingModel (Recommender names the baselines' "
                      "interface, hetrec.evaluate.baselines.Recommender)", DeprecationWarning, stacklevel=2)
        return ServingModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
