"""``dataset.bad_values``: negative, zero, missing, infinite and overflowing weights and timestamps get the policy of
their column (error by default, drop, clip) and a count in the log and in ``ShopData.info["bad_values"]``."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from hetrec.data import DataError
from hetrec.data.datasets import Baskets, Tables
from hetrec.data.values import apply_bad_values, bad_value_masks, check_policies
from hetrec.errors import ConfigError, HetrecError

# quantity: row 3 negative, row 4 zero, row 5 missing, row 6 inf, row 7 overflows float32; rows 2 and 8 are fine.
QUANTITIES = """user,item,ts,quantity
u1,a,1735800000,2
u1,b,1735800100,-1
u2,a,1735800200,0
u2,c,1735800300,
u3,b,1735800400,inf
u3,c,1735800500,1e40
u4,a,1735800600,5
"""

# ts: row 3 negative, row 4 zero, row 5 +inf, row 6 beyond int64 seconds; weights all fine.
TIMES = """user,item,ts,quantity
u1,a,1735800000,1
u1,b,-20,1
u2,a,0,1
u2,c,inf,1
u3,b,1e300,1
u4,a,1735800600,1
"""

COLS = {"user": "user", "item": "item", "timestamp": "ts", "weight": "quantity"}


def tables(tmp_path, text, **kw) -> Tables:
    (tmp_path / "log.csv").write_text(text)
    return Tables(interactions="log.csv", columns=COLS, root=str(tmp_path), **kw)


def test_weights_error_by_default_naming_row_column_and_counts(tmp_path):
    with pytest.raises(DataError) as e:
        tables(tmp_path, QUANTITIES).load()
    msg = str(e.value)
    assert "row 3" in msg and "column 'quantity'" in msg and "negative weight value" in msg
    assert "5 rows have bad weight values (1 missing, 1 infinite, 1 overflowing, 1 negative, 1 zero)" in msg
    assert "dataset.bad_values.weight=drop" in msg
    assert isinstance(e.value, HetrecError) and isinstance(e.value, ValueError)


def test_weights_drop_keeps_the_good_rows_and_counts_the_rest(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="hetrec.data"):
        shop = tables(tmp_path, QUANTITIES, bad_values={"weight": "drop"}).load()
    assert shop.interactions["weight"].tolist() == [2.0, 5.0]
    counts = shop.info["bad_values"]["quantity"]
    assert counts == {"missing": 1, "infinite": 1, "overflowing": 1, "negative": 1, "zero": 1, "policy": "drop"}
    assert "dropped 5 rows with bad weight values" in caplog.text


def test_weights_clip_into_the_valid_range_and_drop_missing(tmp_path):
    shop = tables(tmp_path, QUANTITIES, bad_values={"weight": "clip"}).load()
    # by row: 2, -1 -> 2 (smallest valid), 0 -> 2, (missing: dropped), inf -> 5 (largest valid), 1e40 -> 5, 5
    assert shop.interactions["weight"].tolist() == [2.0, 2.0, 2.0, 5.0, 5.0, 5.0]
    assert np.isfinite(shop.interactions["weight"].to_numpy()).all()
    assert shop.info["bad_values"]["quantity"]["policy"] == "clip"


def test_timestamps_error_drop_and_clip(tmp_path):
    with pytest.raises(DataError, match=r"row 3, column 'ts': negative timestamp value; 4 rows"):
        tables(tmp_path, TIMES).load()
    shop = tables(tmp_path, TIMES, bad_values={"timestamp": "drop"}).load()
    assert shop.interactions["timestamp"].tolist() == [1735800000, 1735800600]
    shop = tables(tmp_path, TIMES, bad_values={"timestamp": "clip"}).load()
    assert shop.interactions["timestamp"].tolist() == [1735800000, 1735800000, 1735800000, 1735800600,
                                                       1735800600, 1735800600]
    assert shop.info["bad_values"]["ts"] == {"infinite": 1, "overflowing": 1, "negative": 1, "zero": 1,
                                             "policy": "clip"}


def test_baskets_quantity_column_follows_the_policy(tmp_path):
    (tmp_path / "orders.csv").write_text("order_id,item,qty\no1,a,1\no1,b,-2\no2,a,3\no2,c,1\n")
    kw = dict(path="orders.csv", format="long", quantity_column="qty", items=None, category_columns=None,
              root=str(tmp_path))
    with pytest.raises(DataError, match=r"row 3, column 'qty': negative weight"):
        Baskets(**kw).load()
    shop = Baskets(**kw, bad_values={"weight": "drop"}).load()
    assert len(shop.interactions) == 3 and shop.info["bad_values"]["qty"]["negative"] == 1


def test_default_policy_keeps_the_cache_fingerprint(tmp_path):
    a = tables(tmp_path, QUANTITIES)
    assert a.fingerprint() == tables(tmp_path, QUANTITIES, bad_values={"weight": "error"}).fingerprint()
    assert a.fingerprint() != tables(tmp_path, QUANTITIES, bad_values={"weight": "drop"}).fingerprint()


def test_policy_config_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"dataset\.bad_values\.weight='skip'"):
        check_policies({"weight": "skip"})
    with pytest.raises(ConfigError, match=r"dataset\.bad_values\.price: unknown column"):
        check_policies({"price": "drop"})


def test_nothing_left_is_an_error_not_an_empty_dataset():
    v = np.array([-1.0, 0.0, np.nan])
    with pytest.raises(DataError, match="every weight value is bad"):
        apply_bad_values(v, "weight", "drop", None, "w", "f.csv")
    with pytest.raises(DataError, match="every weight value is bad"):
        apply_bad_values(v, "weight", "clip", None, "w", "f.csv")


def test_masks_do_not_overlap_and_integers_only_have_sign_problems():
    v = np.array([1.0, -np.inf, np.inf, np.nan, -1e39, 0.0, -2.0, 3.0e38])
    masks = bad_value_masks(v, "weight")
    assert sum(m.astype(int) for m in masks.values()).max() == 1
    assert {k: int(m.sum()) for k, m in masks.items()} == {"missing": 1, "infinite": 2, "overflowing": 1,
                                                         "negative": 1, "zero": 1}
    assert set(bad_value_masks(np.array([0, -1, 5]), "timestamp")) == {"negative", "zero"}
