"""Node features from attribute tables: fitted encoders that also encode new rows (cold start).

A fitted encoder is saved as its parameters (:func:`save_encoders`: JSON for settings and vocabularies, ``.npz`` for
arrays), never as a pickle, so reading an artifact or a graph cache cannot run code.

Each attribute column is encoded by its kind (``ShopData.attr_kinds``):

- ``numeric``: standardized with the fitted mean and standard deviation; a missing value becomes the mean (0 after
  standardization) and a ``<col>:missing`` indicator column says so.
- ``categorical``: indexed against the fitted vocabulary (the ``max_categories`` most frequent values) and one-hot
  encoded with two extra buckets, ``<col>=<missing>`` and ``<col>=<unknown>`` (values not seen when fitting or outside
  the vocabulary). `NodeFeatureEncoder.codes` gives the indices themselves, for embedding tables.
- ``multilabel``: ``|``-separated labels, multi-hot over the fitted label vocabulary plus unknown/missing buckets.
- ``text``: hashed bag of words (sklearn ``HashingVectorizer``, the hashing trick, Weinberger et al., 2009) or
  TF-IDF + truncated SVD (latent semantic analysis, Deerwester et al., 1990), ``text_dim`` columns, rows L2-normalized.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hetrec.errors import ConfigError

log = logging.getLogger("hetrec.graph")

KINDS = ("numeric", "categorical", "multilabel", "text")
TEXT_METHODS = ("hash", "tfidf_svd")
MISSING, UNKNOWN = "<missing>", "<unknown>"


def value_str(v: object) -> str:
    """A raw attribute value as a stripped string; integral floats lose their ``.0`` (``12.0`` -> ``"12"``), so that
    a column read as float because of missing values names the same categories as an integer column."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v).strip()


