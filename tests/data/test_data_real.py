"""Real datasets from $HETREC_DATA (marked `data`; skipped with the reason when the files are absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from hetrec.data.datasets import Baskets, LightGCNText, MovieLens100K

pytestmark = pytest.mark.data
CONF = Path(__file__).resolve().parents[2] / "conf" / "dataset"


def need(folder: str) -> str:
    root = os.environ.get("HETREC_DATA")
    if not root:
        pytest.skip("HETREC_DATA is not set (point it at the real datasets, e.g. ../shared/datasets)")
    if not (Path(root) / folder).exists():
        pytest.skip(f"{folder}/ not found under HETREC_DATA={root}")
    return root


def test_ml100k_u1():
    root = need("ml-100k/raw")
    shop = MovieLens100K(root=root, split="u1").load()
    assert shop.interactions["split"].value_counts().to_dict() == {"train": 80_000, "test": 20_000}
    assert (shop.num_users, shop.num_items) == (943, 1682)
    assert shop.item_attrs["genres"].str.contains("Comedy").sum() > 0


def test_gowalla_lightgcn():
    root = need("gowalla-lightgcn")
    shop = LightGCNText(root=root, name="gowalla-lightgcn").load()
    assert (shop.num_users, shop.num_items) == (29_858, 40_981)
    assert shop.interactions["split"].value_counts().to_dict() == {"train": 810_128, "test": 217_242}


def test_groceries_baskets():
    root = need("groceries")
    shop = Baskets(root=root, items={"path": "groceries/items.csv", "id_column": "item"},
                   category_columns=["level1", "level2"]).load()
    assert shop.info["baskets"] == 9_835 and shop.num_items == 169 and len(shop.interactions) == 43_367
    assert shop.item_attrs["category"].nunique() == 55


def test_diginetica_through_tables_config():
    root = need("diginetica")
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("diginetica", overrides=[f"root={root}"])
    shop = instantiate(cfg).load()
    assert len(shop.interactions) == 18_025 and shop.num_items == 11_244
    assert shop.interactions["basket"].max() + 1 == 13_506
    assert shop.item_attrs["category"].notna().all()
