"""serve stage: a run's artifact loaded once, answering recommendation and association questions with raw ids.

- :class:`~hetrec.serve.model.ServingModel`: ``recommend``, ``similar``, ``associations``, ``cold_start``, ``profile``,
  ``popular`` (modules evidence, explain, cold_start, profile). ``Recommender`` is the baselines' interface
  (:class:`hetrec.evaluate.baselines.Recommender`); the former alias here warns and gives ``ServingModel``.
- :mod:`hetrec.serve.index`: exact / HNSW / IVF inner-product retrieval with filters.
- :mod:`hetrec.serve.api`: the FastAPI app (``create_app(run_dir)``); :mod:`hetrec.serve.commands`: the ``hetrec``
  subcommands; :mod:`hetrec.serve.report`: the self-contained HTML association report.
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported on first use (PEP 562), so that ``hetrec --help`` and ``hetrec plugins``, which import
# hetrec.serve.commands, do not load torch, faiss and pandas.
_WHERE = {
    "ColdStartUnavailable": "errors", "UnknownIdError": "errors",
    "ExactIndex": "index", "HNSWIndex": "index", "IVFIndex": "index", "build_index": "index",
    "ServingModel": "model", "resolve_artifact_dir": "model",
}


__all__ = [
    "ServingModel",
    "UnknownIdError",
    "ColdStartUnavailable",
    "ExactIndex",
    "HNSWIndex",
    "IVFIndex",
    "build_index",
    "resolve_artifact_dir",
]


def __getattr__(name: str) -> Any:
    if name == "Recommender":  # the former alias: warns and gives ServingModel
        from hetrec.serve import model

        return model.__getattr__(name)
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"hetrec.serve.{_WHERE[name]}"), name)
