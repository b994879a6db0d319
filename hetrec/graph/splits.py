"""Leak-free splits of a shop log into training, validation and test (user, item) pairs.

The split unit is a unique (user, item) pair of the target event. A held-out (validation or test) pair takes every
interaction of that pair with it, of any event type: none of them reaches the message-passing graph nor the baskets
that derive ``co_bought``. With ``global_time`` everything at or after the first cut is removed as well, so training
sees no future information.

Strategies:
    ``random``: per user, a seeded random share ``test_ratio`` of the user's pairs goes to test and ``valid_ratio`` to
        validation (stochastic rounding, so the shares are right on average; a user always keeps at least one
        training pair, hence users with a single pair stay in training).
    ``leave_last``: per user, by the time the pair first occurred: the last pair goes to test, the second last to
        validation (a ratio of 0 switches that part off); a user always keeps one training pair.
    ``global_time``: one cut time for all: pairs first seen at/after ``cut_time`` are test, pairs first seen in
        ``[valid_cut_time, cut_time)`` are validation. Cuts not given are the ``1 - test_ratio`` and
        ``1 - test_ratio - valid_ratio`` quantiles of the target timestamps.
    ``given``: the ``split`` column of the interactions (pre-split sources). A pair with any test row is test, else
        with any valid row valid. Without validation rows (and ``valid_ratio > 0``) validation is carved per user from
        the training pairs as in ``random``. Rows labelled valid/test of other events are removed from training too.
    ``auto``: ``given`` when the interactions carry a ``split`` column, else ``random``.
    ``cold_items``: new products. A seeded share ``cold_share`` of the items that have target interactions is cold:
        **every** interaction row of a cold item (any event) is removed from training, so no edge of it reaches the
        message-passing graph (nor a reverse relation) nor the baskets that derive ``co_bought``; its attributes stay
        (node features, category edges). The cold items are split by item: a seeded share ``cold_valid_share`` of
        them forms the validation launch (``cold_valid`` pairs: all their target pairs), the rest the test launch
        (``cold_test``), so the items the choices are made on are never the items reported. The remaining (warm)
        pairs are split as in ``random`` (``valid``/``test``, for training's early stopping and the usual report).
        The cold sets do not depend on ``valid_ratio``/``test_ratio``, so ``train.refit`` keeps them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hetrec.errors import ConfigError

log = logging.getLogger("hetrec.graph")

STRATEGIES = ("auto", "random", "leave_last", "global_time", "given", "cold_items")
_TIME_STRATEGIES = ("leave_last", "global_time")


@dataclass
class SplitResult:
    """The outcome of a split.

    Attributes:
        strategy: the strategy used (``auto`` resolved).
        params: the parameters that determined it (ratios, seed, resolved cut times).
        train, valid, test: ``(users, items)`` int64 arrays of unique target pairs, sorted by (user, item).
        keep_rows: bool mask over the interaction rows: the rows that may enter the training graph and baskets.
        split_hash: short hash of strategy, parameters and the held-out pairs.
        info: counts for reports.
        cold_valid, cold_test: ``cold_items`` only: ``(users, items)`` target pairs of the validation / test cold
            items (empty otherwise); cold_items: the cold item ids, sorted.
    """

    strategy: str
    params: dict[str, object]
    train: tuple[np.ndarray, np.ndarray]
    valid: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    keep_rows: np.ndarray
    split_hash: str
    info: dict[str, object] = field(default_factory=dict)
    cold_valid: tuple[np.ndarray, np.ndarray] = field(default_factory=lambda: (_EMPTY, _EMPTY))
    cold_test: tuple[np.ndarray, np.ndarray] = field(default_factory=lambda: (_EMPTY, _EMPTY))
    cold_items: np.ndarray = field(default_factory=lambda: _EMPTY)


_EMPTY = np.zeros(0, dtype=np.int64)


def check_split_options(
    strategy: str, valid_ratio: float, test_ratio: float, cold_share: float = 0.1, cold_valid_share: float = 0.5
) -> None:
    """Raise ``ValueError`` with the fix for an unknown strategy or bad ratios."""
    if strategy not in STRATEGIES:
        raise ConfigError(
            f"unknown split strategy {strategy!r}; use one of {', '.join(STRATEGIES)} "
            f"(e.g. graph.split.strategy=random)"
        )
    for name, v in (("valid_ratio", valid_ratio), ("test_ratio", test_ratio)):
        if not isinstance(v, (int, float)) or not 0.0 <= float(v) < 1.0:
            raise ConfigError(f"graph.split.{name}={v!r} must lie in [0, 1); e.g. graph.split.{name}=0.1")
    if float(valid_ratio) + float(test_ratio) >= 1.0:
        raise ConfigError(
            f"graph.split.valid_ratio + graph.split.test_ratio = {float(valid_ratio) + float(test_ratio):g} must be "
            f"below 1 (training needs pairs); e.g. graph.split.valid_ratio=0.1 graph.split.test_ratio=0.2"
        )
    if strategy == "cold_items":
        if not isinstance(cold_share, (int, float)) or not 0.0 < float(cold_share) < 1.0:
            raise ValueError(
                f"graph.split.cold_share={cold_share!r} must lie in (0, 1); e.g. graph.split.cold_share=0.1"
            )
        if not isinstance(cold_valid_share, (int, float)) or not 0.0 <= float(cold_valid_share) < 1.0:
            raise ValueError(
                f"graph.split.cold_valid_share={cold_valid_share!r} must lie in [0, 1) (the test launch needs items); "
                f"e.g. graph.split.cold_valid_share=0.5"
            )


def parse_time(value: object, name: str) -> int | None:
    """A cut time given as seconds since the epoch or a date string (UTC) -> int seconds; ``None`` stays."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)) and np.isfinite(value):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    try:
        ts = pd.Timestamp(str(value))
    except (ValueError, TypeError) as e:
        raise ConfigError(
            f"graph.split.{name}={value!r} is not a time; give seconds since the epoch or a date, "
            f"e.g. graph.split.{name}='2025-03-01'"
        ) from e
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return int(ts.timestamp())


