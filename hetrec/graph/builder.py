"""`GraphBuilder`: a `ShopData` log -> a typed, leak-free DGL heterograph (`GraphData`)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from hetrec._dgl import dgl
from hetrec.data.idmap import IdMap
from hetrec.data.shop import ShopData
from hetrec.errors import ConfigError
from hetrec.graph.co_bought import CO_BOUGHT_KEYS, basket_matrix, co_occurrence
from hetrec.graph.data import GraphData
from hetrec.graph.features import encode_node_features, value_str
from hetrec.graph.options import check_options, section
from hetrec.graph.schema import (
    CATEGORY,
    CO_BOUGHT,
    IN_CATEGORY,
    ITEM,
    USER,
    GraphSchema,
    reverse_name,
    unknown_target_message,
)
from hetrec.graph.splits import split_interactions

log = logging.getLogger("hetrec.graph")

class GraphBuilder:
    """Builds the typed, leak-free heterograph of a shop log (the graph stage).

    One relation ``("user", <event>, "item")`` per event type from the **training** interactions (duplicate
    (user, item) pairs collapse into one edge with ``weight`` = sum/count/mean/max of the row weights and ``count``),
    ``("item", "co_bought", "item")`` from the training baskets (sparse co-occurrence; ``count``, ``support``,
    ``confidence``, ``lift`` edata; top-k per item), optional ``("item", "in", "category")`` from the item attribute
    ``category`` (a path ``"A>B>C"``: the leaf category node, optionally also its ancestors), and a reverse relation
    ``rev_<r>`` for each whose edge ``k`` is forward edge ``k`` reversed. Node features come from the attribute tables
    (`hetrec.graph.features`). Validation and test pairs and all their interactions are held out
    (`hetrec.graph.splits`).

    Configured by ``conf/graph/default.yaml`` (``_target_: hetrec.graph.builder.GraphBuilder``).

    Args:
        target: the predicted event (default ``None``: the dataset's target in `load_or_build`, or the only event).
        split: ``{strategy: auto|random|leave_last|global_time|given|cold_items, valid_ratio: 0.1, test_ratio: 0.2,
            seed: 0, cut_time: None, valid_cut_time: None, cold_share: 0.1, cold_valid_share: 0.5}``.
        co_bought: ``{enabled: True, min_count: 2, min_support: 0.0, min_lift: 1.0, top_k: 20,
            weight: confidence|lift|support|count, max_basket_size: None}``.
        categories: ``{enabled: True, parents: False, column: "category", separator: ">"}`` or a bool.
        reverse: add a reverse relation for every relation (default ``True``).
        edge_weight: how duplicate rows of a pair combine into ``weight``: sum|count|mean|max (default ``sum``).
        features: ``{enabled: True, text: hash|tfidf_svd, text_dim: 64, max_categories: 256,
            tfidf_max_features: 50000}``.
        missing_items: interactions naming items outside the catalogue ``[0, num_items)``: ``error`` (default) or
            ``drop`` (counted in ``GraphData.info["dropped_missing_items"]``). Datasets already apply their own
            ``dataset.missing_items`` policy against the item table; this guards hand-made `ShopData`.
        events: the events that become user-item relations (default ``None``: every event of the log); the target
            is always one. Rows of the other events still form baskets (co_bought). E.g. ``graph.events=[clicks]``
            for the target relation alone (the heterogeneity ablation).
    """

    def __init__(
        self,
        target: str | None = None,
        split: Mapping[str, Any] | None = None,
        co_bought: Mapping[str, Any] | bool | None = None,
        categories: Mapping[str, Any] | bool | None = None,
        reverse: bool = True,
        edge_weight: str = "sum",
        features: Mapping[str, Any] | bool | None = None,
        missing_items: str = "error",
        events: Sequence[str] | None = None,
    ) -> None:
        self.target = None if target is None else str(target)
        self.events = None if events is None else [str(e) for e in events]
        self.split = section("split", split)
        self.co_bought = section("co_bought", co_bought)
        self.categories = section("categories", categories)
        self.features = section("features", features)
        self.reverse = bool(reverse)
        self.edge_weight = str(edge_weight)
        self.missing_items = str(missing_items)
        self._validate()

    # ------------------------------------------------------------------ config
    def _validate(self) -> None:
        check_options(self.split, self.co_bought, self.features, self.target, self.edge_weight, self.missing_items)

    def config(self) -> dict[str, Any]:
        """The full configuration (defaults filled in), JSON-able."""
        return {
            "target": self.target,
            "split": {
                k: v for k, v in self.split.items() if self.split["strategy"] == "cold_items" or k[:5] != "cold_"
            },
            "co_bought": dict(self.co_bought),
            "categories": dict(self.categories),
            "reverse": self.reverse,
            "edge_weight": self.edge_weight,
            "features": dict(self.features),
            "missing_items": self.missing_items,
            **({"events": list(self.events)} if self.events is not None else {}),  # absent: cache keys unchanged
        }

    def config_hash(self) -> str:
        """Short hash of `config` (part of the graph cache key)."""
        blob = json.dumps(self.config(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def with_target(self, target: str) -> GraphBuilder:
        """A copy of this builder predicting ``target``."""
        cfg = self.config()
        cfg["target"] = target
        return GraphBuilder(**cfg)

    def __repr__(self) -> str:
        return f"GraphBuilder({json.dumps(self.config(), sort_keys=True, default=str)})"

    # ------------------------------------------------------------------ build
    def resolve_target(self, shop: ShopData) -> str:
        events = [str(e) for e in shop.events]
        if self.target is None:
            if len(events) == 1:
                return events[0]
            raise ConfigError(
                f"no target relation given and dataset {shop.name!r} has several events ({', '.join(events)}); "
                "set dataset.target=<event> or graph.target=<event>, "
                f"e.g. graph.target={events[0] if events else 'clicks'}"
            )
        if self.target not in events:
            raise ConfigError(unknown_target_message(self.target, events))
        return self.target

    def build(self, shop: ShopData) -> GraphData:
        """Build the graph of ``shop``.

        Returns:
            `GraphData` with the training heterograph, node features, the split pairs and the co-bought evidence.

        Shapes:
            shop: N interaction rows, U users, I items -> graph with U user and I item nodes (plus C category nodes),
            one edge per distinct training (user, item) pair per event; features[ntype]: [num_nodes, D] float32;
            splits[split]: two int64 tensors [P_split]; train_baskets: [B, I].
        """
        t_all = time.perf_counter()
        times: dict[str, float] = {}
        t = time.perf_counter()
        df = shop.interactions
        info: dict[str, Any] = {"rows": int(len(df))}
        if len(df) == 0:
            raise ConfigError(f"dataset {shop.name!r} has no interactions; nothing to build a graph from")
        U, I = shop.num_users, shop.num_items
        target = self.resolve_target(shop)
        df = self._check_ids(shop, df, info)
        # the Series itself: an Arrow-backed string column factorizes without a copy into Python strings
        ev_codes, ev_names = pd.factorize(df["event"])
        ev_names = ev_names.to_numpy(dtype=object)
        events = [str(e) for e in ev_names]
        if self.events is not None:
            unknown = sorted(set(self.events) - set(events))
            if unknown:
                raise ConfigError(
                    f"graph.events names {unknown}, which dataset {shop.name!r} does not have (events: {events}); "
                    f"set graph.events to some of them or graph.events=null for all"
                )
        rel_events = [e for e in events if self.events is None or e == target or e in self.events]
        has_baskets = bool((df["basket"].to_numpy() >= 0).any())
        cat_cfg = self.categories
        use_categories = bool(
            cat_cfg["enabled"] and shop.item_attrs is not None and cat_cfg["column"] in shop.item_attrs.columns
        )
        schema = GraphSchema(
            tuple(rel_events),
            target,
            co_bought=bool(self.co_bought["enabled"] and has_baskets),
            categories=use_categories,
            reverse=self.reverse,
        )
        times["check"] = time.perf_counter() - t

        # ---- split: held-out pairs and the rows that may enter the graph
        t = time.perf_counter()
        s = self.split
        split = split_interactions(
            df, I, target, strategy=str(s["strategy"]), valid_ratio=float(s["valid_ratio"]),
            test_ratio=float(s["test_ratio"]), seed=int(s["seed"] or 0), cut_time=s["cut_time"],
            valid_cut_time=s["valid_cut_time"], has_time=shop.has_time, event_codes=(ev_codes, ev_names),
            dataset=shop.name, cold_share=float(s["cold_share"]), cold_valid_share=float(s["cold_valid_share"]),
        )
        keep = split.keep_rows
        times["split"] = time.perf_counter() - t

        # ---- one relation per event from the kept rows
        t = time.perf_counter()
        users = df["user"].to_numpy(np.int64)
        items = df["item"].to_numpy(np.int64)
        weights = df["weight"].to_numpy(np.float64)
        timestamps = df["timestamp"].to_numpy(np.int64)
        edges: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = {}
        edata: dict[tuple[str, str, str], dict[str, torch.Tensor]] = {}
        for k, e in enumerate(events):
            if e not in rel_events:
                continue
            sel = keep & (ev_codes == k)
            # the target's pairs also keep when they last happened (recency of popularity, hetrec.train.recency)
            last = e == target and shop.has_time
            src, dst, w, n, lt = _dedup(users[sel], items[sel], weights[sel], I, self.edge_weight,
                                        timestamps[sel] if last else None)
            et = (USER, e, ITEM)
            edges[et] = (src, dst)
            edata[et] = {"weight": torch.from_numpy(w.astype(np.float32)), "count": torch.from_numpy(n)}
            if lt is not None:
                edata[et]["last_time"] = torch.from_numpy(lt)
        times["relations"] = time.perf_counter() - t

        # ---- co_bought from the training baskets
        t = time.perf_counter()
        train_baskets = None
        co = None
        if has_baskets:
            c = self.co_bought
            X, _ = basket_matrix(
                df["basket"].to_numpy(np.int64)[keep], items[keep], I,
                None if c["max_basket_size"] is None else int(c["max_basket_size"]),
            )
            train_baskets = X
            info["train_baskets"] = int(X.shape[0])
            if schema.co_bought:
                stats = co_occurrence(
                    X, min_count=int(c["min_count"]), min_support=float(c["min_support"]),
                    min_lift=float(c["min_lift"]), top_k=None if c["top_k"] is None else int(c["top_k"]),
                )
                co = {k: stats[k] for k in CO_BOUGHT_KEYS}
                et = (ITEM, CO_BOUGHT, ITEM)
                edges[et] = (co["src"], co["dst"])
                edata[et] = {
                    "weight": torch.from_numpy(np.asarray(co[c["weight"]], dtype=np.float32)),
                    "count": torch.from_numpy(co["count"].astype(np.int64)),
                    "support": torch.from_numpy(co["support"].astype(np.float32)),
                    "confidence": torch.from_numpy(co["confidence"].astype(np.float32)),
                    "lift": torch.from_numpy(co["lift"].astype(np.float32)),
                }
                if len(co["src"]) == 0:
                    log.warning(
                        "%s: no item pair passes the co_bought filters (min_count=%s, min_support=%s, min_lift=%s); "
                        "the co_bought relation is empty", shop.name, c["min_count"], c["min_support"], c["min_lift"],
                    )
        times["co_bought"] = time.perf_counter() - t

        # ---- item -> category
        t = time.perf_counter()
        idmaps: dict[str, IdMap] = {USER: shop.users, ITEM: shop.items}
        num_nodes = {USER: U, ITEM: I}
        if use_categories:
            assert shop.item_attrs is not None
            c_src, c_dst, cat_names = _category_edges(
                shop.item_attrs[cat_cfg["column"]], str(cat_cfg["separator"]), bool(cat_cfg["parents"])
            )
            et = (ITEM, IN_CATEGORY, CATEGORY)
            edges[et] = (c_src, c_dst)
            edata[et] = {"weight": torch.ones(len(c_src), dtype=torch.float32)}
            idmaps[CATEGORY] = IdMap(cat_names, name=CATEGORY)
            num_nodes[CATEGORY] = len(cat_names)
        times["categories"] = time.perf_counter() - t

        # ---- heterograph with reverses (reverse edge k == forward edge k reversed)
        t = time.perf_counter()
        data_dict: dict[tuple[str, str, str], tuple[torch.Tensor, torch.Tensor]] = {}
        all_edata: dict[tuple[str, str, str], dict[str, torch.Tensor]] = {}
        for (s_, r, d) in schema.forward_etypes:
            src, dst = edges[(s_, r, d)]
            ts_, td_ = torch.from_numpy(np.ascontiguousarray(src)), torch.from_numpy(np.ascontiguousarray(dst))
            data_dict[(s_, r, d)] = (ts_, td_)
            all_edata[(s_, r, d)] = edata[(s_, r, d)]
            if self.reverse:
                data_dict[(d, reverse_name(r), s_)] = (td_, ts_)
                all_edata[(d, reverse_name(r), s_)] = edata[(s_, r, d)]
        g = dgl.heterograph(data_dict, num_nodes_dict=num_nodes, idtype=torch.int64)
        for et, feats in all_edata.items():
            for key, val in feats.items():
                g.edges[et].data[key] = val
        times["graph"] = time.perf_counter() - t

        # ---- node features
        t = time.perf_counter()
        features: dict[str, torch.Tensor] = {}
        encoders: dict[str, object] = {}
        f = self.features
        if f["enabled"]:
            features, encoders = encode_node_features(
                {USER: shop.user_attrs, ITEM: shop.item_attrs}, shop.attr_kinds, text=str(f["text"]),
                text_dim=int(f["text_dim"]), max_categories=int(f["max_categories"]),
                tfidf_max_features=int(f["tfidf_max_features"]), seed=int(s["seed"] or 0),
            )
        times["features"] = time.perf_counter() - t

        tsrc, tdst = data_dict[schema.target_etype]
        splits = {
            "train": (tsrc, tdst),
            "valid": tuple(torch.from_numpy(a) for a in split.valid),
            "test": tuple(torch.from_numpy(a) for a in split.test),
        }
        if split.strategy == "cold_items":  # the held-out pairs of the validation and test launches
            for k in ("cold_valid", "cold_test"):
                splits[k] = tuple(torch.from_numpy(a) for a in getattr(split, k))
        info.update(
            split=split.info,
            split_params=split.params,
            edges={f"{a},{b},{c}": int(g.num_edges((a, b, c))) for a, b, c in g.canonical_etypes},
            nodes={nt: int(g.num_nodes(nt)) for nt in g.ntypes},
            feature_dims={k: int(v.shape[1]) for k, v in features.items()},
            seconds={k: round(v, 4) for k, v in times.items()},
        )
        info["seconds"]["total"] = round(time.perf_counter() - t_all, 4)
        log.info(
            "graph %s: %s; split %s (%s) train/valid/test pairs %s; %.2fs",
            shop.name, info["edges"], split.strategy, split.split_hash, split.info["pairs"], info["seconds"]["total"],
        )
        return GraphData(
            graph=g,
            features=features,
            target=schema.target_etype,
            splits=splits,  # type: ignore[arg-type]
            reverse_etypes=schema.reverse_etypes,
            idmaps=idmaps,
            feature_encoders=encoders,
            split_hash=split.split_hash,
            name=shop.name,
            planted=dict(shop.planted),
            item_attrs=shop.item_attrs,
            train_baskets=train_baskets,
            co_bought=co,
            schema=schema,
            info=info,
        )

    def _check_ids(self, shop: ShopData, df: pd.DataFrame, info: dict[str, Any]) -> pd.DataFrame:
        """Apply ``missing_items`` to item ids outside the catalogue; user ids must be valid."""
        for col in ("user", "item", "event", "timestamp", "basket", "weight"):
            if col not in df.columns:
                raise ConfigError(f"ShopData({shop.name}): interactions lack a {col!r} column")
        u = df["user"].to_numpy()
        if len(u) and (u.min() < 0 or u.max() >= shop.num_users):
            row = int(np.flatnonzero((u < 0) | (u >= shop.num_users))[0])
            raise ConfigError(
                f"ShopData({shop.name}): interactions row {row} names user {u[row]} outside [0, {shop.num_users})"
            )
        it = df["item"].to_numpy()
        bad = (it < 0) | (it >= shop.num_items)
        n_bad = int(bad.sum())
        info["dropped_missing_items"] = 0
        if n_bad:
            if self.missing_items == "error":
                row = int(np.flatnonzero(bad)[0])
                raise ConfigError(
                    f"ShopData({shop.name}): {n_bad} interactions name items outside the catalogue [0, "
                    f"{shop.num_items}) (first: row {row}, item {it[row]}); add them to the item table or set "
                    f"graph.missing_items=drop"
                )
            log.warning("%s: dropped %d interactions naming items outside the catalogue", shop.name, n_bad)
            info["dropped_missing_items"] = n_bad
            df = df[~bad].reset_index(drop=True)
            if len(df) == 0:
                raise ConfigError(f"ShopData({shop.name}): every interaction names an item outside the catalogue")
        return df


def _dedup(
    u: np.ndarray, i: np.ndarray, w: np.ndarray, num_items: int, how: str, t: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Collapse duplicate (u, i) rows; edges sorted by (u, i). Returns src, dst, weight, count and, given the rows'
    times ``t``, the latest time of each pair (else None)."""
    if len(u) == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z.copy(), np.zeros(0), z.copy(), (None if t is None else z.copy())
    key = u * np.int64(num_items) + i
    uniq, inv = np.unique(key, return_inverse=True)
    cnt = np.bincount(inv, minlength=len(uniq)).astype(np.int64)
    if how == "count":
        weight = cnt.astype(np.float64)
    elif how == "max":
        weight = np.full(len(uniq), -np.inf)
        np.maximum.at(weight, inv, w)
    else:
        weight = np.bincount(inv, weights=w, minlength=len(uniq))
        if how == "mean":
            weight = weight / cnt
    last = None
    if t is not None:
        last = np.full(len(uniq), np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(last, inv, t.astype(np.int64, copy=False))
    return uniq // num_items, uniq % num_items, weight, cnt, last


def _category_edges(col: pd.Series, sep: str, parents: bool) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Item -> category edges from category paths (``"A>B>C"``): the leaf, plus ancestors when ``parents``.

    Category node raw ids are the normalized path prefixes (``"A"``, ``"A>B"``, ``"A>B>C"``); items with a missing
    category get no edge. Edges are sorted by (item, category).
    """
    vals = col.to_numpy(dtype=object)
    codes, uniques = pd.factorize(pd.Series(vals, dtype=object), use_na_sentinel=True)
    names: dict[str, int] = {}
    node_lists: list[list[int]] = []
    for raw in uniques:
        text = value_str(raw)
        parts = [p.strip() for p in text.split(sep) if p.strip()] if sep else ([text] if text else [])
        prefixes = [sep.join(parts[: d + 1]) for d in range(len(parts))] if parts else []
        chosen = prefixes if parents else prefixes[-1:]
        node_lists.append([names.setdefault(p, len(names)) for p in chosen])
    lens = np.asarray([len(x) for x in node_lists], dtype=np.int64)
    flat = np.asarray([n for x in node_lists for n in x], dtype=np.int64)
    offs = np.concatenate([[0], np.cumsum(lens)])
    items = np.flatnonzero(codes >= 0)
    c = codes[items]
    reps = lens[c]
    src = np.repeat(items, reps)
    pos = np.repeat(offs[c], reps) + (np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps))
    dst = flat[pos] if len(pos) else np.zeros(0, dtype=np.int64)
    order = np.lexsort((dst, src))
    return src[order].astype(np.int64), dst[order].astype(np.int64), list(names)