def _as_str(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Values as stripped strings and a missing mask (NaN, None and empty strings are missing)."""
    vals = s.to_numpy(dtype=object)
    missing = pd.isna(vals)
    out = np.empty(len(vals), dtype=object)
    out[missing] = ""
    if (~missing).any():
        out[~missing] = [value_str(v) for v in vals[~missing]]
    missing = missing | (out == "")
    return out, missing


def _vocab(values: np.ndarray, max_size: int) -> list[str]:
    """Most frequent values first (ties alphabetically), at most ``max_size``."""
    if len(values) == 0:
        return []
    vc = pd.Series(values).value_counts()
    df = pd.DataFrame({"v": vc.index.astype(str), "n": vc.to_numpy()}).sort_values(["n", "v"], ascending=[False, True])
    return df["v"].tolist()[: max(int(max_size), 0)]


class NumericColumn:
    """Standardized number plus a missing indicator (2 columns)."""

    kind = "numeric"

    def __init__(self, name: str) -> None:
        self.name = name
        self.mean = 0.0
        self.std = 1.0

    def _values(self, s: pd.Series) -> np.ndarray:
        return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

    def fit(self, s: pd.Series) -> NumericColumn:
        x = self._values(s)
        ok = np.isfinite(x)
        if ok.any():
            self.mean = float(x[ok].mean())
            std = float(x[ok].std())
            self.std = std if std > 1e-12 else 1.0
        return self

    def transform(self, s: pd.Series) -> np.ndarray:
        x = self._values(s)
        miss = ~np.isfinite(x)
        z = np.where(miss, 0.0, (np.where(miss, self.mean, x) - self.mean) / self.std)
        return np.stack([z, miss.astype(np.float64)], axis=1).astype(np.float32)

    @property
    def names(self) -> list[str]:
        return [self.name, f"{self.name}:missing"]

    def to_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        return {"kind": self.kind, "name": self.name, "mean": self.mean, "std": self.std}, {}

    @classmethod
    def from_state(cls, params: dict, arrays: Mapping[str, np.ndarray]) -> NumericColumn:
        c = cls(params["name"])
        c.mean, c.std = float(params["mean"]), float(params["std"])
        return c


class CategoricalColumn:
    """One-hot over ``[<missing>, <unknown>, vocabulary...]``."""

    kind = "categorical"

    def __init__(self, name: str, max_categories: int = 256) -> None:
        self.name = name
        self.max_categories = max_categories
        self.vocab: list[str] = []

    def fit(self, s: pd.Series) -> CategoricalColumn:
        vals, miss = _as_str(s)
        self.vocab = _vocab(vals[~miss], self.max_categories)
        return self

    def codes(self, s: pd.Series) -> np.ndarray:
        """Index of every value: 0 missing, 1 unknown, ``2 + k`` for vocabulary entry ``k``."""
        vals, miss = _as_str(s)
        idx = pd.Index(self.vocab, dtype=object).get_indexer(vals)
        return np.where(miss, 0, np.where(idx < 0, 1, idx + 2)).astype(np.int64)

    def transform(self, s: pd.Series) -> np.ndarray:
        c = self.codes(s)
        out = np.zeros((len(c), len(self.vocab) + 2), dtype=np.float32)
        out[np.arange(len(c)), c] = 1.0
        return out

    @property
    def names(self) -> list[str]:
        return [f"{self.name}={MISSING}", f"{self.name}={UNKNOWN}"] + [f"{self.name}={v}" for v in self.vocab]

    def to_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        return {"kind": self.kind, "name": self.name, "max_categories": self.max_categories,
                "vocab": list(self.vocab)}, {}

    @classmethod
    def from_state(cls, params: dict, arrays: Mapping[str, np.ndarray]) -> CategoricalColumn:
        c = cls(params["name"], int(params["max_categories"]))
        c.vocab = [str(v) for v in params["vocab"]]
        return c


class MultiLabelColumn:
    """Multi-hot over ``[<missing>, <unknown>, labels...]`` of ``sep``-separated label sets."""

    kind = "multilabel"

    def __init__(self, name: str, max_categories: int = 256, sep: str = "|") -> None:
        self.name = name
        self.max_categories = max_categories
        self.sep = sep
        self.vocab: list[str] = []

    def _explode(self, s: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        vals, miss = _as_str(s)
        parts = pd.Series(vals, dtype=object).str.split(self.sep, regex=False).explode()
        rows = parts.index.to_numpy(dtype=np.int64)
        labels = parts.astype(str).str.strip().to_numpy(dtype=object)
        ok = labels != ""
        return rows[ok], labels[ok], miss

    def fit(self, s: pd.Series) -> MultiLabelColumn:
        _, labels, _ = self._explode(s.reset_index(drop=True))
        self.vocab = _vocab(labels, self.max_categories)
        return self

    def transform(self, s: pd.Series) -> np.ndarray:
        rows, labels, miss = self._explode(s.reset_index(drop=True))
        out = np.zeros((len(miss), len(self.vocab) + 2), dtype=np.float32)
        idx = pd.Index(self.vocab, dtype=object).get_indexer(labels)
        out[rows, np.where(idx < 0, 1, idx + 2)] = 1.0
        out[miss, :] = 0.0
        out[miss, 0] = 1.0
        return out

    @property
    def names(self) -> list[str]:
        return [f"{self.name}={MISSING}", f"{self.name}={UNKNOWN}"] + [f"{self.name}={v}" for v in self.vocab]

    def to_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        return {"kind": self.kind, "name": self.name, "max_categories": self.max_categories, "sep": self.sep,
                "vocab": list(self.vocab)}, {}

    @classmethod
    def from_state(cls, params: dict, arrays: Mapping[str, np.ndarray]) -> MultiLabelColumn:
        c = cls(params["name"], int(params["max_categories"]), str(params["sep"]))
        c.vocab = [str(v) for v in params["vocab"]]
        return c


class TextColumn:
    """Hashed bag of words or TF-IDF + truncated SVD, ``dim`` columns, rows L2-normalized (missing text -> zeros)."""

    kind = "text"

    def __init__(self, name: str, method: str = "hash", dim: int = 64, max_features: int = 50_000,
                 seed: int = 0) -> None:
        if method not in TEXT_METHODS:
            raise ConfigError(f"unknown text features {method!r}; use graph.features.text=hash or tfidf_svd")
        if int(dim) < 1:
            raise ConfigError(f"graph.features.text_dim={dim} must be >= 1; e.g. graph.features.text_dim=64")
        self.name = name
        self.method = method
        self.dim = int(dim)
        self.max_features = int(max_features)
        self.seed = int(seed)
        self.vocab: list[str] | None = None  # tfidf_svd: fitted vocabulary (column order), idf and SVD components
        self.idf: np.ndarray | None = None
        self.components: np.ndarray | None = None
        self._vectorizer = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_vectorizer": None}  # rebuilt from vocab and idf on first use

    def _hasher(self):
        from sklearn.feature_extraction.text import HashingVectorizer

        return HashingVectorizer(n_features=self.dim, alternate_sign=False, norm="l2", lowercase=True,
                                 dtype=np.float32)

    def fit(self, s: pd.Series) -> TextColumn:
        if self.method == "tfidf_svd":
            from sklearn.decomposition import TruncatedSVD
            from sklearn.feature_extraction.text import TfidfVectorizer

            vals, miss = _as_str(s)
            docs = vals[~miss].tolist()
            self.vocab, self.idf, self.components = None, None, None
            if docs:
                tfidf = TfidfVectorizer(max_features=self.max_features, sublinear_tf=True, dtype=np.float32)
                try:
                    M = tfidf.fit_transform(docs)
                except ValueError:  # empty vocabulary (e.g. only stop-word-free punctuation)
                    return self
                k = min(self.dim, M.shape[1] - 1, M.shape[0] - 1)
                if k >= 1:
                    self.vocab = sorted(tfidf.vocabulary_, key=tfidf.vocabulary_.get)
                    self.idf = np.asarray(tfidf.idf_, dtype=np.float64)
                    svd = TruncatedSVD(n_components=k, random_state=self.seed).fit(M)
                    self.components = np.asarray(svd.components_, dtype=np.float64)
        return self

    def _tfidf(self):
        """The fitted TF-IDF vectorizer, rebuilt from its parameters (vocabulary, idf) and kept."""
        if self._vectorizer is None:
            from sklearn.feature_extraction.text import TfidfVectorizer

            v = TfidfVectorizer(vocabulary=self.vocab, sublinear_tf=True, dtype=np.float32)
            v.idf_ = self.idf
            self._vectorizer = v
        return self._vectorizer

    def transform(self, s: pd.Series) -> np.ndarray:
        vals, miss = _as_str(s)
        out = np.zeros((len(vals), self.dim), dtype=np.float32)
        if self.method == "hash":
            if len(vals):
                out = self._hasher().transform(vals.tolist()).toarray().astype(np.float32)
        elif self.components is not None and len(vals):
            Z = np.asarray(self._tfidf().transform(vals.tolist()) @ self.components.T, dtype=np.float32)
            norm = np.linalg.norm(Z, axis=1, keepdims=True)
            Z = Z / np.maximum(norm, 1e-12)
            out[:, : Z.shape[1]] = Z
        out[miss] = 0.0
        return out

    @property
    def names(self) -> list[str]:
        return [f"{self.name}#{k}" for k in range(self.dim)]

    def to_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        params = {"kind": self.kind, "name": self.name, "method": self.method, "dim": self.dim,
                  "max_features": self.max_features, "seed": self.seed, "vocab": self.vocab}
        arrays = {} if self.components is None else {"idf": self.idf, "components": self.components}
        return params, arrays

    @classmethod
    def from_state(cls, params: dict, arrays: Mapping[str, np.ndarray]) -> TextColumn:
        c = cls(params["name"], params["method"], int(params["dim"]), int(params["max_features"]), int(params["seed"]))
        if params.get("vocab") is not None:
            c.vocab = [str(v) for v in params["vocab"]]
            c.idf, c.components = np.asarray(arrays["idf"]), np.asarray(arrays["components"])
        return c


class NodeFeatureEncoder:
    """Fitted encoder of one node type's attribute table into a float32 feature matrix (saved as parameters:
    :meth:`to_state` / :meth:`from_state`; also picklable).

    Args:
        kinds: ``{column: kind}`` with kind in ``numeric``, ``categorical``, ``multilabel``, ``text``.
        text: text method, ``hash`` or ``tfidf_svd`` (default ``hash``).
        text_dim: columns per text attribute (default 64).
        max_categories: vocabulary size per categorical/multilabel column; rarer values go to the unknown bucket
            (default 256).
        tfidf_max_features: TF-IDF vocabulary size (default 50000).
        seed: random seed of the SVD (default 0).

    Shapes:
        transform: DataFrame with N rows -> Tensor [N, dim] float32
    """

    def __init__(self, kinds: Mapping[str, str], text: str = "hash", text_dim: int = 64, max_categories: int = 256,
                 tfidf_max_features: int = 50_000, seed: int = 0) -> None:
        self.columns: list[NumericColumn | CategoricalColumn | MultiLabelColumn | TextColumn] = []
        for col, kind in kinds.items():
            if kind == "numeric":
                self.columns.append(NumericColumn(col))
            elif kind == "categorical":
                self.columns.append(CategoricalColumn(col, max_categories))
            elif kind == "multilabel":
                self.columns.append(MultiLabelColumn(col, max_categories))
            elif kind == "text":
                self.columns.append(TextColumn(col, text, text_dim, tfidf_max_features, seed))
            else:
                raise ConfigError(f"attribute {col!r} has unknown kind {kind!r}; use one of {', '.join(KINDS)}")
        self.fitted = False

    def _column(self, df: pd.DataFrame, name: str) -> pd.Series:
        if name in df.columns:
            return df[name].reset_index(drop=True)
        return pd.Series([None] * len(df), dtype=object)  # absent column: all missing (cold-start rows)

    def fit(self, df: pd.DataFrame) -> NodeFeatureEncoder:
        """Fit every column encoder on ``df`` (the training attribute table)."""
        absent = [c.name for c in self.columns if c.name not in df.columns]
        if absent:
            raise ConfigError(
                f"attribute table lacks columns {absent} named in attr_kinds; present: {list(df.columns)}"
            )
        for c in self.columns:
            c.fit(self._column(df, c.name))
        self.fitted = True
        return self

    def transform(self, df: pd.DataFrame) -> torch.Tensor:
        """Encode rows (also rows never seen when fitting); absent columns count as missing values.

        Shapes:
            df: N rows -> [N, dim] float32
        """
        if not self.fitted:
            raise RuntimeError("NodeFeatureEncoder.transform before fit; call fit(table) first")
        parts = [c.transform(self._column(df, c.name)) for c in self.columns]
        if not parts:
            return torch.zeros((len(df), 0), dtype=torch.float32)
        return torch.from_numpy(np.ascontiguousarray(np.hstack(parts), dtype=np.float32))

    def fit_transform(self, df: pd.DataFrame) -> torch.Tensor:
        return self.fit(df).transform(df)

    def codes(self, df: pd.DataFrame) -> dict[str, torch.Tensor]:
        """Category indices per categorical column (0 missing, 1 unknown, 2+ vocabulary), for embedding tables."""
        return {
            c.name: torch.from_numpy(c.codes(self._column(df, c.name)))
            for c in self.columns
            if isinstance(c, CategoricalColumn)
        }

    @property
    def feature_names(self) -> list[str]:
        """Name of every output column."""
        return [n for c in self.columns for n in c.names]

    @property
    def dim(self) -> int:
        return len(self.feature_names)

    def to_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """The fitted encoder as JSON-able parameters and named arrays (see :meth:`from_state`)."""
        params, arrays = [], {}
        for j, c in enumerate(self.columns):
            p, a = c.to_state()
            params.append(p)
            arrays.update({f"{j}/{k}": v for k, v in a.items()})
        return {"fitted": self.fitted, "columns": params}, arrays

    @classmethod
    def from_state(cls, params: Mapping, arrays: Mapping[str, np.ndarray]) -> NodeFeatureEncoder:
        """Rebuild a fitted encoder from :meth:`to_state`'s output (no code runs from the data)."""
        enc = cls({})
        for j, p in enumerate(params["columns"]):
            kind = p.get("kind")
            if kind not in _COLUMN_CLASSES:
                raise ValueError(f"feature encoder column {p.get('name')!r} has unknown kind {kind!r}")
            sub = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.split("/", 1)[0] == str(j)}
            enc.columns.append(_COLUMN_CLASSES[kind].from_state(p, sub))
        enc.fitted = bool(params["fitted"])
        return enc

    def __repr__(self) -> str:
        cols = ", ".join(f"{c.name}:{c.kind}" for c in self.columns)
        return f"NodeFeatureEncoder({cols}; dim={self.dim if self.fitted else '?'})"


