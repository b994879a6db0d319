"""Table readers: CSV (plain, ``.zip``, ``.gz``, with or without a UTF-8 BOM, quoted fields) and Parquet, with checks.

Every check fails with a :class:`~hetrec.data.errors.DataError` that names the file, the row (1-based, counting the
header line as row 1, so the first data row of a CSV is row 2), the column and the fix. The returned frame's index
holds those row numbers, so later stages (id validation, event mapping) can point at the same rows.
"""

from __future__ import annotations

import difflib
import io
import logging
import os
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from hetrec.data.errors import READ_ERRORS, DataError, decode_error, read_error
from hetrec.data.values import apply_bad_values
from hetrec.errors import ConfigError

log = logging.getLogger("hetrec.data")

Duplicates = Literal["error", "drop", "keep"]

_COMPRESSED = (".zip", ".gz", ".bz2", ".xz")


def _inner_suffix(path: Path) -> str:
    """The suffix that says the format: ``data.csv.gz`` -> ``.csv``."""
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in _COMPRESSED:
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def _default_sep(path: Path) -> str:
    return "\t" if _inner_suffix(path) in (".tsv", ".tab") else ","


def is_parquet(path: str | os.PathLike) -> bool:
    return _inner_suffix(Path(path)) in (".parquet", ".pq")


