"""serve stage: a run's artifact loaded once, answering recommendation and association questions with raw ids.

- :class:`~hetrec.serve.model.ServingModel` (alias ``Recommender``): ``recommend``, ``similar``, ``associations``,
  ``cold_start``, ``profile``, ``popular``.
- :mod:`hetrec.serve.index`: exact / HNSW / IVF inner-product retrieval with filters.
- :mod:`hetrec.serve.api`: the FastAPI app (``create_app(run_dir)``); :mod:`hetrec.serve.commands`: the ``hetrec``
  subcommands; :mod:`hetrec.serve.report`: the self-contained HTML association report.
"""

from __future__ import annotations

from hetrec.serve.errors import ColdStartUnavailable, UnknownIdError
from hetrec.serve.index import ExactIndex, HNSWIndex, IVFIndex, build_index
from hetrec.serve.model import Recommender, ServingModel, resolve_artifact_dir

__all__ = [
    "ServingModel",
    "Recommender",
    "UnknownIdError",
    "ColdStartUnavailable",
    "ExactIndex",
    "HNSWIndex",
    "IVFIndex",
    "build_index",
    "resolve_artifact_dir",
]