_COLUMN_CLASSES = {c.kind: c for c in (NumericColumn, CategoricalColumn, MultiLabelColumn, TextColumn)}


def encoders_to_state(encoders: Mapping[str, NodeFeatureEncoder]) -> tuple[dict, dict[str, np.ndarray]]:
    """``{ntype: encoder}`` as ``(json_params, arrays)``; raise ``TypeError`` for an encoder that cannot be stored
    as parameters (only :class:`NodeFeatureEncoder` can: anything else would need a pickle)."""
    params, arrays = {}, {}
    for ntype, enc in encoders.items():
        if not isinstance(enc, NodeFeatureEncoder):
            raise TypeError(
                f"feature encoder of {ntype!r} is a {type(enc).__name__}, which cannot be saved as parameters; "
                f"use hetrec.graph.features.NodeFeatureEncoder (artifacts and caches hold no pickles)"
            )
        p, a = enc.to_state()
        params[ntype] = p
        arrays.update({f"{ntype}/{k}": v for k, v in a.items()})
    return params, arrays


def encoders_from_state(params: Mapping, arrays: Mapping[str, np.ndarray]) -> dict[str, NodeFeatureEncoder]:
    """Inverse of :func:`encoders_to_state`."""
    out = {}
    for ntype, p in params.items():
        pre = f"{ntype}/"
        out[ntype] = NodeFeatureEncoder.from_state(p, {k[len(pre):]: v for k, v in arrays.items() if k.startswith(pre)})
    return out


