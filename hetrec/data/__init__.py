"""Data stage: tables, readers, validation, id maps and datasets."""

from __future__ import annotations

from hetrec.data.datasets import (
    Baskets,
    Dataset,
    LightGCNText,
    MovieLens100K,
    SyntheticShop,
    Tables,
)
from hetrec.data.errors import DataError
from hetrec.data.idmap import IdMap, atomic_write_text
from hetrec.data.readers import read_table
from hetrec.data.shop import INTERACTION_COLUMNS, SPLITS, AttrKind, ShopData
from hetrec.data.validate import attrs_from_rows, build_shop

__all__ = [
    "IdMap",
    "ShopData",
    "AttrKind",
    "INTERACTION_COLUMNS",
    "SPLITS",
    "atomic_write_text",
    "DataError",
    "read_table",
    "build_shop",
    "attrs_from_rows",
    "Dataset",
    "SyntheticShop",
    "MovieLens100K",
    "LightGCNText",
    "Baskets",
    "Tables",
]
