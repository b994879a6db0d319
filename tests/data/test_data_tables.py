"""Tables and Baskets datasets on hand-written shop logs, and the validation errors (absent ids, baskets, events)."""

from __future__ import annotations

import logging
import zipfile

import numpy as np
import pandas as pd
import pytest

from hetrec.data import DataError, build_shop
from hetrec.data.datasets import Baskets, Tables

# One denormalized transaction table: one product line of a purchase per row, with missing attribute values.
TRANSACTIONS = """customer_id,date,product_id,product_category,quantity,price,age_band,region
C1,2025-03-01,P1,Food>Pasta,2,1.99,25-34,North
C1,2025-03-01,P2,Food>Pasta,1,2.49,25-34,North
C2,2025-03-01,P1,Food>Pasta,1,1.99,,South
C2,2025-03-01,P3,Electronics>Phones,1,299.00,35-44,
C1,2025-03-05,P3,,1,,25-34,North
C3,2025-03-06,P4,Home>Kitchen,3,15.50,,
C2,2025-03-07,P2,Food>Pasta,2,2.49,35-44,South
"""

DENORM = dict(
    interactions="transactions.csv",
    columns={"user": "customer_id", "item": "product_id", "timestamp": "date", "weight": "quantity"},
    date_format="%Y-%m-%d",
    basket_columns=["customer_id", "date"],
    user_attr_columns={"age_band": "categorical", "region": "categorical"},
    item_attr_columns={"category": {"column": "product_category", "kind": "categorical"}, "price": "numeric"},
)


@pytest.fixture
def shop_dir(tmp_path):
    (tmp_path / "transactions.csv").write_text(TRANSACTIONS)
    return tmp_path


def test_denormalized_transaction_table(shop_dir):
    shop = Tables(root=str(shop_dir), **DENORM).load()
    assert shop.num_users == 3 and shop.num_items == 4 and len(shop.interactions) == 7
    df = shop.interactions
    assert set(df["event"]) == {"purchases"} and shop.has_time
    assert df["weight"].tolist() == [2, 1, 1, 1, 1, 3, 2]
    assert df["timestamp"].iloc[0] == int(pd.Timestamp("2025-03-01").timestamp())
    # baskets = (customer, date): C1@03-01 {P1,P2}, C2@03-01 {P1,P3}, then singletons
    assert df["basket"].tolist() == [0, 0, 1, 1, 2, 3, 4]
    ua = shop.user_attrs.assign(raw=shop.users.raw_ids).set_index("raw")
    assert ua.loc["C2", "age_band"] == "35-44"  # first non-missing value per customer
    assert ua.loc["C2", "region"] == "South"
    assert pd.isna(ua.loc["C3", "age_band"])  # missing stays missing
    ia = shop.item_attrs.assign(raw=shop.items.raw_ids).set_index("raw")
    assert ia.loc["P3", "category"] == "Electronics>Phones" and ia.loc["P3", "price"] == 299.0
    assert ia.loc["P4", "price"] == 15.5
    assert shop.attr_kinds["item"] == {"category": "categorical", "price": "numeric"}


