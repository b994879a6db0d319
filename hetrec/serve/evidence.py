"""Loading a run's artifact for serving: the folder lookup, consistency checks, and the evidence read-only at
request time (training matrix, co-purchase matrices, popularity, item attributes, categories and names).

Everything here is built once per loaded model and never changed by a request.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from hetrec.train.artifact import Artifact

__all__ = ["Evidence", "resolve_artifact_dir", "check_artifact", "user_query", "unit", "rnd", "EVENT_VERBS", "SHRINK"]

EVENT_VERBS = {
    "purchases": "bought",
    "purchase": "bought",
    "buys": "bought",
    "orders": "ordered",
    "clicks": "viewed",
    "views": "viewed",
    "carts": "added to your cart",
    "rates": "rated",
    "ratings": "rated",
}
"""Past-tense verb per target relation, for reasons ("because you bought X")."""

SHRINK = 3.0  # pseudo-count of the evidence shrinkage in associations


def unit(x: np.ndarray) -> np.ndarray:
    """Rows (or the vector) scaled to unit length, float32."""
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(n, 1e-12)).astype(np.float32)


def rnd(x: float, nd: int = 4) -> float:
    """A JSON-ready rounded float."""
    return float(round(float(x), nd))


def resolve_artifact_dir(path: str | os.PathLike) -> Path:
    """The artifact folder of ``path``: ``path/artifact`` for a run folder, ``path`` itself for an artifact folder."""
    p = Path(path)
    for cand in (p / "artifact", p):
        if (cand / "meta.json").exists() or (cand / "manifest.json").exists():
            return cand
    if not p.exists():
        raise FileNotFoundError(
            f"run folder {str(p)!r} does not exist; pass --run with a folder written by hetrec-train"
        )
    raise FileNotFoundError(
        f"{str(p)!r} holds neither artifact/meta.json nor meta.json; pass the run folder of hetrec-train "
        f"(hydra.run.dir) or its artifact/ subfolder"
    )


def check_artifact(artifact: Artifact, user_type: str, item_type: str) -> None:
    """Raise ``ValueError`` when the artifact lacks embeddings or id maps of the target's node types, or when their
    sizes disagree."""
    for nt in (user_type, item_type):
        if nt not in artifact.embeddings:
            raise ValueError(f"artifact has no embeddings for node type '{nt}' (has {sorted(artifact.embeddings)})")
        if nt not in artifact.idmaps:
            raise ValueError(f"artifact has no id map for node type '{nt}' (has {sorted(artifact.idmaps)})")
        if len(artifact.idmaps[nt]) != artifact.embeddings[nt].shape[0]:
            raise ValueError(
                f"artifact: {len(artifact.idmaps[nt])} {nt} ids but {artifact.embeddings[nt].shape[0]} {nt} "
                f"embeddings; the artifact is inconsistent, re-run hetrec-train"
            )
    scores, n_items = artifact.new_user_scores, artifact.embeddings[item_type].shape[0]
    if scores is not None and (np.ndim(scores) != 1 or len(scores) != n_items):
        raise ValueError(
            f"artifact: new_user_scores.npy has shape {np.shape(scores)}, expected ({n_items},) "
            f"(one score per {item_type}); the artifact is inconsistent, re-run hetrec-train"
        )


def distmult_relation(artifact: Artifact, event: str, dim: int) -> np.ndarray:
    """DistMult's diagonal of the target relation: meta.json's ``scorer_params["relation"]`` (written by
    hetrec-train), else model.pt's ``objective.scorers.<event>.relation``."""
    params = (artifact.meta.get("scorer_params") or {}).get("relation")
    if params is not None and np.asarray(params).size == dim:
        return np.asarray(params, dtype=np.float32).reshape(-1)
    key = f"objective.scorers.{event}.relation"  # what hetrec-train's LinkPredictionModel saves
    state = artifact.model_state or {}
    if key in state and state[key].numel() == dim:
        return state[key].detach().float().reshape(-1).numpy()
    raise ValueError(
        f"scorer is distmult but neither meta.json's scorer_params['relation'] nor model.pt's '{key}' holds the "
        f"target relation's diagonal of size {dim}; retrain with hetrec-train to write them"
    )