def save_encoders(encoders: Mapping[str, NodeFeatureEncoder], folder, stem: str = "feature_encoders") -> None:
    """Write ``<stem>.json`` (settings, vocabularies) and ``<stem>.npz`` (arrays) into ``folder``."""
    params, arrays = encoders_to_state(encoders)
    (Path(folder) / f"{stem}.json").write_text(json.dumps(params))
    np.savez(Path(folder) / f"{stem}.npz", **arrays)


def load_encoders(folder, stem: str = "feature_encoders") -> dict[str, NodeFeatureEncoder]:
    """Read what :func:`save_encoders` wrote (``np.load`` without pickles)."""
    params = json.loads((Path(folder) / f"{stem}.json").read_text())
    with np.load(Path(folder) / f"{stem}.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return encoders_from_state(params, arrays)


def encode_node_features(
    tables: Mapping[str, pd.DataFrame | None],
    attr_kinds: Mapping[str, Mapping[str, str]],
    text: str = "hash",
    text_dim: int = 64,
    max_categories: int = 256,
    tfidf_max_features: int = 50_000,
    seed: int = 0,
) -> tuple[dict[str, torch.Tensor], dict[str, NodeFeatureEncoder]]:
    """Fit an encoder per node type that has an attribute table with encodable columns and encode it.

    Returns:
        ``(features, encoders)``: ``features[ntype]`` float32 ``[num_nodes, D]``; node types without attributes absent.
    """
    if text not in TEXT_METHODS:
        raise ConfigError(f"unknown text features {text!r}; use graph.features.text=hash or tfidf_svd")
    feats: dict[str, torch.Tensor] = {}
    encs: dict[str, NodeFeatureEncoder] = {}
    for ntype, table in tables.items():
        kinds = dict(attr_kinds.get(ntype, {}) or {})
        if table is None or not kinds:
            continue
        absent = [c for c in kinds if c not in table.columns]
        if absent:
            raise ConfigError(
                f"attr_kinds[{ntype!r}] names columns {absent} that the {ntype} attribute table lacks "
                f"(columns: {list(table.columns)}); fix the dataset's attribute configuration"
            )
        enc = NodeFeatureEncoder(kinds, text, text_dim, max_categories, tfidf_max_features, seed)
        x = enc.fit_transform(table)
        if x.shape[1] == 0:
            continue
        feats[ntype] = x
        encs[ntype] = enc
        log.debug("features[%s]: %s", ntype, enc)
    return feats, encs
