"""The HTTP API: a FastAPI app over one :class:`~hetrec.serve.model.ServingModel`, loaded once at start-up.

Endpoints (OpenAPI docs at ``/docs``, schema at ``/openapi.json``):

- ``GET /health``: liveness (always 200 while the process runs) and what is loaded (dataset, encoder, sizes, index).
- ``GET /ready``: 200 once the artifact, its indexes and the top-K table are loaded, 503 before (and after a failed
  load, with the reason).
- ``GET /recommend?user=U&k=10`` or ``?history=A,B&k=10``; filters ``category=``, ``in_stock=A,B,...``.
- ``GET /similar?item=I&k=10``; ``GET /associations?item=I&k=10[&alpha=0.5]``.
- ``POST /cold_start`` with ``{"attributes": {...}, "k": 10, "k_users": 10}``.
- ``GET /profile?user=U``.

Errors: an unknown user/item/category id answers 404 naming it (unknown users on ``/recommend`` are not an error:
they get popular items with ``"fallback": "popular"``); a bad argument (``k`` outside ``0..max_k``, a history longer
than ``max_history``, an attribute the catalogue does not have or an absurd number for it, ...) answers 422 with the
reason; a body over ``max_body`` bytes 413 (:class:`~hetrec.serve.front.Limits`); a request before the model is
loaded 503; cold start on an artifact that cannot embed new items 501. Any other failure answers 500 with the message
and the server keeps serving. ``GET /recommend`` is answered by the fast path of :mod:`hetrec.serve.front` (same
answers, without FastAPI's per-request overhead); ``?explain=false`` leaves out reasons and evidence.

Run it with ``hetrec serve --run DIR [--workers N]`` or ``HETREC_RUN=DIR uvicorn --factory
hetrec.serve.api:app_from_env``. Endpoints are ``async``: one process answers one request at a
time; scale with ``--workers`` (the processes share the memory-mapped embeddings, derived vectors and top-K table of
the artifact's ``index_cache/``).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Body, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from hetrec.errors import HetrecError
from hetrec.serve.errors import ColdStartUnavailable, UnknownIdError
from hetrec.serve.front import Front, Limits, error_answer, recommend_answer, split_ids

__all__ = ["create_app", "app_from_env", "set_threads", "Limits"]

DEFAULT_MAX_K = 1000
ENV_RUN, ENV_INDEX, ENV_OPTIONS, ENV_THREADS = "HETREC_RUN", "HETREC_INDEX", "HETREC_INDEX_OPTIONS", "HETREC_THREADS"
ENV_LIMITS, ENV_TABLE_K, ENV_BACKGROUND = "HETREC_LIMITS", "HETREC_TABLE_K", "HETREC_BACKGROUND"


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


class _State:
    """The loaded model (``None`` while loading) and a load failure, shared by the app and its front."""

    def __init__(self) -> None:
        self.model: Any = None
        self.error: str | None = None
        self.started = time.time()

    def not_ready(self) -> str:
        if self.error is not None:
            return f"the model failed to load: {self.error}"
        return "the model is still loading; poll /ready"

    def load(self, run_dir: Any, options: dict) -> None:
        from hetrec.serve.model import ServingModel

        try:
            self.model = ServingModel.load(run_dir, **options).warm_up()
        except Exception as e:  # noqa: BLE001 - reported by /ready, /health and on stderr
            self.error = f"{type(e).__name__}: {e}"
            print(f"error: {self.error}", file=sys.stderr, flush=True)


def create_app(run_dir: str | os.PathLike | None = None, model: Any = None, limits: Limits | None = None,
               background: bool = False, fast_path: bool = True, **options: Any) -> Front:
    """Build the app for one run.

    Args:
        run_dir: a run folder of ``hetrec-train`` or its ``artifact/`` folder.
        model: an already loaded :class:`~hetrec.serve.model.ServingModel` instead of ``run_dir``.
        limits: request limits (default :class:`~hetrec.serve.front.Limits`); ``limits.max_k`` also bounds the model.
        background: load ``run_dir`` in a thread started with the server (``/health`` answers at once, ``/ready``
            and the endpoints answer 503 until the load is done) instead of now, before the app exists.
        fast_path: answer ``GET /recommend`` in the ASGI front (default) rather than through FastAPI's route.
        **options: passed to :meth:`ServingModel.load` (``index``, ``index_options``, ``alpha``, ``table_k``, ...).

    Returns:
        the ASGI app (a :class:`~hetrec.serve.front.Front` around the FastAPI app; attributes such as ``state``
        and ``openapi`` are the FastAPI app's).
    """
    limits = limits or Limits(max_k=int(options.pop("max_k", DEFAULT_MAX_K)))
    options.setdefault("max_k", limits.max_k)
    state = _State()
    if model is None and run_dir is None:
        raise ValueError("create_app needs run_dir (a hetrec-train run folder) or model")
    if model is not None:
        model.max_k = limits.max_k
        state.model = model.warm_up()
    elif not background:
        from hetrec.serve.model import ServingModel

        state.model = ServingModel.load(run_dir, **options).warm_up()
    max_k = limits.max_k

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        if state.model is None and state.error is None:
            threading.Thread(target=state.load, args=(run_dir, options), daemon=True, name="hetrec-load").start()
        yield

    meta = state.model.meta if state.model is not None else {}
    app = FastAPI(
        title="hetrec",
        version=str(meta.get("hetrec_version") or _version()),
        description=(
            "Recommendations, similar products, cross-sell associations, cold start and user profiles from a "
            "trained heterogeneous-graph model. Raw ids in and out."
        ),
        lifespan=lifespan,
    )
    app.state.model = state.model
    app.state.serving = state

    def loaded() -> Any:
        if state.model is None:
            raise _NotReady(state.not_ready())
        app.state.model = state.model
        return state.model

    @app.exception_handler(Exception)
    async def _crash(_: Request, e: Exception) -> JSONResponse:
        if isinstance(e, _NotReady):
            return JSONResponse({"detail": str(e)}, status_code=503)
        status, body = error_answer(e)
        return JSONResponse(body, status_code=status)

    # registered per class: the handler of Exception alone would answer, then re-raise (a logged traceback)
    for exc in (UnknownIdError, ValueError, HetrecError, ColdStartUnavailable, _NotReady):
        app.add_exception_handler(exc, _crash)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        msgs = []
        for err in e.errors():
            where = ".".join(str(p) for p in err.get("loc", ()))
            got = repr(err.get("input"))
            got = got if len(got) <= 200 else f"{got[:200]}... ({len(got)} characters)"  # never echo a whole body
            msgs.append(f"{where}: {err.get('msg')} (got {got})")
        return JSONResponse({"detail": "; ".join(msgs), "errors": msgs}, status_code=422)

    K = Query(10, ge=0, le=max_k, description=f"number of results, 0..{max_k}")

    @app.get("/health", summary="Liveness and what is loaded")
    async def health() -> JSONResponse:
        m = state.model
        status = "ok" if m is not None else ("failed" if state.error else "loading")
        body = {"status": status, "uptime_s": round(time.time() - state.started, 1), "ready": m is not None}
        if state.error:
            body["error"] = state.error
        if m is not None:
            body.update(m.info())
        body["limits"] = dict(limits.__dict__)
        return JSONResponse(body)

    @app.get("/ready", summary="200 once the artifact, its indexes and the top-K table are loaded, else 503")
    async def ready() -> JSONResponse:
        if state.model is None:
            return JSONResponse({"ready": False, "detail": state.not_ready()}, status_code=503)
        return JSONResponse({"ready": True})

    @app.get("/recommend", summary="Top-k items for a user, or for a visitor's history")
    async def recommend(
        user: str | None = Query(None, description="raw user id; unknown users get popular items (fallback)"),
        history: str | None = Query(None, description=f"comma-separated raw item ids of a visitor's basket/session "
                                                      f"(at most {limits.max_history})"),
        k: int = K,
        category: str | None = Query(None, description="only this category (or its sub-categories)"),
        in_stock: str | None = Query(None, description="comma-separated raw item ids that may be recommended"),
        exclude_seen: bool = Query(True, description="drop items the user already has"),
        explain: bool = Query(True, description="add reason and evidence to every item"),
    ) -> JSONResponse:
        return JSONResponse(recommend_answer(loaded(), limits, user, history, k, category, in_stock, exclude_seen,
                                             explain))

    @app.get("/similar", summary="Items most similar to an item (embedding cosine)")
    async def similar(
        item: str = Query(..., description="raw item id"),
        k: int = K,
        category: str | None = Query(None),
        in_stock: str | None = Query(None, description="comma-separated raw item ids that may be returned"),
    ) -> JSONResponse:
        return JSONResponse(loaded().similar(item, k=k, category=category, allowed_items=split_ids(in_stock)))

    @app.get("/associations", summary="Cross-sell / bundle candidates with co-purchase evidence")
    async def associations(
        item: str = Query(..., description="raw item id"),
        k: int = K,
        alpha: float | None = Query(None, ge=0.0, le=1.0, description="weight of co-purchase evidence"),
        category: str | None = Query(None),
        in_stock: str | None = Query(None),
    ) -> JSONResponse:
        return JSONResponse(
            loaded().associations(item, k=k, alpha=alpha, category=category, allowed_items=split_ids(in_stock))
        )

    @app.post("/cold_start", summary="A new product from its attributes: similar items and users to promote it to")
    def cold_start(req: Annotated[ColdStartRequest, Body()]) -> JSONResponse:
        if req.k > max_k or req.k_users > max_k:
            raise ValueError(f"k and k_users must be in 0..{max_k}, got {req.k} and {req.k_users}")
        return JSONResponse(loaded().cold_start(req.attributes, k=req.k, k_users=req.k_users))

    @app.get("/profile", summary="A user's top categories, attributes and interest clusters")
    def profile(
        user: str = Query(..., description="raw user id"),
        top: int = Query(5, ge=1, le=100),
        clusters: int = Query(3, ge=1, le=20),
    ) -> JSONResponse:
        return JSONResponse(loaded().profile(user, top=top, n_clusters=clusters))

    return Front(app, state, limits, fast=fast_path)


class _NotReady(Exception):
    pass


def _version() -> str:
    from hetrec import __version__

    return str(__version__ or "0")


def app_from_env() -> Front:
    """App factory for ``uvicorn --factory`` (and ``hetrec serve --workers N``): the run folder comes from
    ``HETREC_RUN``, the index from ``HETREC_INDEX`` (default ``auto``), index options from ``HETREC_INDEX_OPTIONS``
    (JSON, e.g. ``{"ef_search": 128}``), threads per process from ``HETREC_THREADS`` (default 1), request limits from
    ``HETREC_LIMITS`` (JSON of :class:`~hetrec.serve.front.Limits` fields) and the top-K table size from
    ``HETREC_TABLE_K``. The model loads before the process accepts connections (other workers keep answering), or
    in the background with ``HETREC_BACKGROUND=1`` (``/ready`` says when it is done)."""
    run = os.environ.get(ENV_RUN)
    if not run:
        raise RuntimeError(f"set {ENV_RUN} to a hetrec-train run folder (or use `hetrec serve --run DIR`)")
    set_threads(int(os.environ.get(ENV_THREADS, "1")))
    opts = json.loads(os.environ.get(ENV_OPTIONS) or "{}")
    limits = Limits(**json.loads(os.environ.get(ENV_LIMITS) or "{}"))
    extra = {"table_k": int(os.environ[ENV_TABLE_K])} if os.environ.get(ENV_TABLE_K) else {}
    background = os.environ.get(ENV_BACKGROUND, "0") == "1"
    return create_app(run, limits=limits, background=background, index=os.environ.get(ENV_INDEX, "auto"),
                      index_options=opts, **extra)