def split_interactions(
    interactions: pd.DataFrame,
    num_items: int,
    target: str,
    strategy: str = "random",
    valid_ratio: float = 0.1,
    test_ratio: float = 0.2,
    seed: int = 0,
    cut_time: object = None,
    valid_cut_time: object = None,
    has_time: bool = True,
    event_codes: tuple[np.ndarray, list[str]] | None = None,
    dataset: str = "dataset",
    cold_share: float = 0.1,
    cold_valid_share: float = 0.5,
) -> SplitResult:
    """Split the target pairs of an interaction log and mark the rows that may be used for training.

    Args:
        interactions: ShopData interactions (``user``, ``item``, ``event``, ``timestamp``, optional ``split``).
        num_items: number of items (pair keys are ``user * num_items + item``).
        target: the predicted event.
        strategy: ``auto``, ``random``, ``leave_last``, ``global_time`` or ``given`` (default ``random``).
        valid_ratio, test_ratio: held-out shares (defaults 0.1, 0.2), see the module docstring.
        seed: random seed of ``random`` and of the validation carve-out of ``given`` (default 0).
        cut_time, valid_cut_time: ``global_time`` cuts (seconds or date strings), derived when ``None``.
        has_time: whether timestamps are real time (``leave_last``/``global_time`` need it).
        event_codes: optional precomputed ``pd.factorize(interactions["event"])`` result.
        dataset: dataset name for messages.
        cold_share, cold_valid_share: ``cold_items`` only: the share of items (among those with target pairs) that
            are cold, and the share of the cold items that form the validation launch (defaults 0.1, 0.5).

    Returns:
        A `SplitResult`.

    Shapes:
        interactions: N rows -> keep_rows [N] bool; train/valid/test: two int64 arrays [P_split] each.
    """
    check_split_options(strategy, valid_ratio, test_ratio, cold_share, cold_valid_share)
    df = interactions
    if strategy == "auto":
        strategy = "given" if "split" in df.columns else "random"
    if strategy in _TIME_STRATEGIES and not has_time:
        raise ConfigError(
            f"split strategy {strategy!r} needs real timestamps, but dataset {dataset!r} has none (has_time=False); "
            f"use graph.split.strategy=random (or given for pre-split data)"
        )
    if strategy == "given" and "split" not in df.columns:
        raise ConfigError(
            f"split strategy 'given' needs a 'split' column in the interactions of dataset {dataset!r}, which has "
            f"none; use graph.split.strategy=random, leave_last or global_time"
        )
    I = np.int64(num_items)
    codes, names = event_codes if event_codes is not None else pd.factorize(df["event"].to_numpy())
    if target not in list(names):
        from hetrec.graph.schema import unknown_target_message

        raise ConfigError(unknown_target_message(target, [str(n) for n in names]))
    tcode = list(names).index(target)
    users = df["user"].to_numpy(np.int64)
    items = df["item"].to_numpy(np.int64)
    ts = df["timestamp"].to_numpy(np.int64)
    row_key = users * I + items
    trow = np.flatnonzero(codes == tcode)
    if len(trow) == 0:
        raise ConfigError(f"dataset {dataset!r} has no {target!r} interactions to split")

    # unique target pairs with the time and row of their first occurrence, sorted by key
    tkey = row_key[trow]
    order = np.lexsort((trow, ts[trow], tkey))
    ks = tkey[order]
    first = np.empty(len(ks), dtype=bool)
    first[0] = True
    np.not_equal(ks[1:], ks[:-1], out=first[1:])
    pair_key = ks[first]
    pair_pos = order[first]  # position in trow of the first occurrence
    pair_time = ts[trow][pair_pos]
    pair_user = pair_key // I
    P = len(pair_key)
    label = np.zeros(P, dtype=np.int8)  # 0 train, 1 valid, 2 test
    keep_rows = np.ones(len(df), dtype=bool)
    params: dict[str, object] = {"strategy": strategy, "target": target}
    cut: int | None = None

    cold_label = np.zeros(P, dtype=np.int8)  # cold_items: 0 warm, 1 cold valid, 2 cold test
    cold_items = _EMPTY
    if strategy == "cold_items":
        if "split" in df.columns:
            log.warning("%s: graph.split.strategy=cold_items ignores the given split column (warm pairs are split at "
                        "random); e.g. dataset.split=null for MovieLens", dataset)
        # items first, from their own seeded stream, so the cold sets do not depend on the warm ratios
        item_rng = np.random.default_rng([int(seed), 0xC01D])
        eligible = np.unique(pair_key % I)
        n_cold = int(round(float(cold_share) * len(eligible)))
        if n_cold < 1 or n_cold >= len(eligible):
            raise ValueError(
                f"graph.split.cold_share={cold_share} of the {len(eligible)} items with {target!r} interactions of "
                f"dataset {dataset!r} gives {n_cold} cold items; choose a share that leaves at least one cold and "
                f"one warm item"
            )
        perm = item_rng.permutation(eligible)
        cold_items = np.sort(perm[:n_cold])
        n_cv = int(round(float(cold_valid_share) * n_cold))
        item_lab = np.zeros(int(I), dtype=np.int8)
        item_lab[perm[:n_cv]] = 1
        item_lab[perm[n_cv:n_cold]] = 2
        cold_label = item_lab[pair_key % I]
        is_cold_row = item_lab[items] > 0
        keep_rows &= ~is_cold_row  # every interaction of a cold item, of any event
        warm = np.flatnonzero(cold_label == 0)
        rng = np.random.default_rng(seed)
        label[warm] = _per_user_holdout(
            pair_user[warm], rng.random(len(warm)), test_ratio, valid_ratio, rng, stochastic=True
        )
        params.update(valid_ratio=float(valid_ratio), test_ratio=float(test_ratio), seed=int(seed),
                      cold_share=float(cold_share), cold_valid_share=float(cold_valid_share))
    elif strategy == "random":
        rng = np.random.default_rng(seed)
        label = _per_user_holdout(pair_user, rng.random(P), test_ratio, valid_ratio, rng, stochastic=True)
        params.update(valid_ratio=float(valid_ratio), test_ratio=float(test_ratio), seed=int(seed))
    elif strategy == "leave_last":
        # latest first: sort key = -time, ties by later row first
        first_row = trow[pair_pos]
        rank_key = np.lexsort((-first_row, -pair_time))  # ascending order of "lateness rank"
        score = np.empty(P, dtype=np.float64)
        score[rank_key] = np.arange(P, dtype=np.float64)
        n_test = 1.0 if test_ratio > 0 else 0.0
        n_valid = 1.0 if valid_ratio > 0 else 0.0
        label = _per_user_holdout(pair_user, score, n_test, n_valid, None, stochastic=False, absolute=True)
        params.update(valid=bool(valid_ratio > 0), test=bool(test_ratio > 0))
    elif strategy == "global_time":
        cut = parse_time(cut_time, "cut_time")
        vcut = parse_time(valid_cut_time, "valid_cut_time")
        tts = ts[trow]
        if cut is None and test_ratio > 0:
            cut = int(np.quantile(tts, 1.0 - test_ratio, method="higher"))
        if vcut is None and valid_ratio > 0:
            if cut_time is None:
                vcut = int(np.quantile(tts, 1.0 - test_ratio - valid_ratio, method="higher"))
            else:
                before = tts[tts < cut] if cut is not None else tts
                if len(before) == 0:
                    raise ConfigError(
                        f"graph.split.cut_time={cut_time!r} leaves no {target!r} interaction before it; "
                        f"choose a later cut_time"
                    )
                vcut = int(np.quantile(before, 1.0 - valid_ratio, method="higher"))
        if cut is not None and vcut is not None and vcut > cut:
            raise ConfigError(
                f"graph.split.valid_cut_time={valid_cut_time!r} ({vcut}) is after graph.split.cut_time={cut_time!r} "
                f"({cut}); the validation period must come before the test period"
            )
        if cut is not None:
            label[pair_time >= cut] = 2
        if vcut is not None:
            label[(pair_time >= vcut) & (label == 0)] = 1
        first_cut = vcut if vcut is not None else cut
        if first_cut is not None:
            keep_rows &= ts < first_cut
            if not (pair_time < first_cut).any():
                raise ConfigError(
                    f"global_time cut {first_cut} leaves no training {target!r} interactions; "
                    f"choose later cuts or smaller ratios"
                )
        params.update(cut_time=cut, valid_cut_time=vcut)
    else:  # given
        lab_codes = pd.Series(df["split"].to_numpy()).map({"train": 0, "valid": 1, "test": 2})
        if lab_codes.isna().any():
            bad = df["split"].iloc[int(np.flatnonzero(lab_codes.isna().to_numpy())[0])]
            raise ConfigError(f"dataset {dataset!r}: split label {bad!r}; use train, valid or test")
        row_lab = lab_codes.to_numpy(np.int8)
        # pair label = max over its target rows
        lab_sorted = row_lab[trow][order]
        starts = np.flatnonzero(first)
        label = np.maximum.reduceat(lab_sorted, starts).astype(np.int8)
        keep_rows &= row_lab == 0
        carved = False
        if not (label == 1).any() and valid_ratio > 0:
            rng = np.random.default_rng(seed)
            tr = np.flatnonzero(label == 0)
            sub = _per_user_holdout(pair_user[tr], rng.random(len(tr)), 0.0, valid_ratio, rng, stochastic=True)
            label[tr[sub == 1]] = 1
            carved = True
        params.update(valid_ratio=float(valid_ratio), seed=int(seed), valid_carved=carved)

    if strategy == "cold_items":
        label[cold_label > 0] = 3  # neither train nor the warm valid/test; their rows are already removed
    held = label > 0
    held_keys = pair_key[held]  # sorted (pair_key is sorted)
    if len(held_keys):
        idx = np.searchsorted(held_keys, row_key)
        hit = held_keys[np.minimum(idx, len(held_keys) - 1)] == row_key
        keep_rows &= ~hit
    train_key = pair_key[label == 0]
    valid_key = pair_key[label == 1]
    test_key = pair_key[label == 2]
    h = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    h.update(np.ascontiguousarray(valid_key).tobytes())
    h.update(b"|")
    h.update(np.ascontiguousarray(test_key).tobytes())
    cold_valid_key = pair_key[cold_label == 1]
    cold_test_key = pair_key[cold_label == 2]
    if strategy == "cold_items":
        h.update(b"|cold|")
        h.update(np.ascontiguousarray(cold_valid_key).tobytes())
        h.update(b"|")
        h.update(np.ascontiguousarray(cold_test_key).tobytes())

    def pairs(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (k // I).astype(np.int64), (k % I).astype(np.int64)

    info = {
        "strategy": strategy,
        "pairs": {"train": int(len(train_key)), "valid": int(len(valid_key)), "test": int(len(test_key))},
        "rows_removed": int((~keep_rows).sum()),
    }
    if len(test_key) == 0 and (test_ratio > 0 or strategy == "given" or cut_time is not None):
        # not an error here (a graph with nothing held out is fine to build); a run that must report test metrics
        # raises this message (hetrec.train.checks.validate_against_data)
        info["no_test"] = _no_test_message(strategy, target, dataset, test_ratio, cut_time, cut, pair_user, pair_time)
    if strategy == "cold_items":
        info["cold_items"] = {"valid": int(len(np.unique(cold_valid_key % I))),
                              "test": int(len(np.unique(cold_test_key % I)))}
        info["pairs"].update(cold_valid=int(len(cold_valid_key)), cold_test=int(len(cold_test_key)))
    return SplitResult(
        strategy=strategy,
        params=params,
        train=pairs(train_key),
        valid=pairs(valid_key),
        test=pairs(test_key),
        keep_rows=keep_rows,
        split_hash=h.hexdigest()[:12],
        info=info,
        cold_valid=pairs(cold_valid_key),
        cold_test=pairs(cold_test_key),
        cold_items=cold_items.astype(np.int64),
    )


def _iso(t: int) -> str:
    return pd.Timestamp(int(t), unit="s").strftime("%Y-%m-%d %H:%M:%S")


def _no_test_message(strategy: str, target: str, dataset: str, test_ratio: float, cut_time: object,
                     cut: int | None, pair_user: np.ndarray, pair_time: np.ndarray) -> str:
    """Why a split that should hold out test pairs holds out none, and the fix (evaluating on nothing gives nan)."""
    head = f"dataset {dataset!r}: the split holds out no test {target!r} pairs, so there is nothing to evaluate on"
    if strategy == "global_time":
        last = int(pair_time.max())
        given = f"graph.split.cut_time={cut_time!r}" if cut_time is not None else "the test cut"
        return (f"{head}: {given} ({_iso(cut) if cut is not None else '?'}) is after the last {target!r} interaction "
                f"({_iso(last)}); choose an earlier graph.split.cut_time, or graph.split.cut_time=null to cut at the "
                f"1 - graph.split.test_ratio quantile")
    if strategy == "given":
        return (f"{head}: no {target!r} interaction is labelled 'test' in the split column; label the test rows "
                f"split=test, or use graph.split.strategy=random")
    counts = np.bincount(np.unique(pair_user, return_inverse=True)[1])
    multi = int((counts >= 2).sum())
    if multi == 0:
        return (f"{head}: each of the {len(counts)} users has a single {target!r} pair, and every user keeps at "
                f"least one pair for training; use data where users come back, or graph.split.strategy=global_time "
                f"to hold out the latest pairs of all users")
    return (f"{head}: graph.split.test_ratio={test_ratio} draws none from the {multi} users with two or more pairs; "
            f"raise graph.split.test_ratio (e.g. graph.split.test_ratio=0.2)")


def _per_user_holdout(
    pair_user: np.ndarray,
    score: np.ndarray,
    test: float,
    valid: float,
    rng: np.random.Generator | None,
    stochastic: bool,
    absolute: bool = False,
) -> np.ndarray:
    """Label pairs per user: the ``n_test`` lowest-``score`` pairs of a user -> test (2), the next ``n_valid`` ->
    valid (1), the rest train (0). ``n`` is ``ratio * count`` (stochastically rounded when ``stochastic``) or the
    absolute numbers ``test``/``valid`` when ``absolute``; every user keeps at least one training pair."""
    P = len(pair_user)
    label = np.zeros(P, dtype=np.int8)
    if P == 0:
        return label
    uniq, inv = np.unique(pair_user, return_inverse=True)
    cnt = np.bincount(inv)
    U = len(uniq)
    if absolute:
        n_test = np.full(U, int(test), dtype=np.int64)
        n_valid = np.full(U, int(valid), dtype=np.int64)
    else:
        if stochastic:
            assert rng is not None
            n_test = np.floor(cnt * test + rng.random(U)).astype(np.int64) if test > 0 else np.zeros(U, np.int64)
            n_valid = np.floor(cnt * valid + rng.random(U)).astype(np.int64) if valid > 0 else np.zeros(U, np.int64)
        else:
            n_test = np.round(cnt * test).astype(np.int64)
            n_valid = np.round(cnt * valid).astype(np.int64)
    n_test = np.minimum(n_test, cnt - 1)
    n_valid = np.minimum(n_valid, cnt - 1 - n_test)
    order = np.lexsort((score, inv))
    starts = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    rank = np.arange(P) - np.repeat(starts, cnt)
    u_sorted = inv[order]
    lab_sorted = np.where(rank < n_test[u_sorted], 2, np.where(rank < (n_test + n_valid)[u_sorted], 1, 0))
    label[order] = lab_sorted.astype(np.int8)
    return label
