"""`Dataset`: the base of every dataset (a Hydra option under ``conf/dataset/``)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from hetrec.data.shop import ShopData

DATA_FORMAT_VERSION = 1
"""Bumped whenever a loader's output changes for the same input, so that cached graphs are rebuilt."""

_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's content (memoized on path, size and mtime)."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _HASH_CACHE[key] = h.hexdigest()
    return _HASH_CACHE[key]


def default_root() -> str:
    """Where datasets read files when ``root`` is not given: ``$HETREC_DATA`` or ``data``."""
    return os.environ.get("HETREC_DATA", "data")


class Dataset:
    """A source of one `ShopData`: configured by keyword arguments (its Hydra YAML), loaded with `load`.

    Subclasses set ``name`` and ``target`` and implement `load` and `sources`.

    Args:
        root: folder the files are read from (default ``$HETREC_DATA`` or ``data``).
        target: the event (relation) the model predicts.
    """

    name: str = "dataset"
    target: str = "clicks"

    def __init__(self, root: str | os.PathLike | None = None, target: str | None = None, **config: object) -> None:
        self.root = Path(root if root is not None else default_root())
        if target is not None:
            self.target = target
        self._config = {k: plain_config(v) for k, v in config.items()}

    def config(self) -> dict[str, object]:
        """The configuration that determines the output (without ``root``, which only says where files are)."""
        return {"class": type(self).__name__, "target": self.target, **self._config}

    def sources(self) -> list[Path]:
        """The input files (existing ones are hashed into the fingerprint)."""
        return []

    def load(self) -> ShopData:  # pragma: no cover - abstract
        raise NotImplementedError

    def fingerprint(self) -> str:
        """Hash of the configuration, the data format version and every input file's size and content.

        Two datasets with the same fingerprint produce the same `ShopData`; the graph cache keys on it.
        """
        files = []
        for p in self.sources():
            p = Path(p)
            if p.is_file():
                files.append([p.name, p.stat().st_size, file_digest(p)])
            else:
                files.append([p.name, None, None])
        blob = json.dumps(
            {"version": DATA_FORMAT_VERSION, "config": self.config(), "files": files}, sort_keys=True, default=str
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._config.items())
        return f"{type(self).__name__}(root={str(self.root)!r}, target={self.target!r}{', ' if args else ''}{args})"


def plain_config(v: object) -> object:
    """OmegaConf containers (from Hydra), mappings and tuples -> plain dicts/lists, so configs hash, compare
    and pickle simply."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(v, (DictConfig, ListConfig)):
            return OmegaConf.to_container(v, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    if isinstance(v, Mapping):
        return {k: plain_config(x) for k, x in v.items()}
    if isinstance(v, (tuple, list)):
        return [plain_config(x) for x in v]
    return v


def init_config(init_locals: Mapping[str, object]) -> dict[str, object]:
    """A dataset's config from its ``__init__``'s ``locals()`` (taken first thing): every argument but ``root`` and
    ``target``, which `Dataset` takes apart."""
    return {k: v for k, v in init_locals.items() if k not in ("self", "root", "target", "__class__")}
