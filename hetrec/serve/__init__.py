"""serve stage: a run's artifact loaded once, answering recommendation and association questions with raw ids.

- :class:`~hetrec.serve.model.ServingModel`: ``recommend``, ``similar``, ``associations``, ``cold_start``, ``profile``,
  ``popular`` (modules evidence, explain, cold_start, profile). ``Recommender`` is the baselines' interface
  (:class:`hetrec.evaluate.baselines.Recommender`); the former alias here warns and gives ``ServingModel``.
- :mod:`hetrec.serve.index`: exact / HNSW / IVF inner-product retrieval with filters.
- :mod:`hetrec.serve.api`: the FastAPI app (``create_app(run_dir)``); :mod:`hetrec.serve.commands`: the ``hetrec``
  subcommands; :mod:`hetrec.serve.report`: the self-contained HTML association report.
"""

from __future__ import annotations

from hetrec.serve.errors import ColdStartUnavailable, UnknownIdError
from hetrec.serve.index import ExactIndex, HNSWIndex, IVFIndex, build_index
from hetrec.serve.model import ServingModel, resolve_artifact_dir

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


def __getattr__(name: str):
    if name == "Recommender":
        from hetrec.serve import model

        return model.__getattr__(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
