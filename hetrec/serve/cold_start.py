"""Cold start: a new item's embedding from its attributes alone, and the items and users it is closest to.

Preferred path ``"encoder"``: the artifact's fitted item feature encoder -> ``NodeInput.embed_features`` -> the
trained encoder (:meth:`hetrec.train.artifact.Artifact.build_model`, the same rebuild training uses) on one-node blocks
in which the new item is an isolated destination node (it has no edges yet). Fallback ``"ridge"`` (only when the model
cannot be rebuilt from the artifact, e.g. no ``model.pt``): a ridge regression from item input features to item
embeddings, fitted on the catalogue at first use. The answer's ``method`` says which path was taken and why.

The path is built once per loaded model (under a lock) and then only read; everything of one request (the row, the
imputed columns) stays in local variables, so concurrent requests do not share state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from hetrec.serve.errors import ColdStartUnavailable
from hetrec.serve.evidence import rnd, unit
from hetrec.serve.explain import item_row

if TYPE_CHECKING:
    from hetrec.serve.model import ServingModel

__all__ = ["ColdStart"]


class ColdStart:
    """The cold-start capability of one loaded model (see the module docstring).

    Args:
        model: the :class:`~hetrec.serve.model.ServingModel` whose artifact and indexes are used.
    """

    def __init__(self, model: ServingModel) -> None:
        self.model = model
        self._lock = threading.Lock()
        self._path: tuple[str, Callable[[torch.Tensor], np.ndarray], str] | None = None

    # ------------------------------------------------------------------ embedding
    def embed(self, attributes: Mapping[str, Any]) -> tuple[np.ndarray, str, str, list[str]]:
        """``(vector [D], method, note, imputed columns)`` of a new item."""
        df, imputed = self._row(attributes)
        feats = self._features(df)
        method, fn, note = self.path()
        with torch.no_grad():
            vec = fn(feats)
        return np.asarray(vec, dtype=np.float32).reshape(-1), method, note, imputed

    def _row(self, attributes: Mapping[str, Any]) -> tuple[pd.DataFrame, list[str]]:
        if not isinstance(attributes, Mapping) or not attributes:
            raise ValueError("cold_start needs a non-empty mapping of item attributes, e.g. {'category': 'Food'}")
        attrs = self.model.attrs
        if attrs is None:
            return pd.DataFrame([dict(attributes)]), []
        unknown = sorted(set(map(str, attributes)) - set(attrs.columns))
        if unknown:
            raise ValueError(f"cold_start: unknown attribute(s) {unknown}; the catalogue has {list(attrs.columns)}")
        row = {c: attributes.get(c, None) for c in attrs.columns}
        imputed = []
        for c in attrs.columns:  # a missing number is unknown: use the catalogue's median
            if row[c] is None and pd.api.types.is_numeric_dtype(attrs[c]) and attrs[c].notna().any():
                row[c] = attrs[c].median()
                imputed.append(str(c))
        for c in attributes:  # an absurd number (1e30, NaN, inf) would give a meaningless embedding: refuse it
            self._check_number(str(c), row[str(c)])
        df = pd.DataFrame([row], columns=attrs.columns)
        for c in attrs.columns:  # keep the training dtypes so fitted transformers accept the row
            try:
                df[c] = df[c].astype(attrs[c].dtype)
            except (TypeError, ValueError) as e:
                raise ValueError(
                    f"cold_start: attribute {c!r}={attributes.get(c)!r} does not fit the catalogue's type "
                    f"{attrs[c].dtype}: {e}"
                ) from None
        return df, imputed

    def _check_number(self, col: str, value: Any) -> None:
        """Raise ``ValueError`` naming ``col`` when a numeric attribute is not finite or lies far outside the
        catalogue's range (more than 10 spans beyond its minimum or maximum)."""
        attrs = self.model.attrs
        if value is None or not pd.api.types.is_numeric_dtype(attrs[col]) or pd.api.types.is_bool_dtype(attrs[col]):
            return
        try:
            v = float(value)
        except (TypeError, ValueError):
            return  # not a number at all: the dtype check below names it
        if not np.isfinite(v):
            raise ValueError(f"cold_start: attribute {col!r}={value!r} is not a finite number; give a real value "
                             f"or leave {col!r} out (the catalogue's median is used)")
        known = attrs[col].to_numpy(dtype=np.float64, na_value=np.nan)
        known = known[np.isfinite(known)]
        if not len(known):
            return
        lo, hi = float(known.min()), float(known.max())
        span = max(hi - lo, 1.0)
        if not lo - 10 * span <= v <= hi + 10 * span:
            raise ValueError(f"cold_start: attribute {col!r}={value!r} is far outside the catalogue's range "
                             f"[{lo:g}, {hi:g}] (accepted: {lo - 10 * span:g} .. {hi + 10 * span:g}); check the unit "
                             f"or leave {col!r} out")

    def _features(self, df: pd.DataFrame) -> torch.Tensor:
        enc = (self.model.artifact.feature_encoders or {}).get(self.model.item_type)
        if enc is None:
            raise ColdStartUnavailable(
                "this artifact has no fitted item feature encoder (feature_encoders.json); cold start needs the "
                "item attributes to be turned into the features the model was trained on: train with item attributes"
            )
        try:
            x = enc.transform(df)  # type: ignore[attr-defined]
        except Exception as e:  # a bad attribute value is the caller's error; say which
            raise ValueError(
                f"cold_start: the item feature encoder rejected the attributes {df.iloc[0].to_dict()}: {e}"
            ) from e
        if sp.issparse(x):
            x = x.toarray()
        x = torch.as_tensor(np.asarray(x, dtype=np.float32) if not isinstance(x, torch.Tensor) else x).float()
        if not torch.isfinite(x).all():
            raise ValueError(f"cold_start: the attributes {df.iloc[0].to_dict()} give non-finite item features; "
                             f"check the numeric attributes")
        return x.reshape(1, -1)

    # ------------------------------------------------------------------ paths
    def path(self) -> tuple[str, Callable[[torch.Tensor], np.ndarray], str]:
        """``(method, features -> vector, note)``, built at first use and kept."""
        with self._lock:
            if self._path is None:
                try:
                    self._path = ("encoder", self._encoder_path(),
                                  "trained encoder on the item's features (isolated new node)")
                except ColdStartUnavailable as e:
                    self._path = ("ridge", self._ridge_path(str(e)),
                                  f"ridge regression from item features to embeddings (encoder path unavailable: {e})")
            return self._path

    def _encoder_path(self) -> Callable[[torch.Tensor], np.ndarray]:
        from hetrec._dgl import dgl  # only cold start needs DGL

        m = self.model
        try:
            net = m.artifact.build_model()
        except (ValueError, ImportError) as e:
            raise ColdStartUnavailable(str(e)) from None
        node_input, encoder = net.node_input, net.encoder
        if m.item_type not in node_input.projections:
            raise ColdStartUnavailable(
                f"the model has no feature projection for '{m.item_type}' (trained without item features)"
            )
        etypes = [tuple(e) for e in m.meta["canonical_etypes"]]
        ntypes = sorted({s for s, _, _ in etypes} | {d for _, _, d in etypes})
        item_type, dim = m.item_type, node_input.dim
        empty = torch.zeros(0, dtype=torch.int64)
        bias = float(m.item_emb[:, -1].mean()) if m.meta.get("item_bias") else None

        def one_node_block() -> Any:
            counts = {nt: int(nt == item_type) for nt in ntypes}
            return dgl.create_block({et: (empty, empty) for et in etypes}, num_src_nodes=counts, num_dst_nodes=counts)

        def embed(feats: torch.Tensor) -> np.ndarray:
            x = {nt: torch.zeros(0, dim) for nt in ntypes}
            x[item_type] = node_input.embed_features(item_type, feats)
            blocks = [one_node_block() for _ in range(encoder.num_layers)]
            vec = encoder(blocks, x)[item_type][0].detach().numpy()
            # objective.item_bias: a new product has no learned popularity term yet; it gets the catalogue's mean
            return np.append(vec, bias).astype(np.float32) if bias is not None else vec

        return embed

    def _ridge_path(self, why: str) -> Callable[[torch.Tensor], np.ndarray]:
        m = self.model
        feats = (m.artifact.features or {}).get(m.item_type)
        if feats is None:
            raise ColdStartUnavailable(f"{why}; and the ridge fallback needs item features (features.pt), absent too")
        from sklearn.linear_model import Ridge

        x = feats.detach().float().numpy()
        y = m.item_emb
        if len(x) > 200_000:
            rows = np.random.default_rng(0).choice(len(x), 200_000, replace=False)
            x, y = x[rows], y[rows]
        reg = Ridge(alpha=1.0).fit(x, y)
        return lambda f: reg.predict(f.numpy())

    # ------------------------------------------------------------------ answer
    def answer(self, attributes: Mapping[str, Any], k: int, k_users: int) -> dict[str, Any]:
        """See :meth:`hetrec.serve.model.ServingModel.cold_start`."""
        m = self.model
        vec, method, note, imputed = self.embed(attributes)
        if not np.isfinite(vec).all():
            raise ValueError(f"cold_start produced a non-finite embedding for {dict(attributes)}")
        u_vec = unit(vec)
        ids, scores = m.search("similar", u_vec, k)
        similar = []
        for r, (j, s) in enumerate(zip(ids.tolist(), scores.tolist()), 1):
            row = item_row(m, j, r, s)
            row["reason"] = f"similarity {s:.2f} to the new product's embedding"
            similar.append(row)
        us = m.user_query @ (u_vec if m.scorer == "cosine" else vec)
        k_users = min(k_users, len(us))
        top = np.argpartition(-us, k_users - 1)[:k_users] if 0 < k_users < len(us) else np.arange(k_users)
        top = top[np.lexsort((top, -us[top]))]
        users = []
        for r, u in enumerate(top.tolist(), 1):
            hist = m.evidence.history(u)
            reason = f"predicted score {us[u]:.2f}"
            if len(hist) and len(ids):
                s = m.item_unit[hist] @ u_vec
                h = int(hist[int(np.argmax(s))])
                reason += f"; {m.verb} {m._label(h)} (similarity {float(s.max()):.2f} to the new product)"
            users.append({"rank": r, "user": str(m.users.raw_ids[u]), "score": rnd(us[u]), "reason": reason})
        return {
            "method": method,
            "method_note": note,
            "imputed_with_median": imputed,
            "attributes": {str(a): (v.item() if hasattr(v, "item") else v) for a, v in attributes.items()},
            "similar": similar,
            "users": users,
        }
