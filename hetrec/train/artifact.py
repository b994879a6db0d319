"""A run's ``artifact/``: everything later stages need, loadable without the training data, and the one place the
model is rebuilt from a description (:func:`build_modules`, used by training and by :meth:`Artifact.build_model`).

Layout (written into a temporary sibling folder, then renamed into place by :func:`hetrec.io.atomic_write`)::

    artifact/
      manifest.json        kind, format version, config hash, size and SHA-256 of every file below (checked first)
      meta.json            dataset, encoder, target relation, scorer, the model spec (canonical_etypes, num_nodes,
                           feat_dims, node_input, encoder_config: see model_spec), version, command
      config.yaml          the resolved Hydra config of the run
      embeddings.pt        {ntype: float32 [num_nodes, D]} final node embeddings (tensors only: weights_only load)
      model.pt             state dict of hetrec.train.model.LinkPredictionModel (tensors only), or absent. Keys
                           "node_input.*", "encoder.*" (rebuilt by build_modules from meta.json), "objective.*"
                           (scorers; DistMult's diagonal is also meta.json's scorer_params["relation"]).
      idmaps/<ntype>.json  raw <-> internal ids (IdMap)
      train_matrix.npz     user x item training interactions (seen-item filter, popularity, profiles)
      co_bought.npz        item pair evidence from training baskets: src, dst, count, support, confidence, lift
      item_attrs.parquet   item attribute table (explanations, categories, filters), or absent
      features.pt          {ntype: float32 [num_nodes, F]} input features (tensors only), or absent
      feature_encoders.json/.npz  fitted attribute -> feature encoders as parameters
                           (hetrec.graph.features.save_encoders), or absent
      new_user_scores.npy  float32 [num_items]: the list of users without history chosen on validation
                           (hetrec.train.new_users; meta.json "new_users" names it), or absent (the model's scores)

No file is a pickle: loading an artifact cannot run code. A file that is missing, truncated or altered is named by a
:class:`~hetrec.io.DamagedFileError` before anything is parsed, with the fix.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from hetrec.data.idmap import IdMap
from hetrec.io import DamagedFileError, atomic_write, check_manifest, write_manifest

__all__ = ["Artifact", "ArtifactError", "CO_BOUGHT_FIELDS", "ARTIFACT_FORMAT", "model_spec", "build_modules"]

CO_BOUGHT_FIELDS = ("src", "dst", "count", "support", "confidence", "lift")
ARTIFACT_FORMAT = 2
"""Version of the folder layout (2: manifest.json, feature encoders as parameters instead of a pickle)."""
SPEC_KEYS = ("canonical_etypes", "num_nodes", "feat_dims", "node_input", "encoder_config")

ArtifactError = DamagedFileError
"""A damaged artifact file (the message names it and the fix)."""


def model_spec(cfg: Any, data: Any) -> dict:
    """What :func:`build_modules` needs to build the model of ``cfg`` for ``data``; stored in meta.json as is.

    Returns:
        ``{"canonical_etypes": [[s, r, d], ...], "num_nodes": {ntype: n}, "feat_dims": {ntype: F}, "node_input":
        NodeInput keyword arguments, "encoder_config": the resolved encoder config (with ``_target_``)}``.
    """
    from omegaconf import OmegaConf

    g = data.graph
    num_nodes = {nt: int(g.num_nodes(nt)) for nt in g.ntypes}
    return {
        "canonical_etypes": [list(et) for et in g.canonical_etypes],
        "num_nodes": num_nodes,
        "feat_dims": {nt: int(f.shape[1]) for nt, f in data.features.items() if nt in num_nodes},
        "node_input": OmegaConf.to_container(cfg.node_input, resolve=True),
        "encoder_config": OmegaConf.to_container(cfg.encoder, resolve=True),
    }


def build_modules(spec: Mapping[str, Any]) -> tuple[torch.nn.Module, torch.nn.Module]:
    """``(node_input, encoder)`` built from a :func:`model_spec` (freshly initialised; the caller loads weights)."""
    from hydra.utils import instantiate

    from hetrec.models.input import NodeInput

    node_input = NodeInput(dict(spec["num_nodes"]), dict(spec.get("feat_dims") or {}), **dict(spec["node_input"]))
    etypes = [tuple(et) for et in spec["canonical_etypes"]]
    encoder = instantiate(dict(spec["encoder_config"]), etypes=etypes, in_dims=node_input.out_dims, _convert_="all")
    return node_input, encoder


def _torch_save_tensors(obj: Mapping[str, torch.Tensor], path: Path) -> None:
    torch.save({str(k): v.detach().cpu().contiguous() for k, v in obj.items()}, path)


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
    new_user_scores: np.ndarray | None = None

    # ------------------------------------------------------------------ model
    def build_model(self) -> torch.nn.Module:
        """The trained ``node_input`` and ``encoder`` rebuilt from meta.json's model spec with model.pt's weights,
        in eval mode, as one module with attributes ``node_input`` and ``encoder``.

        Raises:
            DamagedFileError: naming what is missing (no model.pt, spec keys absent from meta.json) or what does not
                match, and the fix.
        """
        missing = [k for k in SPEC_KEYS if k != "feat_dims" and not self.meta.get(k)]
        if self.model_state is None or missing:
            why = ["no model.pt"] if self.model_state is None else []
            why += [f"meta.json lacks {', '.join(missing)}"] if missing else []
            cmd = self.meta.get("command")
            raise DamagedFileError("artifact/meta.json", f"the model cannot be rebuilt from this artifact "
                                   f"({'; '.join(why)})", f"retrain with `{cmd}`" if cmd else "retrain the run")
        node_input, encoder = build_modules(self.meta)
        model = torch.nn.Module()
        model.node_input, model.encoder = node_input, encoder
        state = {k: v for k, v in self.model_state.items() if k.split(".", 1)[0] in ("node_input", "encoder")}
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as e:
            cmd = self.meta.get("command")
            raise DamagedFileError("artifact/model.pt", f"does not match the model rebuilt from meta.json: "
                                   f"{str(e)[:500]}", f"retrain with `{cmd}`" if cmd else "retrain the run") from None
        return model.eval()

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> Path:
        """Write to ``path`` atomically (a half-written artifact never appears under the final name), manifest last."""
        from omegaconf import OmegaConf

        from hetrec.graph.features import encoders_to_state, save_encoders

        path = Path(path)
        if self.feature_encoders:
            encoders_to_state(self.feature_encoders)  # fail before writing anything when one cannot be stored
        with atomic_write(path, folder=True) as tmp:
            (tmp / "meta.json").write_text(json.dumps(self.meta, indent=2, default=str))
            (tmp / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(self.config)))
            _torch_save_tensors(self.embeddings, tmp / "embeddings.pt")
            (tmp / "idmaps").mkdir()
            for ntype, m in self.idmaps.items():
                (tmp / "idmaps" / f"{ntype}.json").write_text(json.dumps(m.to_json()))
            if self.train_matrix is not None:
                sp.save_npz(tmp / "train_matrix.npz", self.train_matrix.tocsr())
            if self.co_bought is not None:
                np.savez(tmp / "co_bought.npz", **{k: np.asarray(self.co_bought[k]) for k in CO_BOUGHT_FIELDS})
            if self.item_attrs is not None:
                self.item_attrs.to_parquet(tmp / "item_attrs.parquet")
            if self.model_state is not None:
                _torch_save_tensors(self.model_state, tmp / "model.pt")
            if self.features is not None:
                _torch_save_tensors(self.features, tmp / "features.pt")
            if self.feature_encoders:
                save_encoders(self.feature_encoders, tmp)
            if self.new_user_scores is not None:
                np.save(tmp / "new_user_scores.npy", np.asarray(self.new_user_scores, dtype=np.float32))
            write_manifest(tmp, "artifact", ARTIFACT_FORMAT, self.config, command=self.meta.get("command"))
        return path

    @staticmethod
    def fix_hint(path: str | os.PathLike) -> str:
        """How to repair a damaged artifact folder: the run's command when recorded, else the generic advice."""
        cmd = None
        for name in ("manifest.json", "meta.json"):
            try:
                cmd = json.loads((Path(path) / name).read_text()).get("command")
            except (OSError, ValueError, AttributeError):
                continue
            if cmd:
                break
        retrain = f"retrain with `{cmd}`" if cmd else "retrain with hetrec-train (the run's original command)"
        return f"{retrain}, or restore the folder {Path(path)} from a backup"

    @classmethod
    def load(cls, path: str | os.PathLike) -> Artifact:
        """Read an artifact folder after checking its manifest.

        Raises:
            FileNotFoundError: ``path`` is no artifact (no meta.json).
            DamagedFileError: naming the file that is missing, truncated, altered or unparsable, and the fix.
        """
        from omegaconf import OmegaConf

        from hetrec.graph.features import load_encoders

        path = Path(path)
        if not (path / "meta.json").exists() and not (path / "manifest.json").exists():
            raise FileNotFoundError(
                f"{path} is not a hetrec artifact (no meta.json); pass a run folder written by hetrec-train "
                f"(its artifact/ subfolder)"
            )
        fix = cls.fix_hint(path)
        check_manifest(path, "artifact", ARTIFACT_FORMAT, fix)

        def read(name: str, fn, optional: bool = True):
            p = path / name
            if optional and not p.exists():
                return None
            try:
                return fn(p)
            except Exception as e:  # any parse failure: name the file
                raise DamagedFileError(p, f"cannot be read ({type(e).__name__}: {str(e)[:300]})", fix) from None

        tensors = lambda p: torch.load(p, weights_only=True, map_location="cpu")
        # embeddings memory-mapped (copy-on-write): server processes of one artifact share them in the page cache
        mapped = lambda p: torch.load(p, weights_only=True, map_location="cpu", mmap=True)
        idmaps = {}
        for p in sorted((path / "idmaps").glob("*.json")):
            idmaps[p.stem] = read(f"idmaps/{p.name}", lambda q: IdMap.from_json(json.loads(q.read_text())))
        cfg = read("config.yaml", lambda p: OmegaConf.to_container(OmegaConf.load(p)))

        def npz(p: Path) -> dict:
            with np.load(p, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}

        return cls(
            embeddings=read("embeddings.pt", mapped, optional=False),
            idmaps=idmaps,
            meta=read("meta.json", lambda p: json.loads(p.read_text()), optional=False),
            config=cfg or {},
            train_matrix=read("train_matrix.npz", lambda p: sp.load_npz(p).tocsr()),
            co_bought=read("co_bought.npz", npz),
            item_attrs=read("item_attrs.parquet", pd.read_parquet),
            model_state=read("model.pt", tensors),
            features=read("features.pt", tensors),
            feature_encoders=read("feature_encoders.json", lambda p: load_encoders(p.parent)),
            new_user_scores=read("new_user_scores.npy", lambda p: np.load(p, allow_pickle=False)),
        )
