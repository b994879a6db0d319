"""`Tables`: any shop log through configuration alone; `Baskets`: market baskets without users."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hetrec.data.datasets.base import Dataset, init_config
from hetrec.data.errors import DataError, decode_error
from hetrec.data.readers import (
    _row,
    check_ids,
    handle_duplicates,
    read_bytes,
    read_table,
)
from hetrec.data.shop import ShopData
from hetrec.data.validate import attrs_from_rows, build_shop
from hetrec.data.values import check_policies
from hetrec.errors import ConfigError

log = logging.getLogger("hetrec.data")

ROLES = ("user", "item", "event", "timestamp", "weight", "basket", "split")


def _table_config(init_locals: Mapping[str, object]) -> dict[str, object]:
    """`init_config`, with ``bad_values`` only when it is not the default (error), so that the default keeps the
    graph cache key."""
    cfg = init_config(init_locals)
    if check_policies(cfg.get("bad_values")) == check_policies(None):  # type: ignore[arg-type]
        cfg.pop("bad_values")
    return cfg


def _attr_spec(spec: Mapping[str, object] | None, who: str) -> dict[str, tuple[str, str]]:
    """``{name: kind}`` or ``{name: {column: src, kind: kind}}`` -> ``{name: (source column, kind)}``."""
    out: dict[str, tuple[str, str]] = {}
    for name, v in (spec or {}).items():
        if isinstance(v, Mapping):
            if "kind" not in v:
                raise ConfigError(
                    f"dataset.{who}_attr_columns.{name} needs a kind (numeric|categorical|text|multilabel)"
                )
            out[str(name)] = (str(v.get("column", name)), str(v["kind"]))
        else:
            out[str(name)] = (str(name), str(v))
    return out


def _side_table(
    root: Path, spec: Mapping[str, object], attrs: dict[str, tuple[str, str]], who: str
) -> tuple[pd.DataFrame, Path]:
    """Read a users/items file: ``{path, id_column, sep, encoding}`` -> table with ``id`` + attribute names."""
    if "path" not in spec:
        raise ConfigError(f"dataset.{who}s needs a path (dataset.{who}s.path=...)")
    path = root / str(spec["path"])
    id_col = str(spec.get("id_column", "id"))
    src_cols = [c for c, _ in attrs.values()]
    hints = {id_col: f"dataset.{who}s.id_column"}
    hints.update({c: f"dataset.{who}_attr_columns.{n}" for n, (c, _) in attrs.items()})
    df = read_table(
        path, [id_col, *dict.fromkeys(c for c in src_cols if c != id_col)],
        sep=spec.get("sep"), encoding=str(spec.get("encoding", "utf-8-sig")),
        id_columns=[id_col], hints=hints, what=f"{who}s",
    )
    table = pd.DataFrame({"id": df[id_col]}, index=df.index)
    for name, (col, _) in attrs.items():
        table[name] = df[col]
    return table, path


class Tables(Dataset):
    """Any shop log described by configuration: files, columns, date format, baskets, events and attributes.

    One interactions file (CSV, zipped/gzipped CSV or Parquet), optionally a users file and an items file. Attributes
    come from those files or, when they are absent, from the interactions table itself (a denormalized transaction
    table: the first non-missing value per id).

    Args:
        interactions: interactions file, relative to ``root`` (or absolute).
        columns: ``{role: column}`` for roles ``user``, ``item`` (required), ``event``, ``timestamp``, ``weight``
            (rating or quantity), ``basket`` (one order/session id column), ``split`` (train/valid/test labels).
        sep: field separator (default ``,``; tab for ``.tsv``). encoding: default ``utf-8-sig`` (BOM or not).
        date_format: ``strftime`` format of the timestamp column (default ``None``: numbers are epoch seconds,
            strings ISO 8601).
        basket_columns: columns whose combination is one basket, e.g. ``[customer_id, date]`` or ``[order_id]``.
        event_map: ``{raw event value: relation name}``; a value missing from a non-empty map is an error.
            Without a map the raw values are the relation names.
        default_event: relation of every row when there is no event column (default ``"purchases"``).
        user_attr_columns, item_attr_columns: ``{name: kind}`` or ``{name: {column: src, kind: kind}}`` with kind
            numeric | categorical | text | multilabel.
        users, items: ``{path, id_column, sep, encoding}`` of separate attribute files, or ``None``.
        user_fallback: column used as the user id where the user id is missing (anonymous users), e.g.
            ``sessionId``; the raw id becomes ``"<column>:<value>"``. Default ``None`` (a missing id is an error).
        missing_users, missing_items: ``error`` | ``drop`` for interactions naming ids absent from the users/items
            file (default ``error``).
        duplicates: ``error`` | ``drop`` | ``keep`` (default) for repeated interaction rows.
        keep_unused_items: keep items of the items file that no interaction names (default ``True``).
        name: dataset name (default ``"tables"``).
        bad_values: ``{weight: policy, timestamp: policy}`` for negative, zero, missing, infinite or overflowing
            weights/timestamps: ``error`` (default), ``drop`` or ``clip`` (see `hetrec.data.values`); counts logged.
        root, target: see `Dataset` (default target ``purchases``).
    """

    name = "tables"
    target = "purchases"

    def __init__(
        self,
        interactions: str = "interactions.csv",
        columns: Mapping[str, str | None] | None = None,
        sep: str | None = None,
        encoding: str = "utf-8-sig",
        date_format: str | None = None,
        basket_columns: Sequence[str] | None = None,
        event_map: Mapping[str, str] | None = None,
        default_event: str = "purchases",
        user_attr_columns: Mapping[str, object] | None = None,
        item_attr_columns: Mapping[str, object] | None = None,
        users: Mapping[str, object] | None = None,
        items: Mapping[str, object] | None = None,
        user_fallback: str | None = None,
        missing_users: str = "error",
        missing_items: str = "error",
        duplicates: str = "keep",
        keep_unused_items: bool = True,
        name: str = "tables",
        bad_values: Mapping[str, str] | None = None,
        root: str | None = None,
        target: str | None = None,
    ) -> None:
        cfg = _table_config(locals())
        super().__init__(root=root, target=target, **cfg)
        self.bad_values = check_policies(self._config.get("bad_values"))  # type: ignore[arg-type]
        c = self._config
        self.name = name
        self.columns = {k: v for k, v in dict(c["columns"] or {"user": "user", "item": "item"}).items() if v}
        for role in self.columns:
            if role not in ROLES:
                raise ConfigError(f"dataset.columns.{role}: unknown role; roles are {list(ROLES)}")
        for role in ("user", "item"):
            if role not in self.columns:
                raise ConfigError(f"dataset.columns.{role} is required (the {role} id column)")
        self.c = c

    def _path(self, p: str) -> Path:
        p = Path(p)
        return p if p.is_absolute() else self.root / p

    def sources(self) -> list[Path]:
        out = [self._path(str(self.c["interactions"]))]
        for who in ("users", "items"):
            spec = self.c[who]
            if spec and "path" in spec:  # type: ignore[operator]
                out.append(self._path(str(spec["path"])))  # type: ignore[index]
        return out

    def load(self) -> ShopData:
        c = self.c
        cols = self.columns
        path = self._path(str(c["interactions"]))
        uattrs = _attr_spec(c["user_attr_columns"], "user")  # type: ignore[arg-type]
        iattrs = _attr_spec(c["item_attr_columns"], "item")  # type: ignore[arg-type]
        basket_cols = list(c["basket_columns"] or [])  # type: ignore[call-overload]
        if basket_cols and "basket" in cols:
            raise ConfigError("give either dataset.basket_columns or dataset.columns.basket, not both")
        hints = {v: f"dataset.columns.{k}" for k, v in cols.items()}
        for b in basket_cols:  # a column that is also a role (user, timestamp) is named by its role's key
            hints.setdefault(b, "dataset.basket_columns")
        fallback = c["user_fallback"]
        need = list(dict.fromkeys([*cols.values(), *basket_cols] + ([str(fallback)] if fallback else [])))
        if fallback:
            hints[str(fallback)] = "dataset.user_fallback"
        denorm = []
        for who, attrs in (("user", uattrs), ("item", iattrs)):
            if attrs and not c[f"{who}s"]:
                for n, (col, _) in attrs.items():
                    hints.setdefault(col, f"dataset.{who}_attr_columns.{n}")
                    denorm.append(col)
        need = list(dict.fromkeys(need + denorm))
        ts_col = cols.get("timestamp")
        id_cols = [cols["item"]] + ([cols["user"]] if not fallback else [])
        df = read_table(
            path, need, sep=c["sep"], encoding=str(c["encoding"]), id_columns=id_cols,  # type: ignore[arg-type]
            numeric_columns=[cols["weight"]] if "weight" in cols else [],
            date_columns={ts_col: c["date_format"]} if ts_col else None,  # type: ignore[dict-item]
            hints=hints, what="interactions", bad_values={ts_col: self.bad_values["timestamp"]} if ts_col else None,
        )
        ucol = cols["user"]
        if fallback:
            from hetrec.data.readers import _normalize_ids

            user = _normalize_ids(df[ucol])
            fb = _normalize_ids(df[str(fallback)])
            miss = user.isna() | (user.fillna("").astype(str).str.len() == 0)
            user = user.where(~miss, f"{fallback}:" + fb.astype(str))
            user[miss & fb.isna()] = np.nan
            df[ucol] = user
            check_ids(df, ucol, path, "dataset.columns.user")
            log.info("%s: %d rows without a user id use %s", self.name, int(miss.sum()), fallback)

        out = pd.DataFrame({"user": df[ucol], "item": df[cols["item"]]}, index=df.index)
        if "event" in cols:
            ev = df[cols["event"]]
            if ev.isna().any():
                i = int(np.flatnonzero(ev.isna().to_numpy())[0])
                raise DataError("missing event", file=path, row=_row(df, i), column=cols["event"],
                                fix=f"fill in every {cols['event']!r} value")
            ev = ev.astype(str).str.strip()
            emap = dict(c["event_map"] or {})  # type: ignore[call-overload]
            if emap:
                known = ev.isin(list(emap)).to_numpy()
                if not known.all():
                    i = int(np.flatnonzero(~known)[0])
                    raise DataError(
                        f"event value not in dataset.event_map {emap}", file=path, row=_row(df, i),
                        column=cols["event"], value=ev.iloc[i],
                        fix=f"add it: dataset.event_map.{ev.iloc[i]}={c['default_event']}",
                    )
                ev = ev.map(emap)
            out["event"] = ev
        else:
            out["event"] = str(c["default_event"])
        if ts_col:
            out["timestamp"] = df[ts_col].to_numpy().astype(np.int64)
        if "weight" in cols:
            out["weight"] = df[cols["weight"]]
        if "split" in cols:
            out["split"] = df[cols["split"]].astype(str).str.strip().str.lower()
        if "basket" in cols:
            out["basket"] = df[cols["basket"]]
        elif basket_cols:
            g = df.groupby(basket_cols, sort=False, dropna=True).ngroup()
            out["basket"] = g.fillna(-1).astype(np.int64).to_numpy()
        dup_subset = [k for k in ("user", "item", "event", "timestamp", "basket") if k in out.columns]
        out = handle_duplicates(out, dup_subset, c["duplicates"], path, "interactions")  # type: ignore[arg-type]

        tables: dict[str, tuple[pd.DataFrame | None, Path | None]] = {}
        for who, attrs, idcol in (("user", uattrs, ucol), ("item", iattrs, cols["item"])):
            spec = c[f"{who}s"]
            if spec:
                tables[who] = _side_table(self.root, spec, attrs, who)  # type: ignore[arg-type]
            elif attrs:
                src = df.assign(**{idcol: out[who]}) if who == "user" else df
                t = attrs_from_rows(src.loc[out.index], idcol, [col for col, _ in attrs.values()])
                table = pd.DataFrame({"id": t[idcol].astype(str)})
                for n, (col, _) in attrs.items():
                    table[n] = t[col].to_numpy()
                tables[who] = (table, path)
            else:
                tables[who] = (None, None)
        return build_shop(
            self.name,
            out,
            source=path,
            users=tables["user"][0],
            items=tables["item"][0],
            users_source=tables["user"][1],
            items_source=tables["item"][1],
            user_kinds={n: k for n, (_, k) in uattrs.items()},
            item_kinds={n: k for n, (_, k) in iattrs.items()},
            missing_users=c["missing_users"],  # type: ignore[arg-type]
            missing_items=c["missing_items"],  # type: ignore[arg-type]
            keep_unused_items=bool(c["keep_unused_items"]),
            sources=self.sources(),
            info={"duplicates": int(out.attrs.get("duplicates", 0)), "rows_read": len(df),
                  "bad_values": dict(df.attrs.get("bad_values") or {})},
            column_names=cols,
            bad_values=self.bad_values,
        )


class Baskets(Dataset):
    """Market baskets without users (e.g. Groceries, Hahsler et al., 2006): each basket becomes a pseudo-user.

    Two layouts: ``format="lines"``, one basket per line with items separated by ``sep`` and no header (the arules
    ``groceries.csv``); or ``format="long"``, a table with an order/basket id column and an item column (plus optional
    timestamp and quantity columns). Every basket is a user (raw id = basket id; line number for ``lines``) with one
    ``purchases`` row per item, all sharing the basket id. An optional items file adds attributes; its
    ``category_columns`` (top level first) form the ``category`` path ``"level1>level2"``.

    Args:
        path: baskets file relative to ``root`` (default ``"groceries/groceries.csv"``).
        format: ``lines`` (default) or ``long``.
        sep: item separator (``lines``) or field separator (``long``); default ``","``.
        basket_column, item_column: columns of the ``long`` layout (default ``"order_id"``, ``"item"``).
        timestamp_column, date_format, quantity_column: optional columns of the ``long`` layout.
        items: ``{path, id_column, sep}`` items file (default ``None``); item_attr_columns: ``{name: kind}``.
        category_columns: items-file columns, top level first, joined into ``category`` (default ``None``).
        missing_items: ``error`` | ``drop`` for basket items absent from the items file (default ``error``).
        duplicates: an item twice in one basket: ``error`` | ``drop`` | ``keep`` (default ``drop``).
        event: relation name (default ``"purchases"``). name: dataset name (default ``"baskets"``).
        bad_values: ``{weight: policy, timestamp: policy}`` for bad quantities/timestamps (see `Tables`).
        root, target: see `Dataset` (default target ``purchases``).
    """

    name = "baskets"
    target = "purchases"

    def __init__(
        self,
        path: str = "groceries/groceries.csv",
        format: str = "lines",
        sep: str = ",",
        encoding: str = "utf-8-sig",
        basket_column: str = "order_id",
        item_column: str = "item",
        timestamp_column: str | None = None,
        date_format: str | None = None,
        quantity_column: str | None = None,
        items: Mapping[str, object] | None = None,
        item_attr_columns: Mapping[str, object] | None = None,
        category_columns: Sequence[str] | None = None,
        missing_items: str = "error",
        duplicates: str = "drop",
        event: str = "purchases",
        name: str = "baskets",
        bad_values: Mapping[str, str] | None = None,
        root: str | None = None,
        target: str | None = None,
    ) -> None:
        cfg = _table_config(locals())
        if format not in ("lines", "long"):
            raise ConfigError(f"Baskets(format={format!r}); use lines or long (dataset.format=long)")
        super().__init__(root=root, target=target, **cfg)
        self.bad_values = check_policies(self._config.get("bad_values"))  # type: ignore[arg-type]
        self.name = name
        self.c = self._config

    def _path(self, p: str) -> Path:
        p = Path(p)
        return p if p.is_absolute() else self.root / p

    def sources(self) -> list[Path]:
        out = [self._path(str(self.c["path"]))]
        if self.c["items"]:
            out.append(self._path(str(self.c["items"]["path"])))  # type: ignore[index]
        return out

    def _read_lines(self, path: Path) -> pd.DataFrame:
        if not path.exists():
            raise DataError("baskets file not found", file=path,
                            fix="check dataset.path and dataset.root (env HETREC_DATA)")
        try:
            text = read_bytes(path, "baskets").decode(str(self.c["encoding"]))
        except UnicodeDecodeError as e:
            from hetrec.data.readers import first_undecodable_line

            enc = str(self.c["encoding"])
            raise decode_error(path, e, enc, "dataset.encoding", first_undecodable_line(path, enc)) from e
        lines = text.splitlines()
        sep = str(self.c["sep"])
        rows, items, empty = [], [], 0
        for n, line in enumerate(lines, start=1):
            toks = [t.strip() for t in line.split(sep)]
            toks = [t.strip('"').strip() for t in toks if t]
            toks = [t for t in toks if t]
            if not toks:
                empty += 1
                continue
            rows.extend([n] * len(toks))
            items.extend(toks)
        if not items:
            raise DataError("baskets file has no items", file=path, fix="write one basket per line: item,item,...")
        df = pd.DataFrame({"basket": np.asarray(rows, dtype=np.int64), "item": items},
                          index=pd.Index(rows, name="row"))
        df["user"] = df["basket"].astype(str)
        df.attrs["empty_lines"] = empty
        return df

    def load(self) -> ShopData:
        c = self.c
        path = self._path(str(c["path"]))
        raw_attrs: dict = {}
        if c["format"] == "lines":
            df = self._read_lines(path)
        else:
            bcol, icol = str(c["basket_column"]), str(c["item_column"])
            tcol, qcol = c["timestamp_column"], c["quantity_column"]
            hints = {bcol: "dataset.basket_column", icol: "dataset.item_column"}
            if tcol:
                hints[str(tcol)] = "dataset.timestamp_column"
            if qcol:
                hints[str(qcol)] = "dataset.quantity_column"
            need = [bcol, icol] + [str(x) for x in (tcol, qcol) if x]
            raw = read_table(
                path, need, sep=str(c["sep"]), encoding=str(c["encoding"]), id_columns=[bcol, icol],
                numeric_columns=[str(qcol)] if qcol else [], hints=hints,
                date_columns={str(tcol): c["date_format"]} if tcol else None,  # type: ignore[dict-item]
                what="baskets", date_format_key="dataset.date_format",
                bad_values={str(tcol): self.bad_values["timestamp"]} if tcol else None,
            )
            raw_attrs = raw.attrs
            df = pd.DataFrame({"basket": raw[bcol], "item": raw[icol], "user": raw[bcol]}, index=raw.index)
            if tcol:
                df["timestamp"] = raw[str(tcol)].to_numpy()
            if qcol:
                df["weight"] = raw[str(qcol)]
        df["event"] = str(c["event"])
        df = handle_duplicates(df, ["basket", "item"], c["duplicates"], path, "baskets")  # type: ignore[arg-type]
        items_table, items_src = None, None
        kinds: dict[str, str] = {}
        if c["items"]:
            attrs = _attr_spec(c["item_attr_columns"], "item")  # type: ignore[arg-type]
            cats = [str(x) for x in (c["category_columns"] or [])]  # type: ignore[union-attr]
            spec = dict(c["items"])  # type: ignore[call-overload]
            all_attrs = dict(attrs)
            for col in cats:
                all_attrs.setdefault(f"__cat_{col}", (col, "categorical"))
            items_table, items_src = _side_table(self.root, spec, all_attrs, "item")
            if cats:
                parts = items_table[[f"__cat_{col}" for col in cats]].astype(object)
                items_table["category"] = [
                    ">".join(str(v) for v in row if pd.notna(v) and str(v)) or np.nan for row in parts.to_numpy()
                ]
                items_table = items_table.drop(columns=[f"__cat_{col}" for col in cats])
                kinds["category"] = "categorical"
            kinds.update({n: k for n, (_, k) in attrs.items()})
        elif c["category_columns"]:
            raise ConfigError("dataset.category_columns needs an items file (dataset.items.path=...)")
        return build_shop(
            self.name,
            df,
            source=path,
            items=items_table,
            items_source=items_src,
            item_kinds=kinds,
            missing_items=c["missing_items"],  # type: ignore[arg-type]
            sources=self.sources(),
            info={"baskets": int(df["basket"].nunique()), "duplicates": int(df.attrs.get("duplicates", 0)),
                  "empty_lines": int(df.attrs.get("empty_lines", 0)),
                  "bad_values": dict(raw_attrs.get("bad_values") or {})},
            column_names={"item": str(c["item_column"]) if c["format"] == "long" else "item",
                          **({"weight": str(c["quantity_column"])} if c["quantity_column"] else {})},
            bad_values=self.bad_values,
        )


__all__ = ["Tables", "Baskets"]
