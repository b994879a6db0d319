"""Raw id <-> contiguous internal id mapping, saved with every artifact."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hetrec.io import atomic_write_text

__all__ = ["IdMap", "atomic_write_text"]  # atomic_write_text: re-exported from hetrec.io


class IdMap:
    """Bijection between raw ids (strings) and contiguous internal ids ``0..n-1``.

    Raw ids are always stored as strings so that ``"42"`` read from a CSV and ``42`` read from Parquet map to the same
    node. Internal ids are assigned in order of first appearance (or in the order given).

    Args:
        raw_ids: the raw ids, in internal-id order; must be unique.
        name: what the ids identify (``"user"``, ``"item"``, ...), used in error messages.
    """

    def __init__(self, raw_ids: Iterable[object], name: str = "id") -> None:
        self.name = name
        self._raw = np.asarray([str(r) for r in raw_ids], dtype=object)
        self._index = pd.Index(self._raw)
        if not self._index.is_unique:
            dup = self._index[self._index.duplicated()][0]
            raise ValueError(f"IdMap({name!r}): raw id {dup!r} appears twice; raw ids must be unique")

    @classmethod
    def from_values(cls, values: Sequence[object] | pd.Series, name: str = "id") -> tuple[IdMap, np.ndarray]:
        """Build a map from (possibly repeated) raw values; return it and the internal id of every value.

        Shapes:
            values: [N] -> (IdMap of U unique ids, codes [N] int64)
        """
        codes, uniques = pd.factorize(pd.Series(values).astype(str), sort=False)
        return cls(uniques, name=name), codes.astype(np.int64)

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, raw: object) -> bool:
        return str(raw) in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdMap) and self.name == other.name and np.array_equal(self._raw, other._raw)

    def __repr__(self) -> str:
        return f"IdMap({self.name!r}, n={len(self)})"

    @property
    def raw_ids(self) -> np.ndarray:
        """All raw ids (strings) in internal-id order."""
        return self._raw

    def to_internal(self, raw: Iterable[object], missing: str = "raise") -> np.ndarray:
        """Internal ids of raw ids. ``missing="raise"`` raises ``KeyError`` naming the first unknown id;
        ``missing="ignore"`` returns ``-1`` for unknown ids."""
        raw = [str(r) for r in raw]
        idx = self._index.get_indexer(raw)
        if missing == "raise" and (idx < 0).any():
            bad = raw[int(np.flatnonzero(idx < 0)[0])]
            raise KeyError(f"unknown {self.name} id {bad!r} ({len(self)} known {self.name}s)")
        return idx.astype(np.int64)

    def to_raw(self, internal: Iterable[int]) -> list[str]:
        """Raw ids of internal ids."""
        return [str(x) for x in self._raw[np.asarray(list(internal), dtype=np.int64)]]

    def to_json(self) -> dict:
        return {"name": self.name, "raw_ids": self._raw.tolist()}

    @classmethod
    def from_json(cls, obj: dict) -> IdMap:
        return cls(obj["raw_ids"], name=obj["name"])

    def save(self, path: str | os.PathLike) -> None:
        """Write as JSON atomically (temporary file, then rename)."""
        atomic_write_text(path, json.dumps(self.to_json()))

    @classmethod
    def load(cls, path: str | os.PathLike) -> IdMap:
        return cls.from_json(json.loads(Path(path).read_text()))
