"""The HTTP API: a FastAPI app over one :class:`~hetrec.serve.model.ServingModel`, loaded once at start-up.

Endpoints (OpenAPI docs at ``/docs``, schema at ``/openapi.json``):

- ``GET /health``: what is loaded (dataset, encoder, sizes, index).
- ``GET /recommend?user=U&k=10`` or ``?history=A,B&k=10``; filters ``category=``, ``in_stock=A,B,...``.
- ``GET /similar?item=I&k=10``; ``GET /associations?item=I&k=10[&alpha=0.5]``.
- ``POST /cold_start`` with ``{"attributes": {...}, "k": 10, "k_users": 10}``.
- ``GET /profile?user=U``.

Errors: an unknown user/item/category id answers 404 naming it (unknown users on ``/recommend`` are not an error:
they get popular items with ``"fallback": "popular"``); a bad argument (``k`` outside ``0..max_k``, an attribute the
catalogue does not have, ...) answers 422 with the reason; cold start on an artifact that cannot embed new items
answers 501. Any other failure answers 500 with the message and the server keeps serving.

Run it with ``hetrec serve --run DIR [--workers N]`` or ``HETREC_RUN=DIR uvicorn --factory
hetrec.serve.api:app_from_env``. Endpoints are ``async``: one process answers one request at a
time; scale with ``--workers``.
"""

from __future__ import annotations

import os
import time
from typing import Annotated, Any

from fastapi import Body, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from hetrec.errors import HetrecError
from hetrec.serve.errors import ColdStartUnavailable, UnknownIdError
from hetrec.serve.model import ServingModel

__all__ = ["create_app", "app_from_env", "set_threads"]

DEFAULT_MAX_K = 1000
ENV_RUN, ENV_INDEX, ENV_OPTIONS, ENV_THREADS = "HETREC_RUN", "HETREC_INDEX", "HETREC_INDEX_OPTIONS", "HETREC_THREADS"


def set_threads(n: int) -> None:
    """Use ``n`` threads in torch and faiss (OpenMP) in this process."""
    import faiss
    import torch

    torch.set_num_threads(max(1, int(n)))
    faiss.omp_set_num_threads(max(1, int(n)))


