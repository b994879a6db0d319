"""On-disk cache of built graphs, keyed by the dataset's fingerprint, the builder configuration and the version.

An entry is a folder ``<cache_dir>/<dataset>-<key>/`` holding ``graph.bin`` (``dgl.save_graphs``), ``data.json`` +
``arrays.npz`` (+ ``*.parquet`` tables, ``feature_encoders.json/.npz``: everything else in `GraphData`, in formats
that cannot run code when read), ``meta.json`` (key parts) and ``manifest.json`` (size and SHA-256 of every file,
checked before anything is parsed). It is written into a temporary folder next to it and renamed into place
(:func:`hetrec.io.atomic_write`), so readers never see a half-written entry and a failed build leaves nothing behind.
An entry that fails to load or to verify is deleted and rebuilt, with a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

import hetrec
from hetrec._dgl import dgl
from hetrec.data.idmap import IdMap
from hetrec.data.shop import ShopData
from hetrec.graph.builder import GraphBuilder
from hetrec.graph.data import GraphData
from hetrec.graph.features import load_encoders, save_encoders
from hetrec.graph.schema import GraphSchema
from hetrec.io import atomic_write, check_manifest, write_manifest

log = logging.getLogger("hetrec.graph")

CACHE_FORMAT = 3
"""Bumped whenever the stored layout or the builder's output changes for the same configuration (3: the target
relation's ``last_time`` edge data)."""
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


_FILES = ("graph.bin", "data.json", "arrays.npz")
_FIX = "the entry is rebuilt"


def _encode(obj: Any, arrays: dict[str, np.ndarray], folder: Path, key: str) -> Any:
    """``obj`` as JSON, its arrays into ``arrays`` and its tables into ``folder`` (parquet); see `_decode`."""
    if isinstance(obj, torch.Tensor):
        arrays[key] = obj.detach().cpu().numpy()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            return {"__objarray__": [_encode(v, arrays, folder, f"{key}/{j}") for j, v in enumerate(obj.tolist())]}
        arrays[key] = obj
        return {"__array__": key}
    if sp.issparse(obj):
        m = obj.tocsr()
        for part in ("data", "indices", "indptr"):
            arrays[f"{key}/{part}"] = getattr(m, part)
        return {"__csr__": key, "shape": list(m.shape)}
    if isinstance(obj, pd.DataFrame):
        name = f"{key.replace('/', '.')}.parquet"
        obj.to_parquet(folder / name)
        return {"__parquet__": name}
    if isinstance(obj, GraphSchema):
        return {"__schema__": {"events": list(obj.events), "target": obj.target, "co_bought": obj.co_bought,
                               "categories": obj.categories, "reverse": obj.reverse}}
    if isinstance(obj, IdMap):
        return {"__idmap__": obj.to_json()}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays, folder, f"{key}/{j}") for j, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, arrays, folder, f"{key}/{j}") for j, v in enumerate(obj)]
    if isinstance(obj, dict):
        bad = [k for k in obj if not isinstance(k, str) or k.startswith("__")]
        if bad:
            raise TypeError(f"graph cache: cannot store a dict with key {bad[0]!r} at {key}")
        return {k: _encode(v, arrays, folder, f"{key}/{k}") for k, v in obj.items()}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise TypeError(f"graph cache: cannot store a {type(obj).__name__} at {key} without pickle")


