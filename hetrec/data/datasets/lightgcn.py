"""`LightGCNText`: the ``train.txt``/``test.txt`` format of the NGCF/LightGCN benchmarks (one line per user)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from hetrec.data.datasets.base import Dataset
from hetrec.data.errors import DataError
from hetrec.data.idmap import IdMap
from hetrec.data.readers import read_bytes
from hetrec.data.shop import ShopData

_WS = np.zeros(256, dtype=bool)
_WS[[9, 10, 13, 32]] = True
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[48:58] = True


def parse_user_items(data: bytes, path: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse ``user item item ...`` lines (whitespace separated non-negative integers), fully vectorized.

    A line with only a user (no items) is allowed; blank lines are skipped. Anything that is not a digit or
    whitespace raises `DataError` naming the line (row) and the token.

    Returns:
        ``(line_users, users, items)``: the user of every non-blank line, and one (user, item) pair per item token.

    Shapes:
        line_users: [L] int64; users, items: [N] int64
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    if len(arr) == 0:
        raise DataError("file is empty", file=path, fix="write one line per user: 'user item item ...'")
    digit = _DIGIT[arr]
    bad = ~(digit | _WS[arr])
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        line = int(np.count_nonzero(arr[:pos] == 10)) + 1
        s = data.rfind(b"\n", 0, pos) + 1
        e = data.find(b"\n", pos)
        text = data[s : e if e >= 0 else len(data)].decode("utf-8", "replace")
        tok = next((t for t in text.split() if not t.isdigit()), text[:40])
        raise DataError(
            "not a non-negative integer id", file=path, row=line, column="user/item ids", value=tok,
            fix="each line must be 'user item item ...': integer ids separated by spaces",
        )
    prev = np.concatenate([[False], digit[:-1]])
    nxt = np.concatenate([digit[1:], [False]])
    starts = np.flatnonzero(digit & ~prev)
    ends = np.flatnonzero(digit & ~nxt) + 1
    if len(starts) == 0:
        raise DataError("file has no ids", file=path, fix="write one line per user: 'user item item ...'")
    lens = ends - starts
    if lens.max() > 18:
        i = int(np.argmax(lens))
        line = int(np.count_nonzero(arr[: starts[i]] == 10)) + 1
        raise DataError("id too long (more than 18 digits)", file=path, row=line, column="user/item ids",
                        value=data[starts[i]:ends[i]].decode(), fix="use ids below 10**18")
    vals = np.zeros(len(starts), dtype=np.int64)
    for j in range(int(lens.max())):
        live = lens > j
        d = arr[np.minimum(starts + j, len(arr) - 1)].astype(np.int64) - 48
        vals = np.where(live, vals * 10 + d, vals)
    nl = np.flatnonzero(arr == 10)
    tok_line = np.searchsorted(nl, starts, side="left")
    first = np.concatenate([[True], tok_line[1:] != tok_line[:-1]])
    line_users = vals[first]
    owner = np.cumsum(first) - 1
    users = line_users[owner[~first]]
    items = vals[~first]
    return line_users, users, items


class LightGCNText(Dataset):
    """Implicit feedback in the text format of NGCF (Wang et al., 2019) / LightGCN (He et al., 2020).

    Reads ``root/name/train.txt`` and ``root/name/test.txt`` (one line per user: ``user item item ...``, a user with
    no items allowed); rows get a ``split`` column (``train``/``test``; files that are absent are skipped, but
    ``train.txt`` must exist). Raw ids are the numbers in the files; internal ids follow their numeric order, so
    contiguous 0-based raw ids map to themselves. There is no time: ``has_time`` is ``False``.

    Args:
        name: folder under ``root`` (default ``"gowalla-lightgcn"``; also ``yelp2018-lightgcn``, ``ml-100k-u1``).
        files: ``{split: file name}`` (default ``{"train": "train.txt", "test": "test.txt"}``).
        event: relation name (default ``"clicks"``).
        root, target: see `Dataset` (default target ``clicks``).
    """

    name = "lightgcn"
    target = "clicks"

    def __init__(
        self,
        name: str = "gowalla-lightgcn",
        files: dict[str, str] | None = None,
        event: str = "clicks",
        root: str | None = None,
        target: str | None = None,
    ) -> None:
        files = dict(files or {"train": "train.txt", "test": "test.txt"})
        super().__init__(root=root, target=target, name=name, files=files, event=event)
        self.name = name
        self.files = {k: str(v) for k, v in self._config["files"].items()}  # type: ignore[union-attr]
        self.event = event

    def sources(self) -> list[Path]:
        return [self.root / self.name / f for f in self.files.values()]

    def load(self) -> ShopData:
        folder = self.root / self.name
        if "train" in self.files and not (folder / self.files["train"]).exists():
            raise DataError(
                "LightGCN train file not found", file=folder / self.files["train"],
                fix=f"set dataset.root (env HETREC_DATA) to the folder holding {self.name}/, or dataset.name",
            )
        line_users, us, its, splits, used = [], [], [], [], []
        for split, fname in self.files.items():
            path = folder / fname
            if not path.exists():
                continue
            lu, u, i = parse_user_items(read_bytes(path), path)
            line_users.append(lu)
            us.append(u)
            its.append(i)
            splits.append(np.full(len(u), split, dtype=object))
            used.append(path)
        users = np.concatenate(us)
        items = np.concatenate(its)
        uid = np.unique(np.concatenate(line_users + [users]))
        iid = np.unique(items)
        if len(items) == 0:
            raise DataError("no interactions in any file", file=folder, fix="check the files")
        inter = pd.DataFrame(
            {
                "user": np.searchsorted(uid, users).astype(np.int64),
                "item": np.searchsorted(iid, items).astype(np.int64),
                "event": np.full(len(items), self.event, dtype=object),
                "timestamp": np.arange(len(items), dtype=np.int64),
                "basket": np.full(len(items), -1, dtype=np.int64),
                "weight": np.ones(len(items), dtype=np.float32),
                "split": np.concatenate(splits),
            }
        )
        counts = inter["split"].value_counts().to_dict()
        return ShopData(
            name=self.name,
            interactions=inter,
            users=IdMap(uid.astype(str), name="user"),
            items=IdMap(iid.astype(str), name="item"),
            has_time=False,
            sources=used,
            info={"split_counts": {k: int(v) for k, v in counts.items()}},
        ).check()
