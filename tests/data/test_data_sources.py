"""LightGCN text and MovieLens-100k loaders on tiny hand-written files; the ml-100k download path (no network)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from hetrec.data import DataError
from hetrec.data.datasets import LightGCNText, MovieLens100K, download_ml100k, parse_user_items
from hetrec.data.datasets import movielens as ml


def test_parse_user_items_matches_naive_parser():
    rng = np.random.default_rng(0)
    lines = []
    for u in range(50):
        items = rng.integers(0, 10**6, rng.integers(0, 8))
        lines.append(" ".join(map(str, [u * 7, *items])) + ("  " if u % 5 == 0 else ""))
    text = "\n".join(lines) + "\n\n"
    lu, us, its = parse_user_items(text.encode())
    naive = [(int(t[0]), int(x)) for t in (line.split() for line in lines) for x in t[1:]]
    assert lu.tolist() == [u * 7 for u in range(50)]
    assert list(zip(us.tolist(), its.tolist())) == naive


def test_parse_user_items_crlf_and_tabs():
    lu, us, its = parse_user_items(b"0\t5 6\r\n1 7\r\n")
    assert lu.tolist() == [0, 1] and us.tolist() == [0, 0, 1] and its.tolist() == [5, 6, 7]


def test_parse_user_items_bad_token_names_line(tmp_path):
    with pytest.raises(DataError) as e:
        parse_user_items(b"0 1 2\n1 3 x4\n", tmp_path / "train.txt")
    assert e.value.row == 2 and e.value.value == "x4" and "train.txt" in str(e.value)


def test_lightgcn_text(tmp_path):
    d = tmp_path / "toy"
    d.mkdir()
    (d / "train.txt").write_text("0 0 1 2\n1 2\n2\n3 1 4\n")  # user 2 has no train items
    (d / "test.txt").write_text("0 4\n2 0 3\n")
    shop = LightGCNText(name="toy", root=str(tmp_path)).load()
    df = shop.interactions
    assert shop.num_users == 4 and shop.num_items == 5
    assert shop.users.raw_ids.tolist() == ["0", "1", "2", "3"]  # contiguous raw ids map to themselves
    assert df["split"].tolist() == ["train"] * 6 + ["test"] * 3
    assert df["user"].tolist() == [0, 0, 0, 1, 3, 3, 0, 2, 2]
    assert df["item"].tolist() == [0, 1, 2, 2, 1, 4, 4, 0, 3]
    assert not shop.has_time and set(df["event"]) == {"clicks"}
    with pytest.raises(DataError, match="dataset.root"):
        LightGCNText(name="absent", root=str(tmp_path)).load()


GENRE_FLAGS = "|".join(["0"] * 18)


def write_ml100k(raw: Path) -> dict[str, bytes]:
    """A 3-user, 3-movie MovieLens-100k in the raw layout (latin-1, one title with a non-ASCII byte)."""
    raw.mkdir(parents=True, exist_ok=True)
    files = {
        "u.user": b"1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|32067\n",
        "u.item": (
            "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|" + "|".join(["0"] * 13) + "\n"
            "2|Bel\xe9 (1995)|01-Jan-1996||http://y|0|1|" + "|".join(["0"] * 17) + "\n"
            "3|unknown||||1|" + GENRE_FLAGS + "\n"
        ).encode("latin-1"),
        "u.data": b"1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t878542960\n3\t3\t1\t888888888\n",
        "u1.base": b"1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t878542960\n",
        "u1.test": b"3\t3\t1\t888888888\n",
    }
    for name, data in files.items():
        (raw / name).write_bytes(data)
    return files


def test_movielens_official_split_and_attributes(tmp_path):
    write_ml100k(tmp_path / "ml-100k" / "raw")
    shop = MovieLens100K(root=str(tmp_path)).load()
    df = shop.interactions
    assert df["split"].tolist() == ["train", "train", "train", "test"]
    assert df["weight"].tolist() == [5, 3, 4, 1] and set(df["event"]) == {"rates"} and shop.has_time
    assert shop.item_attrs["title"].iloc[1] == "Bel\xe9 (1995)"
    assert shop.item_attrs["genres"].tolist() == ["Animation|Children's|Comedy", "Action", "unknown"]
    assert shop.item_attrs["year"].iloc[1] == 1996 and np.isnan(shop.item_attrs["year"].iloc[2])
    assert shop.user_attrs["occupation"].tolist() == ["technician", "other", "writer"]
    assert shop.attr_kinds["item"] == {"title": "text", "year": "numeric", "genres": "multilabel"}


def test_movielens_all_ratings_binarized(tmp_path):
    write_ml100k(tmp_path / "ml-100k" / "raw")
    shop = MovieLens100K(root=str(tmp_path), split=None, min_rating=4).load()
    assert "split" not in shop.interactions and len(shop.interactions) == 2
    assert shop.info["dropped_below_min_rating"] == 2 and shop.interactions["weight"].tolist() == [1, 1]


def test_movielens_missing_files_explain_root_and_download(tmp_path):
    with pytest.raises(DataError) as e:
        MovieLens100K(root=str(tmp_path)).load()
    assert "dataset.root" in str(e.value) and "dataset.download=true" in str(e.value)
    with pytest.raises(ValueError, match="u1"):
        MovieLens100K(split="u9")


@pytest.fixture
def fake_zip(tmp_path, monkeypatch):
    """A fake ml-100k.zip served by a monkeypatched URL opener; FILE_SHA256 set to its files' digests."""
    files = write_ml100k(tmp_path / "src" / "ml-100k")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(f"ml-100k/{name}", data)
    blob = buf.getvalue()
    calls = []

    def opener(url):
        calls.append(url)
        return io.BytesIO(blob)

    monkeypatch.setattr(ml, "_urlopen", opener)
    monkeypatch.setattr(ml, "FILE_SHA256", {n: hashlib.sha256(d).hexdigest() for n, d in files.items()})
    return blob, calls


def test_download_verifies_and_extracts_atomically(tmp_path, fake_zip):
    blob, calls = fake_zip
    root = tmp_path / "data"
    shop = MovieLens100K(root=str(root), download=True, checksum="sha256:" + hashlib.sha256(blob).hexdigest()).load()
    assert len(shop.interactions) == 4 and calls == [ml.URL]
    assert sorted(p.name for p in (root / "ml-100k").iterdir()) == ["raw"]  # no temporary leftovers
    MovieLens100K(root=str(root), download=True).load()  # present: no second download
    assert len(calls) == 1


def test_download_checksum_mismatch_leaves_nothing(tmp_path, fake_zip):
    dest = tmp_path / "data" / "ml-100k"
    with pytest.raises(DataError, match="checksum mismatch") as e:
        download_ml100k(dest, checksum="sha256:" + "0" * 64)
    assert "dataset.checksum" in str(e.value)
    assert list(dest.iterdir()) == []


def test_download_bad_extracted_file_digest_leaves_nothing(tmp_path, fake_zip, monkeypatch):
    monkeypatch.setattr(ml, "FILE_SHA256", {"u.data": "f" * 64})
    dest = tmp_path / "data" / "ml-100k"
    with pytest.raises(DataError, match="sha256 mismatch for u.data"):
        download_ml100k(dest, checksum=None)
    assert list(dest.iterdir()) == []
