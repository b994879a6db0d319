"""`ShopData`: the data stage's output, the one contract between datasets and the graph builder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from hetrec.data.idmap import IdMap

AttrKind = Literal["numeric", "categorical", "text", "multilabel"]
"""How an attribute column becomes node features: standardized number, indexed category, hashed/TF-IDF text,
or a ``|``-separated set of labels (e.g. MovieLens genres)."""

INTERACTION_COLUMNS = ("user", "item", "event", "timestamp", "basket", "weight")
SPLITS = ("train", "valid", "test")


@dataclass
class ShopData:
    """A validated shop log with internal ids: what every dataset produces and the graph builder consumes.

    Attributes:
        name: dataset name (``"synthetic"``, ``"ml100k"``, ...).
        interactions: one row per event, columns
            ``user`` int64 internal user id; ``item`` int64 internal item id;
            ``event`` str relation name (``"clicks"``, ``"carts"``, ``"purchases"``, ``"rates"``);
            ``timestamp`` int64 seconds since the epoch (row order when the source has no time, see ``has_time``);
            ``basket`` int64 basket/session/order id, ``-1`` when the row belongs to no basket;
            ``weight`` float32 (rating, quantity or 1.0);
            optional ``split`` str in ``SPLITS`` when the source comes pre-split (``given`` split strategy).
        users, items: id maps; ``len(users)`` users and ``len(items)`` items, every id in ``interactions`` is below.
        user_attrs, item_attrs: attribute tables indexed by internal id ``0..n-1`` (exactly one row per id, missing
            values allowed) or ``None``. Item attribute ``category`` (a path like ``"Food>Dairy>Milk"`` for a tree)
            feeds the optional ``item-in-category`` relation.
        attr_kinds: ``{"user": {col: kind}, "item": {col: kind}}``, how each attribute column becomes features.
        has_time: whether ``timestamp`` is real time (``leave_last``/``global_time`` need it).
        sources: input files, hashed into the graph cache key.
        planted: ground truth of generated data (e.g. ``{"complementary_pairs": int64 [P, 2]}``), empty otherwise.
        info: free-form facts for reports (drop counts, row counts, ...).
    """

    name: str
    interactions: pd.DataFrame
    users: IdMap
    items: IdMap
    user_attrs: pd.DataFrame | None = None
    item_attrs: pd.DataFrame | None = None
    attr_kinds: dict[str, dict[str, AttrKind]] = field(default_factory=lambda: {"user": {}, "item": {}})
    has_time: bool = True
    sources: list[Path] = field(default_factory=list)
    planted: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, object] = field(default_factory=dict)

    @property
    def num_users(self) -> int:
        return len(self.users)

    @property
    def num_items(self) -> int:
        return len(self.items)

    @property
    def events(self) -> list[str]:
        """Event (relation) names present, in first-appearance order."""
        return list(pd.unique(self.interactions["event"]))

    def check(self) -> ShopData:
        """Assert the invariants above (cheap, vectorized); raise ``ValueError`` naming the broken one."""
        df = self.interactions
        missing = [c for c in INTERACTION_COLUMNS if c not in df.columns]
        if missing:
            raise ValueError(f"ShopData({self.name}): interactions lack columns {missing}")
        for col, n in (("user", self.num_users), ("item", self.num_items)):
            v = df[col].to_numpy()
            if v.dtype != np.int64:
                raise ValueError(f"ShopData({self.name}): column {col!r} must be int64, got {v.dtype}")
            if len(v) and (v.min() < 0 or v.max() >= n):
                raise ValueError(f"ShopData({self.name}): {col} ids must lie in [0, {n}), got [{v.min()}, {v.max()}]")
        for name, attrs, n in (("user", self.user_attrs, self.num_users), ("item", self.item_attrs, self.num_items)):
            if attrs is not None and len(attrs) != n:
                raise ValueError(f"ShopData({self.name}): {name}_attrs has {len(attrs)} rows for {n} {name}s")
        if "split" in df.columns:
            bad = set(pd.unique(df["split"])) - set(SPLITS)
            if bad:
                raise ValueError(f"ShopData({self.name}): unknown split labels {sorted(bad)}; use {SPLITS}")
        return self