def open_binary(path: str | os.PathLike) -> io.BufferedIOBase:
    """Open a file for reading bytes; a ``.zip`` must hold exactly one data file (``__MACOSX`` and folders ignored),
    ``.gz``/``.bz2``/``.xz`` are decompressed on the fly."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".zip":
        zf = zipfile.ZipFile(path)
        members = [
            m for m in zf.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX") and
            not Path(m.filename).name.startswith(".")
        ]
        if len(members) != 1:
            names = [m.filename for m in members]
            raise DataError(
                f"zip archive holds {len(members)} data files {names[:10]}, expected exactly one",
                file=path, fix="unzip it and point the dataset at the one file to read",
            )
        return zf.open(members[0])  # type: ignore[return-value]
    if suffix == ".gz":
        import gzip

        return gzip.open(path, "rb")  # type: ignore[return-value]
    if suffix == ".bz2":
        import bz2

        return bz2.open(path, "rb")  # type: ignore[return-value]
    if suffix == ".xz":
        import lzma

        return lzma.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def first_undecodable_line(path: str | os.PathLike, encoding: str) -> int | None:
    """1-based number of the first line of ``path`` that is not text in ``encoding`` (for messages; ``None`` if
    none is found line by line)."""
    try:
        with open_binary(path) as f:
            for n, line in enumerate(f, start=1):
                try:
                    line.decode(encoding)
                except UnicodeDecodeError:
                    return n
    except (DataError, *READ_ERRORS):
        return None
    return None


def read_bytes(path: str | os.PathLike, what: str = "table") -> bytes:
    """All bytes of a (possibly compressed) file; a damaged or truncated file raises `DataError`."""
    try:
        with open_binary(path) as f:
            return f.read()
    except DataError:
        raise
    except READ_ERRORS as e:
        raise read_error(path, e, what) from e


def suggest(name: str, choices: Iterable[str]) -> str | None:
    """The closest existing name (``difflib``, case-insensitive), or ``None``."""
    choices = [str(c) for c in choices]
    lower = {c.lower().replace("_", "").replace(" ", ""): c for c in choices}
    key = name.lower().replace("_", "").replace(" ", "")
    if key in lower:
        return lower[key]
    match = difflib.get_close_matches(key, list(lower), n=1, cutoff=0.6)
    return lower[match[0]] if match else None


def missing_column_error(
    path: str | os.PathLike | None, column: str, present: Sequence[str], hint: str | None = None, what: str = "column"
) -> DataError:
    """A `DataError` for a column that is not there, suggesting the closest existing name."""
    close = suggest(column, present)
    fix_key = hint or "the column name in the dataset config"
    if close is not None and hint and hint.endswith("_columns"):  # a list key, e.g. dataset.basket_columns
        fix = f"did you mean {close!r}? replace {column!r} by {close!r} in {hint}"
    elif close is not None:
        fix = f"did you mean {close!r}? set {fix_key}={close}" if hint else f"did you mean {close!r}?"
    else:
        fix = f"set {fix_key} to one of the columns present"
    return DataError(
        f"{what} {column!r} not found; columns present: {list(present)}", file=path, column=column, fix=fix
    )


def _normalize_ids(s: pd.Series) -> pd.Series:
    """Ids as strings; integral floats (``42.0`` from a column with gaps) become ``"42"``; missing stays NaN."""
    if pd.api.types.is_float_dtype(s):
        v = s.to_numpy()
        ok = ~np.isnan(v)
        if np.all(v[ok] == np.round(v[ok])):
            s = s.astype("Int64")
    if pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
        v = s.to_numpy(dtype=object)
        notna = pd.notna(v)
        v = v.copy()
        v[notna] = [x.strip() if isinstance(x, str) else str(x) for x in v[notna]]
        return pd.Series(v, index=s.index, name=s.name, dtype=object)
    out = s.astype(object)
    notna = s.notna().to_numpy()
    out[notna] = s[notna].astype(str)
    out[~notna] = np.nan
    return out


def check_ids(df: pd.DataFrame, column: str, path: str | os.PathLike | None, hint: str | None = None) -> None:
    """Raise `DataError` at the first missing (NaN) or empty id of ``column``."""
    s = df[column]
    bad = s.isna().to_numpy().copy()
    if s.dtype == object:
        bad |= (s.fillna("").astype(str).str.len() == 0).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        fix = f"fill in every {column!r} value or remove those rows ({int(bad.sum())} rows have no id)"
        if hint:
            fix += f"; or point {hint} at a complete id column"
        raise DataError("missing or empty id", file=path, row=_row(df, i), column=column, fix=fix)


def _row(df: pd.DataFrame, i: int) -> int:
    """File row number of positional row ``i`` (the index holds file rows)."""
    try:
        return int(df.index[i])
    except (TypeError, ValueError):
        return i + 1


def to_numeric(
    df: pd.DataFrame, column: str, path: str | os.PathLike | None, allow_missing: bool = True, hint: str | None = None
) -> pd.Series:
    """Column as numbers; raise `DataError` at the first value that is not a number (or missing, if not allowed)."""
    s = df[column]
    if pd.api.types.is_bool_dtype(s):
        s = s.astype(np.float64)
    if not pd.api.types.is_numeric_dtype(s):
        s2 = s.astype(object).where(s.isna(), s.astype(str).str.strip())
        num = pd.to_numeric(s2, errors="coerce")
        bad = (s.notna() & num.isna()).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            fix = f"make every {column!r} value a number ({int(bad.sum())} rows are not)"
            if hint:
                fix += f", or set {hint} to the right column"
            raise DataError("not a number", file=path, row=_row(df, i), column=column, value=s.iloc[i], fix=fix)
        s = num
    if not allow_missing:
        bad = s.isna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                "missing value", file=path, row=_row(df, i), column=column,
                fix=f"fill in every {column!r} value ({int(bad.sum())} rows are empty)",
            )
    return s


def to_timestamp(
    df: pd.DataFrame,
    column: str,
    path: str | os.PathLike | None,
    date_format: str | None = None,
    hint: str | None = "dataset.date_format",
) -> np.ndarray:
    """Column as int64 seconds since the epoch (UTC).

    Numbers are taken as seconds already (unless ``date_format`` is given). Strings are parsed with ``date_format``
    (``strftime`` codes, e.g. ``"%Y-%m-%d %H:%M"``) or, when it is ``None``, as ISO 8601. The first value that does not
    parse raises `DataError` naming its row, column, value and the format.

    Shapes:
        df[column]: [N] -> [N] int64
    """
    secs = timestamp_seconds(df, column, path, date_format, hint)
    _, secs, _ = apply_bad_values(secs, "timestamp", "error", df, column, path)
    return secs.astype(np.int64)


def timestamp_seconds(
    df: pd.DataFrame,
    column: str,
    path: str | os.PathLike | None,
    date_format: str | None = None,
    hint: str | None = "dataset.date_format",
) -> np.ndarray:
    """Like `to_timestamp`, but unchecked: numbers pass as they are (float ``inf``, negative, ...), so that the caller
    applies a bad-value policy before the cast to int64.

    Shapes:
        df[column]: [N] -> [N] float64 (float numbers) or int64 (integers, parsed dates)
    """
    s = df[column]
    if s.isna().any():
        i = int(np.flatnonzero(s.isna().to_numpy())[0])
        raise DataError(
            "missing date/time", file=path, row=_row(df, i), column=column,
            fix=f"fill in every {column!r} value or remove those rows",
        )
    if date_format is None and pd.api.types.is_numeric_dtype(s):
        v = s.to_numpy()
        return v.astype(np.float64) if np.issubdtype(v.dtype, np.floating) else v.astype(np.int64)
    if date_format is not None and pd.api.types.is_numeric_dtype(s):
        s = s.astype(str)
    fmt = date_format if date_format is not None else "ISO8601"
    parsed = pd.to_datetime(s, format=fmt, errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        if date_format is None:
            fix = f"give the format, e.g. {hint}='%d/%m/%Y %H:%M'" if hint else "give the date format"
            what = "date/time is not ISO 8601 and no date format was given"
        else:
            fix = f"correct the value, or set {hint} to the format the file uses" if hint else "correct the value"
            what = f"date/time does not match the format {date_format!r}"
        raise DataError(what, file=path, row=_row(df, i), column=column, value=s.iloc[i], fix=fix)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed.to_numpy().astype("datetime64[s]").astype(np.int64)


def read_table(
    path: str | os.PathLike,
    columns: Sequence[str] | None = None,
    *,
    optional_columns: Sequence[str] = (),
    sep: str | None = None,
    encoding: str = "utf-8-sig",
    header: bool = True,
    names: Sequence[str] | None = None,
    id_columns: Sequence[str] = (),
    numeric_columns: Sequence[str] = (),
    date_columns: Mapping[str, str | None] | None = None,
    duplicates: Duplicates = "keep",
    duplicate_subset: Sequence[str] | None = None,
    hints: Mapping[str, str] | None = None,
    na_values: Sequence[str] | None = None,
    quoting: int = 0,
    what: str = "table",
    date_format_key: str = "dataset.date_format",
    encoding_key: str = "dataset.encoding",
    bad_values: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Read one table (CSV, zipped/gzipped CSV or Parquet) and check it.

    Args:
        path: the file; ``.parquet``/``.pq`` is Parquet, anything else delimited text (``.zip``/``.gz`` decompressed).
        columns: columns that must be present (default: all). Only these and ``optional_columns`` are returned.
        optional_columns: columns returned when present.
        sep: field separator (default ``","``, tab for ``.tsv``).
        encoding: text encoding (default ``"utf-8-sig"``: UTF-8 with or without a BOM; ``"latin-1"`` for MovieLens).
        header: whether the first line names the columns (default ``True``); if not, give ``names``.
        names: column names for a file without header.
        id_columns: id columns, read as strings; missing or empty ids are an error.
        numeric_columns: columns that must hold numbers (missing allowed); the first non-number is an error.
        date_columns: ``{column: format or None}``; parsed to int64 seconds since the epoch (see `to_timestamp`).
        duplicates: what to do with fully repeated rows (over ``duplicate_subset``): ``"error"``, ``"drop"`` (count
            logged) or ``"keep"`` (default). The count is in ``df.attrs["duplicates"]``.
        duplicate_subset: columns that define a duplicate (default: the returned columns).
        hints: ``{column: config key}`` used in fixes, e.g. ``{"item_id": "dataset.columns.item"}``.
        na_values: extra strings read as missing (pandas' defaults such as ``""``, ``NA``, ``null`` always are).
        quoting: ``csv`` quoting mode (default 0 = ``csv.QUOTE_MINIMAL``: ``"a, b"`` is one field; 3 = no quoting).
        what: what the table is, for messages (``"interactions"``, ``"items"``, ...).
        date_format_key, encoding_key: the config keys that set the date format and the encoding, named in fixes.
        bad_values: ``{column: policy}`` for date columns whose numbers are negative, zero, infinite or too large
            (see `hetrec.data.values.apply_bad_values`; default ``error``). Dropped/clipped counts go to
            ``df.attrs["bad_values"]``.

    Returns:
        A DataFrame whose index is the file row number (header = row 1; Parquet rows count from 1).

    Raises:
        DataError: missing file, empty or header-only file, missing/misnamed columns, bad ids, numbers or dates,
            duplicates with ``duplicates="error"``.
    """
    path = Path(path)
    hints = dict(hints or {})
    if not path.exists():
        parent = path.parent
        near = suggest(path.name, [p.name for p in parent.iterdir()]) if parent.is_dir() else None
        fix = f"did you mean {str(parent / near)!r}?" if near else "check the path and dataset.root (env HETREC_DATA)"
        raise DataError(f"{what} file not found", file=path, fix=fix)
    if path.is_dir():
        raise DataError(f"{what} path is a folder, expected a file", file=path, fix="point at a file inside it")
    id_columns = list(id_columns)
    date_columns = dict(date_columns or {})
    parquet = is_parquet(path)
    if parquet:
        import pyarrow.parquet as pq

        try:
            present = list(pq.read_schema(path).names)
        except Exception as e:  # pyarrow raises several types for a broken file
            raise DataError(f"not a readable Parquet file ({e})", file=path, fix="rewrite the file") from e
    else:
        if path.stat().st_size == 0:
            raise DataError(f"{what} file is empty", file=path, fix="write a header line and at least one data row")
        sep = sep if sep is not None else _default_sep(path)
        if header:
            try:
                with open_binary(path) as f:
                    head = pd.read_csv(f, sep=sep, nrows=0, encoding=encoding, quoting=quoting)
            except pd.errors.EmptyDataError as e:
                raise DataError(
                    f"{what} file is empty", file=path, fix="write a header line and at least one data row"
                ) from e
            except UnicodeDecodeError as e:
                raise decode_error(path, e, encoding, encoding_key, first_undecodable_line(path, encoding)) from e
            except pd.errors.ParserError as e:
                raise DataError(f"cannot parse the header line ({e})", file=path, row=1,
                                fix="check the separator and the quoting of the header") from e
            except READ_ERRORS as e:
                raise read_error(path, e, what) from e
            present = [str(c).lstrip("\ufeff").strip() for c in head.columns]
            if len(present) == 1 and sep not in (None, "") and any(x in present[0] for x in (";", "\t", "|", ",")):
                other = next(x for x in (";", "\t", "|", ",") if x in present[0] and x != sep)
                raise DataError(
                    f"the header has one column {present[0]!r}: the separator is not {sep!r}", file=path, row=1,
                    fix=f"set the separator to {other!r} (e.g. dataset.sep='{other}')",
                )
        else:
            if names is None:
                raise ValueError("read_table(header=False) needs names=")
            present = list(names)
    wanted = list(columns) if columns is not None else list(present)
    for c in wanted:
        if c not in present:
            raise missing_column_error(path, c, present, hints.get(c), what=f"{what} column")
    use = wanted + [c for c in optional_columns if c in present and c not in wanted]

    if parquet:
        try:
            df = pd.read_parquet(path, columns=use)
        except Exception as e:  # pyarrow raises several types for a broken file
            raise DataError(f"not a readable Parquet file ({type(e).__name__}: {e})", file=path,
                            fix="write the file again (it is damaged or truncated)") from e
        if len(df) == 0:
            raise DataError(f"{what} file has no rows", file=path, fix="write at least one row")
        df.index = pd.RangeIndex(1, len(df) + 1, name="row")
        for c in id_columns:
            if c in df.columns:
                df[c] = _normalize_ids(df[c])
    else:
        dtype = {c: object for c in id_columns if c in use}  # python str: fast hashing for id lookups
        try:
            f = open_binary(path)
        except READ_ERRORS as e:
            raise read_error(path, e, what) from e
        with f:
            try:
                df = pd.read_csv(
                    f,
                    sep=sep,
                    encoding=encoding,
                    header=0 if header else None,
                    names=None if header else list(names or []),
                    dtype=dtype or None,
                    skip_blank_lines=False,
                    na_values=list(na_values) if na_values else None,
                    skipinitialspace=False,
                    quoting=quoting,
                    engine="c",
                    low_memory=False,
                )
            except pd.errors.ParserError as e:
                raise DataError(
                    f"cannot parse the file as delimited text with separator {sep!r} ({e})", file=path,
                    fix="check the separator and the quoting of fields that contain it",
                ) from e
            except UnicodeDecodeError as e:
                raise decode_error(path, e, encoding, encoding_key, first_undecodable_line(path, encoding)) from e
            except READ_ERRORS as e:
                raise read_error(path, e, what) from e
        df.columns = [str(c).lstrip("\ufeff").strip() for c in df.columns]
        df = df[use]
        df.index = pd.RangeIndex(2 if header else 1, len(df) + (2 if header else 1), name="row")
        cand = np.flatnonzero(df.iloc[:, 0].isna().to_numpy()) if len(df.columns) else np.zeros(0, int)
        blank = np.zeros(len(df), dtype=bool)
        blank[cand] = df.iloc[cand].isna().all(axis=1).to_numpy()  # blank lines (kept to count rows right)
        if blank.any():
            df = df[~blank]
        if len(df) == 0:
            raise DataError(
                f"{what} file has a header but no data rows" if header else f"{what} file has no data rows",
                file=path, fix="add data rows (or point at the right file)",
            )
        for c in id_columns:
            if c in df.columns:
                df[c] = _normalize_ids(df[c])
    for c in id_columns:
        if c in df.columns:
            check_ids(df, c, path, hints.get(c))
    for c in numeric_columns:
        if c in df.columns:
            df[c] = to_numeric(df, c, path, hint=hints.get(c))
    df.attrs["bad_values"] = {}
    for c, fmt in date_columns.items():
        if c in df.columns:
            secs = timestamp_seconds(df, c, path, fmt, hint=date_format_key)
            keep, secs, counts = apply_bad_values(
                secs, "timestamp", (bad_values or {}).get(c, "error"), df, c, path
            )
            if not keep.all():
                df, secs = df[keep], secs[keep]
            df[c] = secs.astype(np.int64)
            if counts:
                df.attrs["bad_values"][c] = counts
    df.attrs["file"] = str(path)
    df.attrs["duplicates"] = 0
    subset = list(duplicate_subset) if duplicate_subset is not None else list(df.columns)
    for c in subset:
        if c not in df.columns:
            raise missing_column_error(path, c, list(df.columns), hints.get(c), what="duplicate-check column")
    df = handle_duplicates(df, subset, duplicates, path, what)
    return df


