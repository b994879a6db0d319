"""read_table: formats (CSV, zip, gz, BOM, quotes, separators, Parquet) and every bad-input error."""

from __future__ import annotations

import gzip
import logging
import zipfile

import numpy as np
import pandas as pd
import pytest

from hetrec.data import DataError, read_table

CSV = "user,item,weight,when\nu1,i1,1.5,2025-01-02\nu2,i2,2,2025-01-03\nu1,i3,3,2025-01-04\n"


def write(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_plain_csv_index_is_file_row_and_ids_are_strings(tmp_path):
    p = write(tmp_path, "t.csv", "user,item,weight\n1,10,1.5\n2,20,2\n")
    df = read_table(p, ["user", "item"], optional_columns=["weight", "absent"], id_columns=["user", "item"],
                    numeric_columns=["weight"])
    assert list(df.columns) == ["user", "item", "weight"]
    assert df.index.tolist() == [2, 3]  # header is row 1
    assert df["user"].tolist() == ["1", "2"]
    assert df["weight"].tolist() == [1.5, 2.0]


def test_quoted_fields_and_custom_separator(tmp_path):
    p = write(tmp_path, "t.csv", 'id;title;price\n1;"Pasta; spaghetti, 500g";2.5\n2;"Sauce ""Napoli""";3\n')
    df = read_table(p, sep=";", id_columns=["id"], numeric_columns=["price"])
    assert df["title"].tolist() == ["Pasta; spaghetti, 500g", 'Sauce "Napoli"']


def test_zipped_csv_with_bom(tmp_path):
    p = tmp_path / "t.csv.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("inner/t.csv", "\ufeff" + CSV)
    df = read_table(p, ["user", "item"], id_columns=["user"])
    assert list(df.columns) == ["user", "item"]  # BOM not glued to the first column name
    assert df["user"].tolist() == ["u1", "u2", "u1"]


def test_bom_removed_even_with_plain_utf8_encoding(tmp_path):
    p = write(tmp_path, "t.csv", "\ufeff" + CSV)
    df = read_table(p, ["user"], encoding="utf-8")
    assert list(df.columns) == ["user"]


def test_gzip_csv(tmp_path):
    p = tmp_path / "t.csv.gz"
    p.write_bytes(gzip.compress(CSV.encode()))
    assert len(read_table(p, ["user", "item"])) == 3


def test_zip_with_two_files_is_an_error(tmp_path):
    p = tmp_path / "t.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("a.csv", CSV)
        z.writestr("b.csv", CSV)
    with pytest.raises(DataError, match="exactly one"):
        read_table(p)


def test_parquet(tmp_path):
    p = tmp_path / "t.parquet"
    pd.DataFrame({"user": [1, 2], "item": [10.0, np.nan], "w": [1.0, 2.0]}).to_parquet(p)
    df = read_table(p, ["user", "w"], id_columns=["user"])
    assert df["user"].tolist() == ["1", "2"] and df.index.tolist() == [1, 2]
    with pytest.raises(DataError) as e:
        read_table(p, ["item"], id_columns=["item"])
    assert e.value.row == 2 and e.value.column == "item"


def test_missing_file_suggests_the_close_name(tmp_path):
    write(tmp_path, "transactions.csv", CSV)
    with pytest.raises(DataError) as e:
        read_table(tmp_path / "transaction.csv")
    assert "transaction.csv" in str(e.value) and "transactions.csv" in str(e.value)


def test_empty_file(tmp_path):
    p = write(tmp_path, "e.csv", "")
    with pytest.raises(DataError, match="empty") as e:
        read_table(p)
    assert str(p) in str(e.value)


def test_header_only_file(tmp_path):
    p = write(tmp_path, "h.csv", "user,item\n")
    with pytest.raises(DataError, match="header but no data rows") as e:
        read_table(p, ["user", "item"])
    assert str(p) in str(e.value)


def test_misnamed_column_suggests_closest_and_override(tmp_path):
    p = write(tmp_path, "t.csv", "customer_id,product_id\n1,2\n")
    with pytest.raises(DataError) as e:
        read_table(p, ["customer_id", "productId"], hints={"productId": "dataset.columns.item"})
    msg = str(e.value)
    assert str(p) in msg and "'productId'" in msg and "did you mean 'product_id'" in msg
    assert "dataset.columns.item=product_id" in msg
    assert e.value.column == "productId"


def test_missing_column_without_close_name_lists_columns(tmp_path):
    p = write(tmp_path, "t.csv", "a,b\n1,2\n")
    with pytest.raises(DataError, match=r"columns present: \['a', 'b'\]"):
        read_table(p, ["zzz_qqq"])


@pytest.mark.parametrize("bad", ["", "   "])
def test_nan_or_empty_id_names_row_and_column(tmp_path, bad):
    p = write(tmp_path, "t.csv", f"user,item\nu1,i1\nu2,{bad}\nu3,i3\n")
    with pytest.raises(DataError) as e:
        read_table(p, id_columns=["user", "item"])
    assert e.value.row == 3 and e.value.column == "item"
    assert "row 3" in str(e.value) and "'item'" in str(e.value) and str(p) in str(e.value)


def test_non_numeric_value_names_first_bad_row_column_and_value(tmp_path):
    p = write(tmp_path, "t.csv", "user,item,weight\nu1,i1,1\nu1,i2,2.5\nu2,i1,two\nu3,i1,x\n")
    with pytest.raises(DataError) as e:
        read_table(p, numeric_columns=["weight"])
    assert (e.value.row, e.value.column, e.value.value) == (4, "weight", "two")
    assert "2 rows" in str(e.value) and str(p) in str(e.value)


def test_unparsable_date_names_row_column_value_and_format(tmp_path):
    p = write(tmp_path, "t.csv", "user,when\nu1,2025-01-02\nu2,02/01/2025\n")
    with pytest.raises(DataError) as e:
        read_table(p, date_columns={"when": "%Y-%m-%d"})
    msg = str(e.value)
    assert e.value.row == 3 and e.value.column == "when" and e.value.value == "02/01/2025"
    assert "%Y-%m-%d" in msg and str(p) in msg


def test_dates_parse_to_epoch_seconds(tmp_path):
    p = write(tmp_path, "t.csv", "user,when,ts\nu1,2025-01-02 10:00,1700000000\n")
    df = read_table(p, date_columns={"when": "%Y-%m-%d %H:%M", "ts": None})
    assert df["when"].iloc[0] == int(pd.Timestamp("2025-01-02 10:00").timestamp())
    assert df["ts"].iloc[0] == 1700000000


def test_iso_dates_without_format_and_non_iso_error_suggests_format(tmp_path):
    p = write(tmp_path, "t.csv", "user,when\nu1,2025-01-02T10:00:00\nu2,yesterday\n")
    with pytest.raises(DataError) as e:
        read_table(p, date_columns={"when": None})
    assert e.value.row == 3 and "date_format" in str(e.value)


def test_duplicates_error_drop_keep(tmp_path, caplog):
    p = write(tmp_path, "t.csv", "user,item\nu1,i1\nu2,i2\nu1,i1\nu1,i1\n")
    with pytest.raises(DataError) as e:
        read_table(p, duplicates="error")
    assert e.value.row == 4 and "same as row 2" in str(e.value) and "2 duplicate rows" in str(e.value)
    with caplog.at_level(logging.INFO, logger="hetrec.data"):
        df = read_table(p, duplicates="drop")
    assert len(df) == 2 and df.attrs["duplicates"] == 2 and "dropped 2 duplicate rows" in caplog.text
    df = read_table(p, duplicates="keep")
    assert len(df) == 4 and df.attrs["duplicates"] == 2


def test_wrong_separator_is_explained(tmp_path):
    p = write(tmp_path, "t.csv", "user;item\nu1;i1\n")
    with pytest.raises(DataError, match="separator") as e:
        read_table(p, ["user"])
    assert "';'" in str(e.value)


def test_blank_lines_keep_row_numbers(tmp_path):
    p = write(tmp_path, "t.csv", "user,item,w\nu1,i1,1\n\nu2,i2,bad\n")
    with pytest.raises(DataError) as e:
        read_table(p, numeric_columns=["w"])
    assert e.value.row == 4
