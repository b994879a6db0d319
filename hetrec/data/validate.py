"""Validation and id mapping: raw tables (raw string ids) -> a checked `ShopData` (contiguous internal ids)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from hetrec.data.errors import DataError
from hetrec.data.idmap import IdMap
from hetrec.data.readers import _row, to_numeric
from hetrec.data.shop import SPLITS, AttrKind, ShopData
from hetrec.data.values import apply_bad_values, check_policies
from hetrec.errors import ConfigError

log = logging.getLogger("hetrec.data")

Missing = Literal["error", "drop"]
ATTR_KINDS = ("numeric", "categorical", "text", "multilabel")


def _obj(s: pd.Series | np.ndarray) -> np.ndarray:
    """Values as a numpy object array of ``str`` (fast hashing; pandas' arrow strings are slow to look up)."""
    v = s.to_numpy(dtype=object) if isinstance(s, pd.Series) else np.asarray(s, dtype=object)
    if len(v) and not all(isinstance(x, str) for x in v[:: max(1, len(v) // 1000)]):
        v = np.asarray([str(x) for x in v], dtype=object)
    return v


def attrs_from_rows(df: pd.DataFrame, id_column: str, columns: Sequence[str]) -> pd.DataFrame:
    """Attributes of each id from a denormalized table: the first non-missing value of each column per id.

    Shapes:
        df: [N rows] -> [U unique ids] with ``id_column`` and ``columns``
    """
    cols = [c for c in columns if c != id_column]
    out = df.groupby(id_column, sort=False)[cols].first().reset_index()
    return out


def _check_kinds(kinds: Mapping[str, str], who: str) -> dict[str, AttrKind]:
    out: dict[str, AttrKind] = {}
    for col, kind in kinds.items():
        if kind not in ATTR_KINDS:
            raise DataError(
                f"{who} attribute {col!r} has kind {kind!r}", column=str(col),
                fix=f"use one of {list(ATTR_KINDS)} (dataset.{who}_attr_columns.{col}=categorical)",
            )
        out[str(col)] = kind  # type: ignore[assignment]
    return out


def _attr_table(
    table: pd.DataFrame, kinds: Mapping[str, AttrKind], path: str | os.PathLike | None
) -> pd.DataFrame:
    """Attribute columns in the kinds' order with numeric columns as float and the others as str (NaN kept)."""
    out = {}
    for col, kind in kinds.items():
        if col not in table.columns:
            from hetrec.data.readers import missing_column_error

            raise missing_column_error(path, col, [c for c in table.columns if c != "id"], None, "attribute column")
        s = table[col]
        if kind == "numeric":
            out[col] = to_numeric(table, col, path).astype(np.float64).to_numpy()
        else:
            v = s.astype(object).to_numpy().copy()
            notna = pd.notna(v)
            v[notna] = [str(x) for x in v[notna]]
            out[col] = v
    return pd.DataFrame(out, index=table.index)


def _id_table(
    table: pd.DataFrame, who: str, path: str | os.PathLike | None, config_key: str
) -> pd.DataFrame:
    """Check the ``id`` column of a user/item table: no missing ids, no id twice."""
    ids = table["id"]
    bad = ids.isna().to_numpy() | (ids.fillna("").astype(str).str.len() == 0).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"missing {who} id", file=path, row=_row(table, i), column="id",
                        fix=f"fill in every {who} id in the {who} table")
    dup = ids.duplicated().to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise DataError(
            f"{who} id appears twice in the {who} table ({int(dup.sum())} repeated ids)", file=path,
            row=_row(table, i), column=config_key, value=ids.iloc[i],
            fix=f"keep one row per {who} id",
        )
    return table


def build_shop(
    name: str,
    interactions: pd.DataFrame,
    *,
    source: str | os.PathLike | None = None,
    users: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    user_kinds: Mapping[str, str] | None = None,
    item_kinds: Mapping[str, str] | None = None,
    users_source: str | os.PathLike | None = None,
    items_source: str | os.PathLike | None = None,
    missing_users: Missing = "error",
    missing_items: Missing = "error",
    keep_unused_items: bool = True,
    keep_unused_users: bool = True,
    user_order: Sequence[object] | None = None,
    item_order: Sequence[object] | None = None,
    sources: Sequence[str | os.PathLike] = (),
    info: Mapping[str, object] | None = None,
    planted: Mapping[str, np.ndarray] | None = None,
    column_names: Mapping[str, str] | None = None,
    bad_values: Mapping[str, str] | None = None,
) -> ShopData:
    """Map raw ids to internal ids, validate, and assemble a `ShopData`.

    Args:
        name: dataset name.
        interactions: one row per event with raw ids: ``user``, ``item`` (str), ``event`` (str), optional
            ``timestamp`` (int64 seconds; absent -> row order and ``has_time=False``), ``basket`` (any hashable raw
            basket key, NaN for none), ``weight`` (number, default 1.0), ``split`` (train/valid/test). The index is the
            file row number, used in messages.
        source: file the interactions came from, for messages.
        users, items: attribute tables with an ``id`` column (raw ids) plus attribute columns, or ``None``. With a
            table, its ids (in table order) are the catalogue; interactions naming ids absent from it follow
            ``missing_users``/``missing_items``.
        user_kinds, item_kinds: ``{column: kind}`` of the attribute columns to keep (numeric, categorical, text,
            multilabel).
        users_source, items_source: files of the tables, for messages.
        missing_users, missing_items: ``"error"`` (default) or ``"drop"`` for interactions whose id is absent from the
            table; counts go to ``info`` (``dropped_missing_items``...) and the log.
        keep_unused_items, keep_unused_users: keep table ids that no interaction names (default ``True``: cold-start
            items stay in the catalogue).
        user_order, item_order: explicit raw id order for the id maps (without a table); default first appearance.
        sources: input files (for the cache key).
        info, planted: copied into the result.
        column_names: ``{role: column name in the file}`` so that messages name the file's columns (default: roles).
        bad_values: ``{"weight": policy}`` for missing, negative, zero, infinite or overflowing weights (``error``
            default, ``drop``, ``clip``; see `hetrec.data.values`). The counts go to ``info["bad_values"]`` (merged
            with the reader's timestamp counts given there).

    Returns:
        A checked `ShopData`.
    """
    info = dict(info or {})
    df = interactions
    colname = {k: k for k in ("user", "item", "event", "timestamp", "basket", "weight", "split")}
    colname.update(column_names or {})
    n0 = len(df)
    for col in ("user", "item", "event"):
        if col not in df.columns:
            raise DataError(f"interactions lack a {col!r} column", file=source, column=col)
    if n0 == 0:
        raise DataError("no interactions", file=source, fix="check the file and the filters (e.g. min_rating)")
    policies = check_policies(bad_values)
    info["bad_values"] = dict(info.get("bad_values") or {})
    if "weight" in df.columns:
        wcol = colname["weight"]
        w = to_numeric(df.rename(columns={"weight": wcol}), wcol, source).to_numpy(np.float64)
        keep, w, counts = apply_bad_values(w, "weight", policies["weight"], df, wcol, source)
        df = df.assign(weight=w)[keep]
        if counts:
            info["bad_values"][wcol] = counts
    user_kinds = _check_kinds(user_kinds or {}, "user")
    item_kinds = _check_kinds(item_kinds or {}, "item")

    tables: dict[str, tuple[pd.DataFrame, np.ndarray, str | os.PathLike | None, bool]] = {}
    tcodes: dict[str, np.ndarray] = {}  # row -> position in the table, computed once
    for who, table, tsrc, policy, keep_unused in (
        ("item", items, items_source, missing_items, keep_unused_items),
        ("user", users, users_source, missing_users, keep_unused_users),
    ):
        if policy not in ("error", "drop"):
            raise ConfigError(f"missing_{who}s={policy!r}; use error or drop (dataset.missing_{who}s=drop)")
        if table is None:
            continue
        table = _id_table(table, who, tsrc, f"dataset.{who}s.id_column")
        tids = _obj(table["id"])
        raw = _obj(df[who])
        tc = pd.Index(tids, dtype=object).get_indexer(raw)
        known = tc >= 0
        if not known.all():
            bad = ~known
            n_rows = int(bad.sum())
            n_ids = int(len(pd.unique(raw[bad])))
            if policy == "error":
                i = int(np.flatnonzero(bad)[0])
                raise DataError(
                    f"{n_rows} interactions name {n_ids} {who}s absent from the {who} table {tsrc}",
                    file=source, row=_row(df, i), column=colname[who], value=raw[i],
                    fix=f"add them to the {who} table, or drop those interactions with dataset.missing_{who}s=drop",
                )
            log.warning(
                "%s: dropped %d interactions naming %d %ss absent from the %s table %s",
                name, n_rows, n_ids, who, who, tsrc,
            )
            info[f"dropped_missing_{who}s"] = n_rows
            info[f"missing_{who}_ids"] = n_ids
            df = df[known]
            tc = tc[known]
            for k in tcodes:
                tcodes[k] = tcodes[k][known]
            if len(df) == 0:
                raise DataError(
                    f"every interaction names a {who} absent from the {who} table {tsrc}", file=source,
                    column=colname[who],
                    fix=f"check that the {who} ids of both files use the same ids and column",
                )
        else:
            info.setdefault(f"dropped_missing_{who}s", 0)
        tables[who] = (table, tids, tsrc, keep_unused)
        tcodes[who] = tc

    maps: dict[str, IdMap] = {}
    codes: dict[str, np.ndarray] = {}
    attrs: dict[str, pd.DataFrame | None] = {"user": None, "item": None}
    for who, order, kinds in (("user", user_order, user_kinds), ("item", item_order, item_kinds)):
        if who in tables:
            table, tids, tsrc, keep_unused = tables[who]
            tc = tcodes[who]
            if not keep_unused:
                used = np.zeros(len(tids), dtype=bool)
                used[tc] = True
                tc = (np.cumsum(used) - 1)[tc]
                table, tids = table[used], tids[used]
            idmap = IdMap(tids, name=who)
            codes[who] = tc.astype(np.int64)
            if kinds:
                a = _attr_table(table, kinds, tsrc)
                attrs[who] = a.reset_index(drop=True)
        else:
            raw = _obj(df[who])
            if order is not None:
                idmap = IdMap(order, name=who)
                c = idmap.to_internal(raw, missing="ignore")
                if (c < 0).any():
                    i = int(np.flatnonzero(c < 0)[0])
                    raise DataError(f"{who} id not in the given id order", file=source, row=_row(df, i),
                                    column=colname[who], value=raw[i])
                codes[who] = c
            else:
                c, uniques = pd.factorize(raw, sort=False)
                idmap, codes[who] = IdMap(uniques, name=who), c.astype(np.int64)
            if kinds:
                raise DataError(f"{who} attributes given without a {who} table", column=who)
        maps[who] = idmap

    n = len(df)
    out = pd.DataFrame(
        {
            "user": codes["user"].astype(np.int64),
            "item": codes["item"].astype(np.int64),
            "event": _obj(df["event"]),
        }
    )
    has_time = "timestamp" in df.columns
    out["timestamp"] = (
        df["timestamp"].to_numpy().astype(np.int64) if has_time else np.arange(n, dtype=np.int64)
    )
    if "basket" in df.columns:
        b = df["basket"]
        if pd.api.types.is_numeric_dtype(b):
            b = b.where(b >= 0)  # negative numbers mean "no basket"
        bc, _ = pd.factorize(b, sort=False)  # contiguous 0.., NaN -> -1
        out["basket"] = bc.astype(np.int64)
    else:
        out["basket"] = np.full(n, -1, dtype=np.int64)
    if "weight" in df.columns:
        out["weight"] = df["weight"].to_numpy().astype(np.float32)  # checked above: finite, > 0, fits float32
    else:
        out["weight"] = np.ones(n, dtype=np.float32)
    if "split" in df.columns:
        s = df["split"].astype(str)
        bad = ~s.isin(SPLITS).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"unknown split label; use one of {list(SPLITS)}", file=source, row=_row(df, i),
                            column=colname["split"], value=s.iloc[i])
        out["split"] = s.to_numpy().astype(object)
    info.setdefault("rows_read", n0)
    info["interactions"] = n
    shop = ShopData(
        name=name,
        interactions=out,
        users=maps["user"],
        items=maps["item"],
        user_attrs=attrs["user"],
        item_attrs=attrs["item"],
        attr_kinds={"user": dict(user_kinds), "item": dict(item_kinds)},
        has_time=has_time,
        sources=[Path(p) for p in sources],
        planted=dict(planted or {}),
        info=info,
    )
    return shop.check()