class ColdStartRequest(BaseModel):
    """A new product, by the catalogue's attribute columns."""

    attributes: dict[str, Any] = Field(..., examples=[{"category": "Food>Dairy", "brand": "Acme", "price": 2.5}])
    k: int = Field(10, ge=0, le=DEFAULT_MAX_K, description="number of similar items")
    k_users: int = Field(10, ge=0, le=DEFAULT_MAX_K, description="number of users to promote the product to")


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def create_app(run_dir: str | os.PathLike | None = None, model: ServingModel | None = None, **options: Any) -> FastAPI:
    """Build the app for one run (loading its artifact and building its indexes once, now).

    Args:
        run_dir: a run folder of ``hetrec-train`` or its ``artifact/`` folder.
        model: an already loaded model instead of ``run_dir``.
        **options: passed to :meth:`ServingModel.load` (``index``, ``index_options``, ``alpha``, ``max_k``, ...).
    """
    if model is None:
        if run_dir is None:
            raise ValueError("create_app needs run_dir (a hetrec-train run folder) or model")
        model = ServingModel.load(run_dir, **options)
    model.warm_up()
    max_k = model.max_k
    started = time.time()
    app = FastAPI(
        title="hetrec",
        version=str(model.meta.get("hetrec_version", "")),
        description=(
            "Recommendations, similar products, cross-sell associations, cold start and user profiles from a "
            "trained heterogeneous-graph model. Raw ids in and out."
        ),
    )
    app.state.model = model

    @app.exception_handler(UnknownIdError)
    async def _unknown(_: Request, e: UnknownIdError) -> JSONResponse:
        return JSONResponse({"detail": str(e), "kind": e.kind, "id": str(e.raw_id)}, status_code=404)

    @app.exception_handler(ValueError)
    @app.exception_handler(HetrecError)  # bad input that is not a ValueError (the more specific handlers win)
    async def _bad(_: Request, e: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, status_code=422)

    @app.exception_handler(ColdStartUnavailable)
    async def _cold(_: Request, e: ColdStartUnavailable) -> JSONResponse:
        return JSONResponse({"detail": f"cold start is not available for this artifact: {e}"}, status_code=501)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        msgs = []
        for err in e.errors():
            where = ".".join(str(p) for p in err.get("loc", ()))
            msgs.append(f"{where}: {err.get('msg')} (got {err.get('input')!r})")
        return JSONResponse({"detail": "; ".join(msgs), "errors": msgs}, status_code=422)

    @app.exception_handler(Exception)
    async def _crash(_: Request, e: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"internal error: {type(e).__name__}: {e}"}, status_code=500)

    K = Query(10, ge=0, le=max_k, description=f"number of results, 0..{max_k}")

    @app.get("/health", summary="Liveness and what is loaded")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok", "uptime_s": round(time.time() - started, 1), **model.info()})

    @app.get("/recommend", summary="Top-k items for a user, or for a visitor's history")
    async def recommend(
        user: str | None = Query(None, description="raw user id; unknown users get popular items (fallback)"),
        history: str | None = Query(None, description="comma-separated raw item ids of a visitor's basket/session"),
        k: int = K,
        category: str | None = Query(None, description="only this category (or its sub-categories)"),
        in_stock: str | None = Query(None, description="comma-separated raw item ids that may be recommended"),
        exclude_seen: bool = Query(True, description="drop items the user already has"),
    ) -> JSONResponse:
        if (user is None) == (history is None):
            raise ValueError("give exactly one of ?user=RAW_ID or ?history=ITEM,ITEM")
        return JSONResponse(
            model.recommend(
                user=user, history=_split(history), k=k, category=category, allowed_items=_split(in_stock),
                exclude_seen=exclude_seen,
            )
        )

    @app.get("/similar", summary="Items most similar to an item (embedding cosine)")
    async def similar(
        item: str = Query(..., description="raw item id"),
        k: int = K,
        category: str | None = Query(None),
        in_stock: str | None = Query(None, description="comma-separated raw item ids that may be returned"),
    ) -> JSONResponse:
        return JSONResponse(model.similar(item, k=k, category=category, allowed_items=_split(in_stock)))

    @app.get("/associations", summary="Cross-sell / bundle candidates with co-purchase evidence")
    async def associations(
        item: str = Query(..., description="raw item id"),
        k: int = K,
        alpha: float | None = Query(None, ge=0.0, le=1.0, description="weight of co-purchase evidence"),
        category: str | None = Query(None),
        in_stock: str | None = Query(None),
    ) -> JSONResponse:
        return JSONResponse(
            model.associations(item, k=k, alpha=alpha, category=category, allowed_items=_split(in_stock))
        )

    @app.post("/cold_start", summary="A new product from its attributes: similar items and users to promote it to")
    def cold_start(req: Annotated[ColdStartRequest, Body()]) -> JSONResponse:
        if req.k > max_k or req.k_users > max_k:
            raise ValueError(f"k and k_users must be in 0..{max_k}, got {req.k} and {req.k_users}")
        return JSONResponse(model.cold_start(req.attributes, k=req.k, k_users=req.k_users))

    @app.get("/profile", summary="A user's top categories, attributes and interest clusters")
    def profile(
        user: str = Query(..., description="raw user id"),
        top: int = Query(5, ge=1, le=100),
        clusters: int = Query(3, ge=1, le=20),
    ) -> JSONResponse:
        return JSONResponse(model.profile(user, top=top, n_clusters=clusters))

    return app


def app_from_env() -> FastAPI:
    """App factory for ``uvicorn --factory`` (and ``hetrec serve --workers N``): the run folder comes from
    ``HETREC_RUN``, the index from ``HETREC_INDEX`` (default ``auto``), index options from ``HETREC_INDEX_OPTIONS``
    (JSON, e.g. ``{"ef_search": 128}``), threads per process from ``HETREC_THREADS`` (default 1)."""
    import json

    run = os.environ.get(ENV_RUN)
    if not run:
        raise RuntimeError(f"set {ENV_RUN} to a hetrec-train run folder (or use `hetrec serve --run DIR`)")
    set_threads(int(os.environ.get(ENV_THREADS, "1")))
    opts = json.loads(os.environ.get(ENV_OPTIONS) or "{}")
    return create_app(run, index=os.environ.get(ENV_INDEX, "auto"), index_options=opts)