def user_query(artifact: Artifact, scorer: str, event: str, user_emb: np.ndarray, dim: int) -> np.ndarray:
    """Per-user query vectors whose inner product with the item embeddings is the run's score."""
    if scorer == "dot":
        return user_emb
    if scorer == "cosine":
        return unit(user_emb)
    if scorer == "distmult":
        return (user_emb * distmult_relation(artifact, event, dim)[None, :]).astype(np.float32)
    raise ValueError(f"artifact meta.json has scorer {scorer!r}; serving supports dot, cosine, distmult")


@dataclass
class Evidence:
    """What explanations and filters read: training interactions, co-purchase evidence, attributes.

    Shapes:
        train, train_csc: ``[num_users, num_items]`` binary; co[field], co_sym: ``[num_items, num_items]``;
        popularity: ``[num_items]``.
    """

    train: sp.csr_matrix
    train_csc: sp.csc_matrix
    popularity: np.ndarray
    co: dict[str, sp.csr_matrix] = field(default_factory=dict)
    co_sym: sp.csr_matrix | None = None
    attrs: pd.DataFrame | None = None
    categories: np.ndarray | None = None
    names: np.ndarray | None = None

    @classmethod
    def from_artifact(cls, artifact: Artifact, n_users: int, n_items: int) -> Evidence:
        tm = artifact.train_matrix
        if tm is not None:
            if tm.shape != (n_users, n_items):
                raise ValueError(
                    f"artifact train_matrix.npz has shape {tm.shape}, expected ({n_users}, {n_items}) users x items"
                )
            tm = tm.tocsr().astype(np.float32)
            tm.data[:] = 1.0
            popularity = np.asarray(tm.sum(axis=0)).ravel()
        else:
            tm = sp.csr_matrix((n_users, n_items), dtype=np.float32)
            popularity = np.zeros(n_items, dtype=np.float32)
        ev = cls(train=tm, train_csc=tm.tocsc(), popularity=popularity)
        co = artifact.co_bought
        if co is not None and len(co.get("src", [])):
            src, dst = np.asarray(co["src"], np.int64), np.asarray(co["dst"], np.int64)
            for f in ("count", "support", "confidence", "lift"):
                m = sp.csr_matrix((np.asarray(co[f], np.float64), (src, dst)), shape=(n_items, n_items))
                m.sum_duplicates()
                m.sort_indices()
                ev.co[f] = m
            c = ev.co["count"]
            ev.co_sym = c.maximum(c.T).tocsr()  # count is symmetric; a top-k cut may have kept one direction
            ev.co_sym.sort_indices()
            if not ev.popularity.any():
                ev.popularity = np.asarray(ev.co["count"].sum(axis=0)).ravel()
        attrs = artifact.item_attrs
        if attrs is not None and len(attrs) != n_items:
            raise ValueError(f"artifact item_attrs.parquet has {len(attrs)} rows for {n_items} items")
        ev.attrs = attrs.reset_index(drop=True) if attrs is not None else None
        if ev.attrs is not None and "category" in ev.attrs.columns:
            ev.categories = ev.attrs["category"].astype("string").fillna("").to_numpy(dtype=object)
        for col in ("name", "title"):
            if ev.attrs is not None and col in ev.attrs.columns:
                ev.names = ev.attrs[col].astype("string").fillna("").to_numpy(dtype=object)
                break
        return ev

    def history(self, u: int) -> np.ndarray:
        """Internal ids of the items user ``u`` has in training."""
        return self.train.indices[self.train.indptr[u] : self.train.indptr[u + 1]].astype(np.int64)

    def co_value(self, field_name: str, a: int, b: int) -> float:
        """One entry of a co-purchase matrix (a binary search in row ``a``; scipy's ``m[a, b]`` is ~10x slower)."""
        m = self.co_sym if field_name == "count_sym" else self.co.get(field_name)
        if m is None:
            return 0.0
        lo, hi = m.indptr[a], m.indptr[a + 1]
        j = lo + int(np.searchsorted(m.indices[lo:hi], b))
        return float(m.data[j]) if j < hi and m.indices[j] == b else 0.0

    def pair(self, a: int, b: int) -> dict[str, Any] | None:
        """Co-purchase evidence of the pair (a, b), read in the direction a -> b (count is symmetric)."""
        if not self.co:
            return None
        cnt = self.co_value("count_sym", a, b)
        if cnt <= 0:
            return None
        conf = self.co_value("confidence", a, b)
        lift = self.co_value("lift", a, b) or self.co_value("lift", b, a)
        sup = self.co_value("support", a, b) or self.co_value("support", b, a)
        return {"count": int(cnt), "support": rnd(sup, 6), "confidence": rnd(conf), "lift": rnd(lift, 3)}
