"""Bad weights, quantities and timestamps: negative, zero, missing, infinite or overflowing values, and the policy that
says what to do with them (``dataset.bad_values``).

=============  ===========================================  ===============================================
column         a value is bad when it is                    overflow limit
=============  ===========================================  ===============================================
``weight``     missing (NaN), +/-inf, <= 0, or too large    float32's largest value (3.4e38): the weights are
               (rating / quantity)                          stored as float32
``timestamp``  +/-inf, <= 0 (at or before 1970-01-01), or   2**63 seconds (int64)
               too large
=============  ===========================================  ===============================================

Policies (per column, default ``error``):

- ``error``: stop at the first bad value, naming the file, row, column, value, how many rows are bad and the fix;
- ``drop``: drop the rows with bad values (count per kind logged and kept in ``ShopData.info["bad_values"]``);
- ``clip``: replace a value below the valid range (negative, zero, -inf) by the smallest valid value of the column and
  a value above it (+inf, overflow) by the largest; rows with a missing weight cannot be clipped and are dropped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import numpy as np
import pandas as pd

from hetrec.data.errors import DataError
from hetrec.errors import ConfigError

log = logging.getLogger("hetrec.data")

__all__ = ["COLUMNS", "CONFIG_KEY", "POLICIES", "apply_bad_values", "bad_value_masks", "check_policies"]

POLICIES = ("error", "drop", "clip")
COLUMNS = ("weight", "timestamp")
CONFIG_KEY = "dataset.bad_values"
LIMITS = {"weight": float(np.finfo(np.float32).max), "timestamp": float(2**63)}
KINDS = ("missing", "infinite", "overflowing", "negative", "zero")


def check_policies(bad_values: Mapping[str, object] | None) -> dict[str, str]:
    """``{column: policy}`` with defaults filled in; unknown columns or policies raise `ConfigError`."""
    out = dict.fromkeys(COLUMNS, "error")
    for col, policy in (bad_values or {}).items():
        if col not in COLUMNS:
            raise ConfigError(f"{CONFIG_KEY}.{col}: unknown column; the keys are {', '.join(COLUMNS)} "
                              f"(e.g. {CONFIG_KEY}.weight=drop)")
        if policy not in POLICIES:
            raise ConfigError(f"{CONFIG_KEY}.{col}={policy!r}: use one of {', '.join(POLICIES)} "
                              f"(e.g. {CONFIG_KEY}.{col}=drop)")
        out[str(col)] = str(policy)
    return out


def bad_value_masks(values: np.ndarray, column: str) -> dict[str, np.ndarray]:
    """One boolean mask per kind of bad value (``missing``, ``infinite``, ``overflowing``, ``negative``, ``zero``);
    the kinds do not overlap.

    Shapes:
        values: [N] -> each mask [N] bool
    """
    v = np.asarray(values)
    if not np.issubdtype(v.dtype, np.floating):  # integers: nothing missing, infinite or beyond int64
        return {"negative": v < 0, "zero": v == 0}
    with np.errstate(invalid="ignore"):
        nan = np.isnan(v)
        inf = np.isinf(v)
        big = ~inf & ~nan & (np.abs(v) > LIMITS[column])
        ok = ~(nan | inf | big)
        return {"missing": nan, "infinite": inf, "overflowing": big, "negative": ok & (v < 0), "zero": ok & (v == 0)}


def _describe(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in counts.items())


def _file_row(df: pd.DataFrame | None, i: int) -> int:
    try:
        return int(df.index[i]) if df is not None else i + 1
    except (TypeError, ValueError):
        return i + 1


def apply_bad_values(
    values: np.ndarray,
    column: str,
    policy: str,
    df: pd.DataFrame | None,
    name: str,
    path: str | os.PathLike | None,
) -> tuple[np.ndarray, np.ndarray, dict[str, object]]:
    """Apply ``policy`` to the bad values of one column.

    Args:
        values: the column as numbers (float or int).
        column: ``"weight"`` or ``"timestamp"`` (which rules apply).
        policy: ``error``, ``drop`` or ``clip``.
        df: the frame the values came from (its index holds the file rows, for messages), or ``None``.
        name: the column's name in the file. path: the file, for messages.

    Returns:
        ``(keep, values, counts)``: rows to keep, the (clipped) values of all rows, and ``{kind: count, "policy": p}``
        (empty when no value is bad).

    Shapes:
        values: [N] -> keep [N] bool, values [N]
    """
    masks = {k: m for k, m in bad_value_masks(values, column).items() if m.any()}
    keep = np.ones(len(values), dtype=bool)
    if not masks:
        return keep, values, {}
    counts = {k: int(m.sum()) for k, m in masks.items()}
    bad = np.logical_or.reduce(list(masks.values()))
    n_bad = int(bad.sum())
    if policy == "error":
        i = int(np.flatnonzero(bad)[0])
        kind = next(k for k, m in masks.items() if m[i])
        raise DataError(
            f"{kind} {column} value; {n_bad} rows have bad {column} values ({_describe(counts)})",
            file=path, row=_file_row(df, i), column=name, value=np.asarray(values)[i].item(),
            fix=f"correct or remove those rows, or set {CONFIG_KEY}.{column}=drop (skip them) or clip (bring them "
                f"into the range of the valid values)",
        )
    if policy in ("drop", "clip") and n_bad == len(values):  # nothing left, or no valid value to clip to
        raise DataError(
            f"every {column} value is bad ({_describe(counts)}): nothing is left to {policy}", file=path, column=name,
            fix=f"check that the {column} column is the right one ({name!r})",
        )
    if policy == "drop":
        keep = ~bad
    elif policy == "clip":
        good = np.asarray(values)[~bad]
        lo, hi = good.min(), good.max()
        values = np.array(values, copy=True)
        none = np.zeros(len(values), dtype=bool)
        with np.errstate(invalid="ignore"):
            signed = np.asarray(values, dtype=np.float64)
        out_of_range = masks.get("infinite", none) | masks.get("overflowing", none)
        low = masks.get("negative", none) | masks.get("zero", none) | (out_of_range & (signed < 0))
        high = out_of_range & (signed > 0)
        values[low] = lo
        values[high] = hi
        keep = ~masks.get("missing", none)
    else:
        raise ConfigError(f"{CONFIG_KEY}.{column}={policy!r}: use one of {', '.join(POLICIES)}")
    done = "dropped" if policy == "drop" else "clipped"
    log.warning("%s: column %r: %s %d rows with bad %s values (%s)%s", path, name, done, n_bad, column,
                _describe(counts), "; rows with a missing value dropped" if policy == "clip" and "missing" in masks
                else "")
    return keep, values, {**counts, "policy": policy}
