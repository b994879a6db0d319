"""A run's ``artifact/``: everything later stages need, loadable without the training data.

Layout (all written into a temporary sibling folder, then renamed into place)::

    artifact/
      meta.json            dataset, encoder, target relation, scorer, canonical etypes, num_nodes, feature dims, version
      config.yaml          the resolved Hydra config of the run
      embeddings.pt        {ntype: float32 [num_nodes, D]} final node embeddings
      model.pt             state dict of the model (NodeInput + encoder [+ scorer]), or absent. Keys are prefixed
                           "node_input." (hetrec.models.NodeInput), "encoder." (the encoder built from meta.json's
                           encoder_config) and "objective." (scorers; DistMult's target-relation diagonal [D] is
                           "objective.scorers.<relation>.relation"): hetrec.train.model.LinkPredictionModel's state.
                           Serving rebuilds NodeInput(num_nodes, feat_dims, **node_input) and
                           instantiate(encoder_config, etypes=canonical_etypes, in_dims=meta.get("in_dims") or
                           {ntype: node_input.dim}) from meta.json for cold start (a new item = an isolated node).
      idmaps/<ntype>.json  raw <-> internal ids (IdMap)
      train_matrix.npz     user x item training interactions (seen-item filter, popularity, profiles)
      co_bought.npz        item pair evidence from training baskets: src, dst, count, support, confidence, lift
      item_attrs.parquet   item attribute table (explanations, categories, filters), or absent
      features.pt          {ntype: float32 [num_nodes, F]} input features, or absent
      feature_encoders.pkl fitted attribute -> feature transformers (cold start), or absent: {ntype: obj} where
                           obj.transform(DataFrame with item_attrs' columns) gives the rows of features.pt[ntype]
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from hetrec.data.idmap import IdMap

CO_BOUGHT_FIELDS = ("src", "dst", "count", "support", "confidence", "lift")


@dataclass
class Artifact:
    """In-memory form of a run's ``artifact/`` folder (see the module docstring for the files)."""

    embeddings: dict[str, torch.Tensor]
    idmaps: dict[str, IdMap]
    meta: dict
    config: dict = field(default_factory=dict)
    train_matrix: sp.csr_matrix | None = None
    co_bought: dict[str, np.ndarray] | None = None
    item_attrs: pd.DataFrame | None = None
    model_state: dict[str, torch.Tensor] | None = None
    features: dict[str, torch.Tensor] | None = None
    feature_encoders: dict[str, object] | None = None

    def save(self, path: str | os.PathLike) -> Path:
        """Write to ``path`` atomically: a half-written artifact never appears under the final name."""
        from omegaconf import OmegaConf

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            (tmp / "meta.json").write_text(json.dumps(self.meta, indent=2, default=str))
            (tmp / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(self.config)))
            torch.save({k: v.detach().cpu() for k, v in self.embeddings.items()}, tmp / "embeddings.pt")
            (tmp / "idmaps").mkdir()
            for ntype, m in self.idmaps.items():
                m.save(tmp / "idmaps" / f"{ntype}.json")
            if self.train_matrix is not None:
                sp.save_npz(tmp / "train_matrix.npz", self.train_matrix.tocsr())
            if self.co_bought is not None:
                np.savez(tmp / "co_bought.npz", **{k: np.asarray(self.co_bought[k]) for k in CO_BOUGHT_FIELDS})
            if self.item_attrs is not None:
                self.item_attrs.to_parquet(tmp / "item_attrs.parquet")
            if self.model_state is not None:
                torch.save(self.model_state, tmp / "model.pt")
            if self.features is not None:
                torch.save(self.features, tmp / "features.pt")
            if self.feature_encoders is not None:
                with open(tmp / "feature_encoders.pkl", "wb") as f:
                    pickle.dump(self.feature_encoders, f)
            if path.exists():
                old = path.with_name(f".{path.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(path, old)
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Artifact:
        """Read an artifact folder; raise ``FileNotFoundError`` naming the missing file."""
        from omegaconf import OmegaConf

        path = Path(path)
        if not (path / "meta.json").exists():
            raise FileNotFoundError(
                f"{path} is not a hetrec artifact (no meta.json); pass a run folder written by hetrec-train "
                f"(its artifact/ subfolder)"
            )
        opt = lambda name: (path / name) if (path / name).exists() else None  # noqa: E731
        co = opt("co_bought.npz")
        enc = opt("feature_encoders.pkl")
        feats = opt("features.pt")
        model = opt("model.pt")
        attrs = opt("item_attrs.parquet")
        tm = opt("train_matrix.npz")
        cfg = opt("config.yaml")
        encoders = None
        if enc is not None:
            with open(enc, "rb") as f:
                encoders = pickle.load(f)
        return cls(
            embeddings=torch.load(path / "embeddings.pt", weights_only=True),
            idmaps={p.stem: IdMap.load(p) for p in sorted((path / "idmaps").glob("*.json"))},
            meta=json.loads((path / "meta.json").read_text()),
            config=OmegaConf.to_container(OmegaConf.load(cfg)) if cfg else {},
            train_matrix=sp.load_npz(tm).tocsr() if tm else None,
            co_bought=dict(np.load(co)) if co else None,
            item_attrs=pd.read_parquet(attrs) if attrs else None,
            model_state=torch.load(model, weights_only=True) if model else None,
            features=torch.load(feats, weights_only=True) if feats else None,
            feature_encoders=encoders,
        )
