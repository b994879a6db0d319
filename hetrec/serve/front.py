"""The ASGI front of the HTTP API: request limits and the fast path of ``GET /recommend``.

:class:`Front` wraps the FastAPI app:

- **Body limit**: a request whose ``Content-Length`` exceeds ``max_body`` bytes is answered 413 before its body is
  read; a chunked body is counted while FastAPI reads it and cut off with 413 at the limit. The answer names the size
  and the limit, never echoes the body.
- **Fast path**: ``GET /recommend`` is answered here, without FastAPI's routing and per-request parameter
  introspection (about half of a request's CPU time on this endpoint): the query string is parsed with the same
  pydantic validators FastAPI uses (``int`` for ``k``, ``bool`` for the switches), :func:`recommend_answer` (shared
  with the FastAPI route, which still documents the endpoint in ``/openapi.json``) computes the answer, and the JSON is
  encoded as Starlette's ``JSONResponse`` does. Errors map to the same status codes and messages as the app's handlers
  (tests compare both paths request by request).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl

from pydantic import TypeAdapter, ValidationError

from hetrec.errors import HetrecError
from hetrec.serve.errors import ColdStartUnavailable, UnknownIdError

__all__ = ["Limits", "Front", "recommend_answer", "split_ids", "error_answer"]

_INT, _BOOL = TypeAdapter(int), TypeAdapter(bool)
_JSON_HEADERS = [(b"content-type", b"application/json")]


@dataclass(frozen=True)
class Limits:
    """Request limits of the HTTP API (``hetrec serve --max-k --max-body --max-history``).

    Args:
        max_k: largest ``k`` / ``k_users`` (422 above). Default 1000.
        max_body: largest request body in bytes (413 above). Default 1 MiB.
        max_history: most item ids in ``?history=`` (422 above). Default 200.
        max_id_length: longest raw id accepted in a request (422 above; the ids of a catalogue are short, a
            megabyte-long id is abuse and is not echoed back whole). Default 512.
    """

    max_k: int = 1000
    max_body: int = 1 << 20
    max_history: int = 200
    max_id_length: int = 512

    def __post_init__(self) -> None:
        for name, v in asdict(self).items():
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"request limit {name} must be a positive integer, got {v!r}")


def split_ids(value: str | None) -> list[str] | None:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``; ``None`` stays ``None``."""
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def _short(value: str, n: int = 80) -> str:
    return value if len(value) <= n else f"{value[:n]}... ({len(value)} characters)"


def _check_ids(limits: Limits, name: str, ids: list[str] | str | None) -> None:
    for raw in [ids] if isinstance(ids, str) else ids or []:
        if len(raw) > limits.max_id_length:
            raise ValueError(f"{name}: id {_short(raw)!r} is longer than the limit of {limits.max_id_length} "
                             f"characters (--max-id-length)")


def recommend_answer(model: Any, limits: Limits, user: str | None, history: str | None, k: int,
                     category: str | None, in_stock: str | None, exclude_seen: bool, explain: bool) -> dict:
    """The answer of ``/recommend`` (both paths): argument checks, limits, then ``model.recommend``."""
    if (user is None) == (history is None):
        raise ValueError("give exactly one of ?user=RAW_ID or ?history=ITEM,ITEM")
    if not 0 <= k <= limits.max_k:
        raise ValueError(f"query.k: k must be in 0..{limits.max_k} (--max-k), got {k}")
    hist = split_ids(history)
    if hist is not None and len(hist) > limits.max_history:
        raise ValueError(f"query.history: {len(hist)} items, more than the limit of {limits.max_history} "
                         f"(--max-history); send the most recent ones")
    _check_ids(limits, "query.user", user)
    _check_ids(limits, "query.history", hist)
    _check_ids(limits, "query.category", category)
    return model.recommend(user=user, history=hist, k=k, category=category, allowed_items=split_ids(in_stock),
                           exclude_seen=exclude_seen, explain=explain)