def handle_duplicates(
    df: pd.DataFrame, subset: Sequence[str], policy: Duplicates, path: str | os.PathLike | None, what: str = "table",
    config_key: str = "dataset.duplicates",
) -> pd.DataFrame:
    """Find rows repeating an earlier row over ``subset``; ``"error"`` raises naming both rows, ``"drop"`` removes
    them (logged), ``"keep"`` keeps them. The count goes to ``df.attrs["duplicates"]``."""
    if policy not in ("error", "drop", "keep"):
        raise ConfigError(f"duplicates={policy!r}; use error, drop or keep ({config_key}=drop)")
    dup = df.duplicated(subset=list(subset), keep="first").to_numpy()
    n = int(dup.sum())
    if n and policy == "error":
        i = int(np.flatnonzero(dup)[0])
        key = tuple(df.iloc[i][list(subset)])
        shown = tuple(v.item() if isinstance(v, np.generic) else v for v in key)  # plain values in the message
        same = np.logical_and.reduce([df[c].to_numpy() == v for c, v in zip(subset, key)])
        j = int(np.flatnonzero(same)[0]) if same.any() else None
        earlier = f" (same as row {_row(df, j)})" if j is not None and j != i else ""
        raise DataError(
            f"duplicate row{earlier} over columns {list(subset)}; {n} duplicate rows in total",
            file=path, row=_row(df, i), column=",".join(subset), value=shown,
            fix=f"remove them, or set {config_key}=drop (or keep)",
        )
    if n and policy == "drop":
        df = df[~dup]
        log.info("%s %s: dropped %d duplicate rows", what, path, n)
    elif n:
        log.info("%s %s: kept %d duplicate rows", what, path, n)
    df.attrs["duplicates"] = n
    return df