def _decode(obj: Any, arrays: Any, folder: Path) -> Any:
    if isinstance(obj, list):
        return [_decode(v, arrays, folder) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        return torch.from_numpy(np.array(arrays[obj["__tensor__"]]))
    if "__array__" in obj:
        return np.array(arrays[obj["__array__"]])
    if "__objarray__" in obj:
        out = np.empty(len(obj["__objarray__"]), dtype=object)
        out[:] = [_decode(v, arrays, folder) for v in obj["__objarray__"]]
        return out
    if "__csr__" in obj:
        k = obj["__csr__"]
        return sp.csr_matrix((arrays[f"{k}/data"], arrays[f"{k}/indices"], arrays[f"{k}/indptr"]),
                             shape=tuple(obj["shape"]))
    if "__parquet__" in obj:
        return pd.read_parquet(folder / Path(obj["__parquet__"]).name)
    if "__schema__" in obj:
        return GraphSchema(**obj["__schema__"])
    if "__idmap__" in obj:
        return IdMap.from_json(obj["__idmap__"])
    if "__tuple__" in obj:
        return tuple(_decode(v, arrays, folder) for v in obj["__tuple__"])
    return {k: _decode(v, arrays, folder) for k, v in obj.items()}


def save_graph_data(data: GraphData, folder: str | os.PathLike, meta: dict[str, Any] | None = None) -> None:
    """Write ``data`` into the (existing, empty) ``folder``: graph.bin, data.json + arrays.npz (+ parquet tables,
    feature_encoders.json/.npz), meta.json, then manifest.json with every file's size and SHA-256. No pickles."""
    folder = Path(folder)
    dgl.save_graphs(str(folder / "graph.bin"), [data.graph])
    rest = {
        "features": data.features,
        "target": tuple(data.target),
        "splits": data.splits,
        "reverse_etypes": data.reverse_etypes,
        "idmaps": data.idmaps,
        "split_hash": data.split_hash,
        "name": data.name,
        "planted": data.planted,
        "item_attrs": data.item_attrs,
        "train_baskets": data.train_baskets,
        "co_bought": data.co_bought,
        "schema": data.schema,
        "info": {k: v for k, v in data.info.items() if k not in ("cache_path", "cache_hit")},
    }
    arrays: dict[str, np.ndarray] = {}
    doc = _encode(rest, arrays, folder, "data")
    (folder / "data.json").write_text(json.dumps(doc))
    np.savez(folder / "arrays.npz", **arrays)
    save_encoders(data.feature_encoders or {}, folder)
    m = dict(meta or {})
    m.update(format=CACHE_FORMAT, hetrec=hetrec.__version__,
             created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    (folder / "meta.json").write_text(json.dumps(m, indent=1, sort_keys=True, default=str))
    write_manifest(folder, "graph cache", CACHE_FORMAT)


def load_graph_data(folder: str | os.PathLike) -> GraphData:
    """Read an entry written by `save_graph_data`, verifying manifest.json first; raise on any damage. Nothing in
    the entry can run code: JSON, ``np.load(allow_pickle=False)``, parquet and DGL's graph format."""
    folder = Path(folder)
    check_manifest(folder, "graph cache", CACHE_FORMAT, _FIX)
    graphs, _ = dgl.load_graphs(str(folder / "graph.bin"))
    with np.load(folder / "arrays.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    rest = _decode(json.loads((folder / "data.json").read_text()), arrays, folder)
    return GraphData(
        graph=graphs[0],
        features=rest["features"],
        target=tuple(rest["target"]),
        splits=rest["splits"],
        reverse_etypes=rest["reverse_etypes"],
        idmaps=rest["idmaps"],
        feature_encoders=load_encoders(folder),
        split_hash=rest["split_hash"],
        name=rest["name"],
        planted=rest["planted"],
        item_attrs=rest["item_attrs"],
        train_baskets=rest["train_baskets"],
        co_bought=rest["co_bought"],
        schema=rest["schema"],
        info=rest["info"],
    )


def _clean_stale_tmp(cache_dir: Path) -> None:
    """Remove temporary folders left by killed processes (older than an hour)."""
    now = time.time()
    for p in cache_dir.glob(".*.tmp"):
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
        except Exception as e:  # any damage means: rebuild
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
    with atomic_write(entry, folder=True) as tmp:
        save_graph_data(
            data, tmp,
            meta={"key": key, "dataset": getattr(dataset, "name", ""), "fingerprint": dataset.fingerprint(),
                  "builder": builder.config()},
        )
    data.info.update(cache_hit=False, cache_path=str(entry))
    log.info("graph cache write: %s", entry)
    return data
