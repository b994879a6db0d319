"""On-disk cache of built graphs, keyed by the dataset's fingerprint, the builder configuration and the version.

An entry is a folder ``<cache_dir>/<dataset>-<key>/`` holding ``graph.bin`` (``dgl.save_graphs``), ``data.pkl``
(everything else in `GraphData`) and ``meta.json`` (key parts and the SHA-256 of both files). It is written into a
temporary folder next to it and renamed into place, so readers never see a half-written entry and a failed build
leaves nothing behind. An entry that fails to load or to verify is deleted and rebuilt, with a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Protocol

import hetrec
from hetrec._dgl import dgl
from hetrec.data.idmap import IdMap
from hetrec.data.shop import ShopData
from hetrec.graph.builder import GraphBuilder
from hetrec.graph.data import GraphData
from hetrec.graph.schema import GraphSchema

log = logging.getLogger("hetrec.graph")

CACHE_FORMAT = 1
"""Bumped whenever the stored layout or the builder's output changes for the same configuration."""
_STALE_TMP_SECONDS = 3600


class _Dataset(Protocol):
    name: str

    def load(self) -> ShopData: ...

    def fingerprint(self) -> str: ...


def default_cache_dir() -> Path:
    """``$HETREC_CACHE`` or ``.hetrec_cache``."""
    return Path(os.environ.get("HETREC_CACHE", ".hetrec_cache"))


def cache_key(dataset: _Dataset, builder: GraphBuilder) -> str:
    """Hash of the dataset fingerprint, the builder configuration, the hetrec version and the cache format."""
    blob = json.dumps(
        {
            "dataset": dataset.fingerprint(),
            "builder": builder.config_hash(),
            "hetrec": hetrec.__version__,
            "format": CACHE_FORMAT,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _entry_name(dataset: _Dataset, key: str) -> str:
    name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(getattr(dataset, "name", "dataset")))
    return f"{name}-{key}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_graph_data(data: GraphData, folder: str | os.PathLike, meta: dict[str, Any] | None = None) -> None:
    """Write ``data`` into the (existing, empty) ``folder``: graph.bin, data.pkl, then meta.json with checksums."""
    folder = Path(folder)
    dgl.save_graphs(str(folder / "graph.bin"), [data.graph])
    rest = {
        "features": data.features,
        "target": tuple(data.target),
        "splits": data.splits,
        "reverse_etypes": data.reverse_etypes,
        "idmaps": {k: v.to_json() for k, v in data.idmaps.items()},
        "feature_encoders": data.feature_encoders,
        "split_hash": data.split_hash,
        "name": data.name,
        "planted": data.planted,
        "item_attrs": data.item_attrs,
        "train_baskets": data.train_baskets,
        "co_bought": data.co_bought,
        "schema": data.schema,
        "info": {k: v for k, v in data.info.items() if k not in ("cache_path", "cache_hit")},
    }
    with open(folder / "data.pkl", "wb") as f:
        pickle.dump(rest, f, protocol=pickle.HIGHEST_PROTOCOL)
    m = dict(meta or {})
    m.update(
        format=CACHE_FORMAT,
        hetrec=hetrec.__version__,
        files={n: _sha256(folder / n) for n in ("graph.bin", "data.pkl")},
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    (folder / "meta.json").write_text(json.dumps(m, indent=1, sort_keys=True, default=str))


def load_graph_data(folder: str | os.PathLike) -> GraphData:
    """Read an entry written by `save_graph_data`, verifying the checksums; raise on any damage."""
    folder = Path(folder)
    meta = json.loads((folder / "meta.json").read_text())
    if meta.get("format") != CACHE_FORMAT:
        raise ValueError(f"cache format {meta.get('format')} != {CACHE_FORMAT}")
    for n, digest in meta["files"].items():
        if _sha256(folder / n) != digest:
            raise ValueError(f"checksum mismatch for {folder / n}")
    graphs, _ = dgl.load_graphs(str(folder / "graph.bin"))
    with open(folder / "data.pkl", "rb") as f:
        rest = pickle.load(f)
    schema = rest["schema"]
    return GraphData(
        graph=graphs[0],
        features=rest["features"],
        target=tuple(rest["target"]),
        splits=rest["splits"],
        reverse_etypes=rest["reverse_etypes"],
        idmaps={k: IdMap.from_json(v) for k, v in rest["idmaps"].items()},
        feature_encoders=rest["feature_encoders"],
        split_hash=rest["split_hash"],
        name=rest["name"],
        planted=rest["planted"],
        item_attrs=rest["item_attrs"],
        train_baskets=rest["train_baskets"],
        co_bought=rest["co_bought"],
        schema=schema if isinstance(schema, GraphSchema) else None,
        info=rest["info"],
    )


def _clean_stale_tmp(cache_dir: Path) -> None:
    """Remove temporary folders left by killed processes (older than an hour)."""
    now = time.time()
    for p in cache_dir.glob(".tmp-*"):
        try:
            if now - p.stat().st_mtime > _STALE_TMP_SECONDS:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


def load_or_build(dataset: _Dataset, builder: GraphBuilder, cache_dir: str | os.PathLike | None = None) -> GraphData:
    """The graph of ``dataset`` built by ``builder``, from the cache when an intact entry exists.

    Args:
        dataset: a dataset (``load() -> ShopData``, ``fingerprint() -> str``, ``name``; its ``target`` is used when
            the builder has none).
        builder: the configured `GraphBuilder`.
        cache_dir: cache folder (default ``$HETREC_CACHE`` or ``.hetrec_cache``).

    Returns:
        `GraphData`; ``info["cache_hit"]`` says whether it came from the cache, ``info["cache_path"]`` where it is.
    """
    if builder.target is None and getattr(dataset, "target", None):
        builder = builder.with_target(str(dataset.target))
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = cache_key(dataset, builder)
    entry = root / _entry_name(dataset, key)
    if entry.is_dir():
        try:
            data = load_graph_data(entry)
        except Exception as e:  # noqa: BLE001 - any damage means: rebuild
            warnings.warn(f"graph cache entry {entry} is unreadable ({type(e).__name__}: {e}); rebuilding it",
                          stacklevel=2)
            log.warning("graph cache entry %s is unreadable (%s); rebuilding", entry, e)
            shutil.rmtree(entry, ignore_errors=True)
        else:
            data.info.update(cache_hit=True, cache_path=str(entry))
            log.info("graph cache hit: %s", entry)
            return data

    data = builder.build(dataset.load())
    root.mkdir(parents=True, exist_ok=True)
    _clean_stale_tmp(root)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{entry.name}-", dir=root))
    try:
        save_graph_data(
            data, tmp,
            meta={"key": key, "dataset": getattr(dataset, "name", ""), "fingerprint": dataset.fingerprint(),
                  "builder": builder.config()},
        )
        try:
            os.replace(tmp, entry)
        except OSError:
            if not entry.is_dir():  # something else went wrong
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # a concurrent build won the race; both are identical
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    data.info.update(cache_hit=False, cache_path=str(entry))
    log.info("graph cache write: %s", entry)
    return data
