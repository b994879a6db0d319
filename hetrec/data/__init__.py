"""Data stage: tables, readers, validation, id maps and datasets."""

from __future__ import annotations

from hetrec.data.idmap import IdMap, atomic_write_text
from hetrec.data.shop import INTERACTION_COLUMNS, SPLITS, AttrKind, ShopData

__all__ = ["IdMap", "ShopData", "AttrKind", "INTERACTION_COLUMNS", "SPLITS", "atomic_write_text"]