def test_zipped_bom_semicolon_table_with_event_map_and_side_files(tmp_path):
    log_csv = (
        "\ufeffvisitor;ts;event;itemid;session\n"
        "v1;2025-01-01 10:00:00;view;a;s1\n"
        "v1;2025-01-01 10:01:00;addtocart;a;s1\n"
        "v1;2025-01-01 10:02:00;transaction;a;s1\n"
        "v2;2025-01-02 09:00:00;view;b;s2\n"
        "v2;2025-01-02 09:00:30;view;\"c\";s2\n"
    )
    with zipfile.ZipFile(tmp_path / "events.csv.zip", "w") as z:
        z.writestr("events.csv", log_csv.encode("utf-8"))
    (tmp_path / "items.csv").write_text(
        "id,title,tags\na,Red phone case,phone|case\nb,Blue pen,office\nc,Ink,office\nd,Unused,x\n"
    )
    (tmp_path / "users.csv").write_text("uid,age\nv1,31\nv2,\n")
    shop = Tables(
        root=str(tmp_path), interactions="events.csv.zip", sep=";",
        columns={"user": "visitor", "item": "itemid", "event": "event", "timestamp": "ts", "basket": "session"},
        date_format="%Y-%m-%d %H:%M:%S",
        event_map={"view": "clicks", "addtocart": "carts", "transaction": "purchases"},
        items={"path": "items.csv", "id_column": "id"}, item_attr_columns={"title": "text", "tags": "multilabel"},
        users={"path": "users.csv", "id_column": "uid"}, user_attr_columns={"age": "numeric"},
    ).load()
    assert shop.events == ["clicks", "carts", "purchases"]
    assert shop.num_items == 4  # unused catalogue item kept (cold start)
    assert shop.item_attrs["tags"].tolist() == ["phone|case", "office", "office", "x"]
    assert shop.user_attrs["age"].iloc[0] == 31 and np.isnan(shop.user_attrs["age"].iloc[1])
    assert shop.interactions["basket"].tolist() == [0, 0, 0, 1, 1]


def test_parquet_interactions(tmp_path):
    pd.DataFrame({"u": [1, 2, 2], "i": [5, 5, 6], "t": [100, 200, 300]}).to_parquet(tmp_path / "x.parquet")
    shop = Tables(root=str(tmp_path), interactions="x.parquet", columns={"user": "u", "item": "i", "timestamp": "t"},
                  default_event="clicks").load()
    assert shop.users.raw_ids.tolist() == ["1", "2"] and shop.events == ["clicks"]
    assert shop.interactions["timestamp"].tolist() == [100, 200, 300]


def test_missing_basket_column_names_it_and_the_override(shop_dir):
    cfg = {**DENORM, "basket_columns": ["customer_id", "order_date"]}
    with pytest.raises(DataError) as e:
        Tables(root=str(shop_dir), **cfg).load()
    msg = str(e.value)
    assert "'order_date'" in msg and "transactions.csv" in msg and "dataset.basket_columns" in msg


def test_misnamed_user_column_suggests_name_and_override(shop_dir):
    cfg = {**DENORM, "columns": {**DENORM["columns"], "user": "customerid"}}
    with pytest.raises(DataError) as e:
        Tables(root=str(shop_dir), **cfg).load()
    assert "did you mean 'customer_id'" in str(e.value) and "dataset.columns.user=customer_id" in str(e.value)


def test_unparsable_date_in_tables(shop_dir):
    cfg = {**DENORM, "date_format": "%d/%m/%Y"}
    with pytest.raises(DataError) as e:
        Tables(root=str(shop_dir), **cfg).load()
    assert e.value.row == 2 and e.value.column == "date" and "%d/%m/%Y" in str(e.value)


def test_non_numeric_quantity(tmp_path):
    (tmp_path / "transactions.csv").write_text(TRANSACTIONS.replace("P4,Home>Kitchen,3", "P4,Home>Kitchen,three"))
    with pytest.raises(DataError) as e:
        Tables(root=str(tmp_path), **DENORM).load()
    assert (e.value.row, e.value.column, e.value.value) == (7, "quantity", "three")


def test_empty_user_id(tmp_path):
    (tmp_path / "transactions.csv").write_text(TRANSACTIONS.replace("C3,2025-03-06", ",2025-03-06"))
    with pytest.raises(DataError) as e:
        Tables(root=str(tmp_path), **DENORM).load()
    assert e.value.row == 7 and e.value.column == "customer_id"


def test_user_fallback_for_anonymous_rows(tmp_path):
    (tmp_path / "p.csv").write_text("sessionId;userId;itemId\n1;U9;a\n2;NA;b\n2;NA;c\n")
    shop = Tables(root=str(tmp_path), interactions="p.csv", sep=";",
                  columns={"user": "userId", "item": "itemId"}, user_fallback="sessionId").load()
    assert shop.users.raw_ids.tolist() == ["U9", "sessionId:2"]


