"""Node features from attribute tables: fitted, picklable encoders that also encode new rows (cold start).

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

import logging
from collections.abc import Mapping

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
        self.tfidf = None
        self.svd = None

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
            self.tfidf, self.svd = None, None
            if docs:
                tfidf = TfidfVectorizer(max_features=self.max_features, sublinear_tf=True, dtype=np.float32)
                try:
                    M = tfidf.fit_transform(docs)
                except ValueError:  # empty vocabulary (e.g. only stop-word-free punctuation)
                    return self
                self.tfidf = tfidf
                k = min(self.dim, M.shape[1] - 1, M.shape[0] - 1)
                if k >= 1:
                    self.svd = TruncatedSVD(n_components=k, random_state=self.seed).fit(M)
        return self

    def transform(self, s: pd.Series) -> np.ndarray:
        vals, miss = _as_str(s)
        out = np.zeros((len(vals), self.dim), dtype=np.float32)
        if self.method == "hash":
            if len(vals):
                out = self._hasher().transform(vals.tolist()).toarray().astype(np.float32)
        elif self.tfidf is not None and self.svd is not None and len(vals):
            Z = self.svd.transform(self.tfidf.transform(vals.tolist())).astype(np.float32)
            norm = np.linalg.norm(Z, axis=1, keepdims=True)
            Z = Z / np.maximum(norm, 1e-12)
            out[:, : Z.shape[1]] = Z
        out[miss] = 0.0
        return out

    @property
    def names(self) -> list[str]:
        return [f"{self.name}#{k}" for k in range(self.dim)]


class NodeFeatureEncoder:
    """Fitted encoder of one node type's attribute table into a float32 feature matrix (picklable).

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
            raise ConfigError(f"attribute table lacks columns {absent} named in attr_kinds; present: {list(df.columns)}")
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

    def __repr__(self) -> str:
        cols = ", ".join(f"{c.name}:{c.kind}" for c in self.columns)
        return f"NodeFeatureEncoder({cols}; dim={self.dim if self.fitted else '?'})"


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