def error_answer(e: Exception) -> tuple[int, dict]:
    """``(status, body)`` of an exception, as the app's exception handlers map it."""
    if isinstance(e, UnknownIdError):
        return 404, {"detail": str(e), "kind": e.kind, "id": _short(str(e.raw_id), 512)}
    if isinstance(e, ColdStartUnavailable):
        return 501, {"detail": f"cold start is not available for this artifact: {e}"}
    if isinstance(e, (ValueError, HetrecError)):
        return 422, {"detail": str(e)}
    return 500, {"detail": f"internal error: {type(e).__name__}: {e}"}


def _encode(body: Any) -> bytes:  # what starlette's JSONResponse.render does
    return json.dumps(body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode("utf-8")


class Front:
    """ASGI wrapper of the app (see the module docstring).

    Args:
        app: the FastAPI app.
        state: an object whose ``model`` attribute is the loaded model, or ``None`` while loading; ``error`` the
            load failure, if any.
        limits: the request limits.
        fast: answer ``GET /recommend`` here (default ``True``; ``False`` sends it through FastAPI).
    """

    def __init__(self, app: Any, state: Any, limits: Limits, fast: bool = True) -> None:
        self.app, self.state, self.limits, self.fast = app, state, limits, fast

    def __getattr__(self, name: str) -> Any:  # app.state, app.openapi(), ... of the wrapped app
        return getattr(self.app, name)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.fast and scope["path"] == "/recommend" and scope["method"] == "GET":
            status, body = self.recommend(scope.get("query_string", b""))
            await _respond(send, status, body)
            return
        size = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    size = int(value)
                except ValueError:
                    size = None
        limit = self.limits.max_body
        if size is not None and size > limit:
            await _respond(send, 413, {"detail": f"request body of {size} bytes exceeds the limit of {limit} bytes "
                                                 f"(--max-body); send a smaller request"})
            return
        seen = 0
        started = cut = False

        async def limited_receive() -> dict:
            nonlocal seen, cut
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit and not cut:  # answer 413 now; the app sees a client that went away
                    cut = True
                    if not started:
                        await _respond(send, 413, {"detail": f"request body exceeds the limit of {limit} bytes "
                                                             f"(--max-body); send a smaller request"})
                if cut:
                    return {"type": "http.disconnect"}
            return msg

        async def guarded_send(msg: dict) -> None:
            nonlocal started
            if cut:
                return  # the 413 is the answer
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not cut:  # after a 413, the app's complaint about the cut-off body is expected
                raise

    def recommend(self, query_string: bytes) -> tuple[int, dict | bytes]:
        """``(status, body)`` of ``GET /recommend?<query_string>``."""
        model = self.state.model
        if model is None:
            return 503, {"detail": self.state.not_ready()}
        try:
            q = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))  # as starlette parses it
        except (UnicodeDecodeError, ValueError) as e:
            return 422, {"detail": f"query string cannot be parsed: {e}"}
        try:
            k = _param(_INT, q, "k", 10)
            exclude_seen = _param(_BOOL, q, "exclude_seen", True)
            explain = _param(_BOOL, q, "explain", True)
        except _BadParam as e:
            return 422, {"detail": str(e), "errors": [str(e)]}
        try:
            body = recommend_answer(model, self.limits, q.get("user"), q.get("history"), k, q.get("category"),
                                    q.get("in_stock"), exclude_seen, explain)
        except Exception as e:  # noqa: BLE001 - every failure becomes an answer, the server keeps serving
            return error_answer(e)
        return 200, _encode(body)


class _BadParam(ValueError):
    pass


def _param(adapter: TypeAdapter, q: dict, name: str, default: Any) -> Any:
    if name not in q:
        return default
    try:
        return adapter.validate_python(q[name])
    except ValidationError as e:
        msg = e.errors()[0].get("msg", "invalid value")
        raise _BadParam(f"query.{name}: {msg} (got {_short(q[name])!r})") from None


async def _respond(send: Any, status: int, body: dict | bytes) -> None:
    data = body if isinstance(body, bytes) else _encode(body)
    await send({"type": "http.response.start", "status": status,
                "headers": [*_JSON_HEADERS, (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})