def test_event_value_missing_from_event_map(tmp_path):
    (tmp_path / "e.csv").write_text("u,i,e\n1,a,view\n1,b,wishlist\n")
    with pytest.raises(DataError) as e:
        Tables(root=str(tmp_path), interactions="e.csv", columns={"user": "u", "item": "i", "event": "e"},
               event_map={"view": "clicks"}).load()
    assert e.value.row == 3 and e.value.value == "wishlist" and "dataset.event_map.wishlist=" in str(e.value)


def test_duplicates_policy_in_tables(shop_dir):
    text = TRANSACTIONS + "C3,2025-03-06,P4,Home>Kitchen,3,15.50,,\n"
    (shop_dir / "transactions.csv").write_text(text)
    with pytest.raises(DataError, match="duplicate") as e:
        Tables(root=str(shop_dir), **DENORM, duplicates="error").load()
    assert e.value.row == 9 and "dataset.duplicates=drop" in str(e.value)
    shop = Tables(root=str(shop_dir), **DENORM, duplicates="drop").load()
    assert len(shop.interactions) == 7 and shop.info["duplicates"] == 1


@pytest.fixture
def with_items(shop_dir):
    (shop_dir / "items.csv").write_text("product_id,brand\nP1,Barilla\nP2,Mutti\nP3,Acme\n")  # no P4
    return shop_dir


def test_items_absent_from_item_table_error(with_items):
    cfg = {**DENORM, "item_attr_columns": {"brand": "categorical"}, "items": {"path": "items.csv",
                                                                               "id_column": "product_id"}}
    with pytest.raises(DataError) as e:
        Tables(root=str(with_items), **cfg).load()
    msg = str(e.value)
    assert e.value.row == 7 and e.value.column == "product_id" and e.value.value == "P4"
    assert "1 interactions name 1 items absent" in msg and "items.csv" in msg
    assert "dataset.missing_items=drop" in msg


def test_items_absent_from_item_table_drop_counts(with_items, caplog):
    cfg = {**DENORM, "item_attr_columns": {"brand": "categorical"}, "items": {"path": "items.csv",
                                                                               "id_column": "product_id"}}
    with caplog.at_level(logging.WARNING, logger="hetrec.data"):
        shop = Tables(root=str(with_items), **cfg, missing_items="drop").load()
    assert shop.info["dropped_missing_items"] == 1 and shop.info["missing_item_ids"] == 1
    assert len(shop.interactions) == 6 and shop.num_items == 3
    assert "dropped 1 interactions naming 1 items absent" in caplog.text


def test_users_absent_from_user_table_error_and_drop(shop_dir):
    (shop_dir / "users.csv").write_text("customer_id,segment\nC1,gold\nC2,silver\n")
    cfg = {**DENORM, "user_attr_columns": {"segment": "categorical"},
           "users": {"path": "users.csv", "id_column": "customer_id"}}
    with pytest.raises(DataError) as e:
        Tables(root=str(shop_dir), **cfg).load()
    assert e.value.column == "customer_id" and e.value.value == "C3" and "dataset.missing_users=drop" in str(e.value)
    shop = Tables(root=str(shop_dir), **cfg, missing_users="drop").load()
    assert shop.info["dropped_missing_users"] == 1 and shop.num_users == 2


def test_duplicate_id_in_item_table(shop_dir):
    (shop_dir / "items.csv").write_text("product_id,brand\nP1,a\nP2,b\nP3,c\nP4,d\nP2,e\n")
    cfg = {**DENORM, "item_attr_columns": {"brand": "categorical"}, "items": {"path": "items.csv",
                                                                               "id_column": "product_id"}}
    with pytest.raises(DataError, match="appears twice") as e:
        Tables(root=str(shop_dir), **cfg).load()
    assert e.value.row == 6 and "items.csv" in str(e.value)


def test_build_shop_in_memory_and_unknown_split_label():
    df = pd.DataFrame({"user": ["a", "b"], "item": ["x", "x"], "event": "clicks", "split": ["train", "tset"]},
                      index=pd.Index([2, 3]))
    with pytest.raises(DataError) as e:
        build_shop("t", df)
    assert e.value.row == 3 and e.value.value == "tset"
    shop = build_shop("t", df.assign(split=["train", "test"]))
    assert shop.num_users == 2 and shop.num_items == 1 and not shop.has_time
    assert shop.interactions["basket"].tolist() == [-1, -1]


