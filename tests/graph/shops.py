"""Hand-made shop logs for the graph-stage tests (imported by the test modules)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from hetrec.data.idmap import IdMap
from hetrec.data.shop import ShopData


def make_shop(
    rows: Sequence[tuple],
    num_users: int | None = None,
    num_items: int | None = None,
    item_attrs: pd.DataFrame | None = None,
    user_attrs: pd.DataFrame | None = None,
    attr_kinds: dict | None = None,
    has_time: bool = True,
    name: str = "toy",
    check: bool = True,
) -> ShopData:
    """ShopData from ``(user, item, event, timestamp, basket[, weight[, split]])`` tuples of internal ids."""
    cols = ["user", "item", "event", "timestamp", "basket", "weight", "split"][: len(rows[0])]
    df = pd.DataFrame([tuple(r) for r in rows], columns=cols)
    if "weight" not in df:
        df["weight"] = 1.0
    df["user"] = df["user"].astype(np.int64)
    df["item"] = df["item"].astype(np.int64)
    df["timestamp"] = df["timestamp"].astype(np.int64)
    df["basket"] = df["basket"].astype(np.int64)
    df["weight"] = df["weight"].astype(np.float32)
    df["event"] = df["event"].astype(object)
    U = num_users if num_users is not None else int(df["user"].max()) + 1
    I = num_items if num_items is not None else int(df["item"].max()) + 1
    shop = ShopData(
        name=name,
        interactions=df,
        users=IdMap([f"u{k}" for k in range(U)], name="user"),
        items=IdMap([f"i{k}" for k in range(I)], name="item"),
        user_attrs=user_attrs,
        item_attrs=item_attrs,
        attr_kinds=attr_kinds or {"user": {}, "item": {}},
        has_time=has_time,
    )
    return shop.check() if check else shop


def random_shop(seed: int = 0, num_users: int = 40, num_items: int = 30, n: int = 900, with_split: bool = False,
                has_time: bool = True) -> ShopData:
    """A random log with clicks/carts/purchases, timestamps and purchase baskets (one basket per user-day)."""
    rng = np.random.default_rng(seed)
    u = rng.integers(0, num_users, n)
    pop = 1.0 / np.arange(1, num_items + 1)
    i = rng.choice(num_items, n, p=pop / pop.sum())
    ev = rng.choice(["clicks", "carts", "purchases"], n, p=[0.6, 0.2, 0.2])
    ts = rng.integers(0, 30 * 86400, n)
    basket = np.where(ev == "purchases", u * 100 + ts // 86400 // 3, -1)
    rows = [(int(a), int(b), str(c), int(d), int(e), 1.0) for a, b, c, d, e in zip(u, i, ev, ts, basket)]
    if with_split:
        lab = rng.choice(["train", "valid", "test"], n, p=[0.7, 0.1, 0.2])
        rows = [r + (str(s),) for r, s in zip(rows, lab)]
    # one single-interaction user (stays in training under random/leave_last)
    rows.append((num_users, 0, "clicks", 5, -1, 1.0) + (("train",) if with_split else ()))
    return make_shop(rows, num_users=num_users + 1, num_items=num_items, has_time=has_time)


def pair_set(pairs: tuple[torch.Tensor, torch.Tensor]) -> set[tuple[int, int]]:
    u, i = pairs
    return set(zip(u.tolist(), i.tolist()))
