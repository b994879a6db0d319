"""`MovieLens100K`: the GroupLens MovieLens-100k ratings from their raw files, with the official splits."""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from hetrec.data.datasets.base import Dataset
from hetrec.data.errors import DataError
from hetrec.data.readers import read_table
from hetrec.data.shop import ShopData
from hetrec.data.validate import build_shop
from hetrec.errors import ConfigError

log = logging.getLogger("hetrec.data")

URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ZIP_CHECKSUM = "md5:0e33842e24a9c977be4e0107933c0723"
"""The digest GroupLens' ml-100k.zip is widely published with (MD5); give ``checksum="sha256:<hex>"`` to pin SHA-256."""
FILE_SHA256 = {
    "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
    "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
    "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
    "u1.base": "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a",
    "u1.test": "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950",
}
"""SHA-256 of the extracted files (GroupLens distribution), checked after a download."""
GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
    "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
]
SPLITS = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")
_urlopen = urllib.request.urlopen  # tests replace it; nothing else touches the network


def _digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download_ml100k(dest: str | os.PathLike, url: str = URL, checksum: str | None = ZIP_CHECKSUM) -> Path:
    """Download ml-100k.zip, verify it, and extract it atomically to ``dest/raw``.

    The zip goes to a temporary folder inside ``dest``; its digest (``"md5:<hex>"`` or ``"sha256:<hex>"``) and the
    SHA-256 of the extracted files in `FILE_SHA256` are checked; only then is the folder renamed to ``dest/raw``. A
    failure leaves nothing behind.

    Returns:
        ``dest/raw``.
    """
    dest = Path(dest)
    raw = dest / "raw"
    if (raw / "u.data").exists():
        return raw
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".ml-100k-download-", dir=dest))
    try:
        zpath = tmp / "ml-100k.zip"
        log.info("downloading %s", url)
        with _urlopen(url) as r, open(zpath, "wb") as f:
            shutil.copyfileobj(r, f)
        if checksum:
            algo, _, want = checksum.partition(":")
            got = _digest(zpath, algo)
            if got != want.lower():
                raise DataError(
                    f"checksum mismatch for {url}: {algo} {got}, expected {want}", file=zpath,
                    fix="download again; if it persists the file changed upstream: check it and set "
                    f"dataset.checksum={algo}:<new digest>",
                )
        out = tmp / "x"
        with zipfile.ZipFile(zpath) as z:
            for m in z.namelist():
                if m.startswith("/") or ".." in Path(m).parts:
                    raise DataError(f"unsafe path {m!r} in the archive", file=zpath, fix="do not use this archive")
            z.extractall(out)
        src = out / "ml-100k" if (out / "ml-100k").is_dir() else out
        for name, want in FILE_SHA256.items():
            p = src / name
            if not p.is_file():
                raise DataError(f"the archive lacks {name}", file=zpath, fix="check the download URL (dataset.url)")
            got = _digest(p, "sha256")
            if got != want:
                raise DataError(f"sha256 mismatch for {name}: {got}, expected {want}", file=zpath,
                                fix="download again from the official URL")
        if (raw / "u.data").exists():  # someone else finished first
            return raw
        if raw.exists():
            shutil.rmtree(raw)
        os.replace(src, raw)
        log.info("extracted MovieLens-100k to %s", raw)
        return raw
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class MovieLens100K(Dataset):
    """MovieLens-100k (Harper & Konstan, 2015): 100,000 ratings of 1,682 movies by 943 users.

    Reads the GroupLens raw files in ``root/folder``: ``u.data`` (or ``uN.base``/``uN.test``), ``u.user`` (age
    numeric; gender, occupation, zip categorical) and ``u.item`` (title text, release year numeric, genres multilabel
    ``"Action|Comedy"``), ISO-8859-1 encoded. Every rating is one ``rates`` interaction with the rating as weight.

    Args:
        split: official split ``u1``..``u5``, ``ua``, ``ub`` (rows of ``<split>.base`` -> ``train``, ``<split>.test`` ->
            ``test`` in a ``split`` column) or ``None`` (all of ``u.data``, split later by the graph builder).
            Default ``"u1"``.
        min_rating: keep only ratings >= this, with weight 1 (implicit feedback); default ``None`` keeps all.
        folder: folder under ``root`` with the raw files (default ``"ml-100k/raw"``).
        download: download and extract the official zip when the files are missing (default ``False``).
        url, checksum: where from and the zip's digest (``"md5:<hex>"`` or ``"sha256:<hex>"``).
        event: relation name (default ``"rates"``).
        root, target: see `Dataset` (default target ``rates``).
    """

    name = "ml100k"
    target = "rates"

    def __init__(
        self,
        split: str | None = "u1",
        min_rating: float | None = None,
        folder: str = "ml-100k/raw",
        download: bool = False,
        url: str = URL,
        checksum: str | None = ZIP_CHECKSUM,
        event: str = "rates",
        root: str | None = None,
        target: str | None = None,
    ) -> None:
        if split is not None and split not in SPLITS:
            raise ConfigError(f"MovieLens100K(split={split!r}); use one of {list(SPLITS)} or null (dataset.split=u1)")
        super().__init__(root=root, target=target, split=split, min_rating=min_rating, folder=folder, event=event)
        self.split, self.min_rating, self.event = split, min_rating, event
        self.folder = self.root / folder
        self.download, self.url, self.checksum = download, url, checksum

    def _rating_files(self) -> list[tuple[Path, str | None]]:
        if self.split is None:
            return [(self.folder / "u.data", None)]
        return [(self.folder / f"{self.split}.base", "train"), (self.folder / f"{self.split}.test", "test")]

    def sources(self) -> list[Path]:
        return [p for p, _ in self._rating_files()] + [self.folder / "u.user", self.folder / "u.item"]

    def load(self) -> ShopData:
        if not (self.folder / "u.item").exists():
            if self.download:
                download_ml100k(self.folder.parent, self.url, self.checksum)
            else:
                raise DataError(
                    "MovieLens-100k raw files not found", file=self.folder,
                    fix=f"set dataset.root (env HETREC_DATA) to the folder holding {Path(self._config['folder'])}, "
                    "or dataset.download=true to fetch it from GroupLens",
                )
        parts = []
        for path, split in self._rating_files():
            df = read_table(
                path, header=False, names=["user", "item", "rating", "timestamp"], sep="\t",
                id_columns=["user", "item"], numeric_columns=["rating", "timestamp"], what="ratings",
            )
            if split is not None:
                df["split"] = split
            parts.append(df)
        df = pd.concat(parts) if len(parts) > 1 else parts[0]
        info: dict[str, object] = {"rows_read": len(df)}
        if self.min_rating is not None:
            keep = (df["rating"] >= float(self.min_rating)).to_numpy()
            info["dropped_below_min_rating"] = int((~keep).sum())
            df = df[keep]
            df = df.assign(weight=np.float32(1.0))
        else:
            df = df.assign(weight=df["rating"].astype(np.float32))
        df = df.assign(event=self.event, timestamp=df["timestamp"].astype(np.int64))
        df = df.drop(columns=["rating"])

        users = read_table(
            self.folder / "u.user", header=False, names=["id", "age", "gender", "occupation", "zip"], sep="|",
            encoding="latin-1", id_columns=["id"], numeric_columns=["age"], quoting=csv.QUOTE_NONE, what="users",
        )
        names = ["id", "title", "release_date", "video_release_date", "url", *GENRES]
        items = read_table(
            self.folder / "u.item", header=False, names=names, sep="|", encoding="latin-1", id_columns=["id"],
            numeric_columns=GENRES, quoting=csv.QUOTE_NONE, what="items",
        )
        date = pd.to_datetime(items["release_date"], format="%d-%b-%Y", errors="coerce")
        flags = items[GENRES].fillna(0).to_numpy() > 0
        genre_arr = np.asarray(GENRES, dtype=object)
        items = pd.DataFrame(
            {
                "id": items["id"],
                "title": items["title"].fillna("").astype(str),
                "year": date.dt.year.astype(np.float64),
                "genres": ["|".join(genre_arr[row]) for row in flags],
            },
            index=items.index,
        )
        return build_shop(
            self.name,
            df,
            source=self._rating_files()[0][0],
            users=users,
            items=items,
            user_kinds={"age": "numeric", "gender": "categorical", "occupation": "categorical", "zip": "categorical"},
            item_kinds={"title": "text", "year": "numeric", "genres": "multilabel"},
            users_source=self.folder / "u.user",
            items_source=self.folder / "u.item",
            sources=self.sources(),
            info=info,
        )