GROCERIES = (
    "citrus fruit,semi-finished bread,margarine\ntropical fruit,yogurt,coffee\nwhole milk\n\nyogurt,yogurt,whole milk\n"
)
ITEMS = ("item,level2,level1\ncitrus fruit,fruit,fresh produce\nsemi-finished bread,bread,bakery\n"
         "margarine,fats,fresh products\ntropical fruit,fruit,fresh produce\nyogurt,dairy,fresh products\n"
         "coffee,drinks,beverages\nwhole milk,dairy,fresh products\n")


def test_baskets_one_per_line_with_item_categories(tmp_path):
    (tmp_path / "g.csv").write_text(GROCERIES)
    (tmp_path / "items.csv").write_text(ITEMS)
    shop = Baskets(root=str(tmp_path), path="g.csv", items={"path": "items.csv", "id_column": "item"},
                   category_columns=["level1", "level2"]).load()
    df = shop.interactions
    assert shop.num_users == 4 and shop.info["baskets"] == 4 and shop.info["empty_lines"] == 1
    assert shop.info["duplicates"] == 1 and len(df) == 9  # the repeated yogurt dropped
    assert (df["user"].to_numpy() == df["basket"].to_numpy()).all() and set(df["event"]) == {"purchases"}
    assert shop.users.raw_ids.tolist() == ["1", "2", "3", "5"]  # line numbers
    cat = dict(zip(shop.items.raw_ids, shop.item_attrs["category"]))
    assert cat["yogurt"] == "fresh products>dairy"


def test_baskets_item_absent_from_items_file(tmp_path):
    (tmp_path / "g.csv").write_text(GROCERIES + "caviar\n")
    (tmp_path / "items.csv").write_text(ITEMS)
    kw = dict(root=str(tmp_path), path="g.csv", items={"path": "items.csv", "id_column": "item"})
    with pytest.raises(DataError) as e:
        Baskets(**kw).load()
    assert e.value.row == 6 and e.value.value == "caviar"
    assert Baskets(**kw, missing_items="drop").load().info["dropped_missing_items"] == 1


def test_baskets_long_format_and_missing_order_column(tmp_path):
    (tmp_path / "o.csv").write_text("order,sku,qty,day\n1,a,2,2025-01-01\n1,b,1,2025-01-01\n2,a,1,2025-01-02\n")
    shop = Baskets(root=str(tmp_path), path="o.csv", format="long", basket_column="order", item_column="sku",
                   quantity_column="qty", timestamp_column="day", date_format="%Y-%m-%d").load()
    assert shop.num_users == 2 and shop.interactions["weight"].tolist() == [2, 1, 1] and shop.has_time
    with pytest.raises(DataError) as e:
        Baskets(root=str(tmp_path), path="o.csv", format="long", basket_column="order_id", item_column="sku").load()
    assert "did you mean 'order'" in str(e.value) and "dataset.basket_column=order" in str(e.value)


def test_fingerprint_follows_config_and_file_content(shop_dir):
    a = Tables(root=str(shop_dir), **DENORM)
    assert a.fingerprint() == Tables(root=str(shop_dir), **DENORM).fingerprint()
    assert a.fingerprint() != Tables(root=str(shop_dir), **{**DENORM, "basket_columns": ["customer_id"]}).fingerprint()
    before = a.fingerprint()
    (shop_dir / "transactions.csv").write_text(TRANSACTIONS.replace("P4,Home>Kitchen,3", "P4,Home>Kitchen,4"))
    assert a.fingerprint() != before


def test_missing_quantity_names_the_file_column(tmp_path):
    (tmp_path / "transactions.csv").write_text(TRANSACTIONS.replace("P4,Home>Kitchen,3", "P4,Home>Kitchen,"))
    with pytest.raises(DataError) as e:
        Tables(root=str(tmp_path), **DENORM).load()
    assert (e.value.row, e.value.column) == (7, "quantity") and "transactions.csv" in str(e.value)
