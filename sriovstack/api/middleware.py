"""The edge of every request: a request id on every response, the body limit, NUL refused, the
500 guard, and each request's duration for /metrics.

One pure ASGI middleware, outermost inside the app, so even a crash in a handler leaves with
the request id and the right envelope (and no traceback in the body).  Image data uploads
(``PUT /image/v2/images/{id}/file``) are the one body not buffered here: they stream to the
image store, which enforces its own size cap.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sriovstack.api.errors import Envelope, Problem, envelope_for, problem_response
from sriovstack.metrics import Recorder

__all__ = ["EdgeMiddleware", "route_template"]

_LOG = logging.getLogger(__name__)


_STREAMED = re.compile(r"^/image/v2/images/[^/]+/file$")
# Methods whose request, without Content-Length or Transfer-Encoding, has no body (RFC 9112
# §6.3); no handler of ours reads a body on them.
_BODILESS = frozenset({"GET", "HEAD"})


class _TooLarge(Exception):
    pass


def _streamed(scope: Scope) -> bool:
    """True for a request whose body goes to the handler as it arrives (image data)."""
    return scope.get("method") == "PUT" and bool(_STREAMED.match(scope.get("path", "")))


def _id_headers(path: str, request_id: str) -> list[tuple[bytes, bytes]]:
    headers = [(b"x-openstack-request-id", request_id.encode())]
    if envelope_for(path) is Envelope.COMPUTE:
        headers.append((b"x-compute-request-id", request_id.encode()))
    return headers


def _header(scope: Scope, wanted: bytes) -> str:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return bytes(value).decode("latin-1")
    return ""


def _framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared Content-Length (None without one) and whether Transfer-Encoding is set;
    ValueError for a Content-Length that is not a number (answered with 400 by the caller)."""
    declared: int | None = None
    chunked = False
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            declared = int(value)
        elif name == b"transfer-encoding":
            chunked = True
    return declared, chunked


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, list[Message]]:
    """The whole body (at most ``limit`` bytes) and any non-body messages seen meanwhile."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), [message]
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), []


def _nul_in(value: Any, where: str) -> str | None:
    """The path of the first key or string holding a NUL character, or None."""
    if isinstance(value, str):
        return where if "\x00" in value else None
    items: Any = ()
    if isinstance(value, dict):
        for key in value:
            if "\x00" in key:
                return f"{where}.{key!r}".lstrip(".")
        items = ((f"{where}.{k}".lstrip("."), v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(value))
    for at, item in items:
        found = _nul_in(item, at)
        if found is not None:
            return found
    return None


def _nul_field(scope: Scope, body: bytes) -> str | None:
    """Where a request carries a NUL character (the query string or a JSON field), or None
    (a NUL in a path is an id nothing has: the handler's 404).  PostgreSQL refuses NUL in
    text and SQLite stores it, so the edge refuses it for both alike (issue 10, finding 5)."""
    if b"\x00" in unquote_to_bytes(scope.get("query_string", b"")):
        return "query string"
    if b"\x00" in body:
        return "body"
    if b"\\u0000" not in body:  # JSON writes a NUL as \u0000: nothing to look for
        return None
    try:
        return _nul_in(json.loads(body), "")
    except ValueError:
        return None  # not JSON: the handler's parser answers for it


class EdgeMiddleware:
    """Gives each request an id, refuses bodies over ``max_body_bytes`` (413), guards 500s, and
    records each request the app answers (route template, method, status, duration).

    One layer does all four (issue 14: each ASGI layer costs every request its frames and a
    ``send`` wrapper).  The recording covers the app as a timer inside the guard would: a
    request the edge itself refuses (400, 413) is not recorded, and a crash before the answer
    started is recorded as the 500 it is answered with."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, recorder: Recorder) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self._recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req-{uuid.uuid4()}"
        scope.setdefault("state", {})["request_id"] = request_id
        path = scope.get("path", "/")
        extra = _id_headers(path, request_id)
        status: int | None = None  # of the answer, once started

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        async def fail(code: int, message: str) -> None:
            response = problem_response(path, Problem(code, message), request_id,
                                        _header(scope, b"accept"))
            await response(scope, receive, send_with_id)

        if _streamed(scope):
            await self._guarded(scope, receive, send_with_id, status_of=lambda: status,
                                fail=fail, request_id=request_id)
            return
        try:
            declared, chunked = _framing(scope)
        except ValueError:
            await fail(400, "The Content-Length header is not a number.")
            return
        limit = self.max_body_bytes
        if declared is not None and declared > limit:
            await fail(413, f"The request body ({declared} bytes) exceeds the limit of "
                            f"{limit} bytes.")
            return
        if declared is None and not chunked and scope.get("method") in _BODILESS:
            # HTTP/1.1 framing says no body: nothing to buffer, replay or search for NUL
            replay: Receive = receive
            body = b""
        else:
            try:
                body, pending = await _read_body(receive, limit)
            except _TooLarge:
                await fail(413, f"The request body exceeds the limit of {limit} bytes.")
                return
            replay = _Replay(body, pending, receive)
        where = _nul_field(scope, body)
        if where is not None:
            await fail(400, f"Invalid input for field/attribute {where or 'body'}: NUL (0x00) "
                            "characters are not allowed.")
            return
        await self._guarded(scope, replay, send_with_id, status_of=lambda: status, fail=fail,
                            request_id=request_id)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, *,
                       status_of: Callable[[], int | None], fail: Any, request_id: str) -> None:
        """Run the app and record it; an unexpected error becomes a logged 500 (if nothing
        was sent yet)."""
        began = time.monotonic()
        try:
            try:
                await self.app(scope, receive, send)
            finally:
                self._recorder.request(route_template(scope), scope.get("method", ""),
                                       status_of() or 500, time.monotonic() - began)
        except Exception:
            _LOG.exception("request %s (%s %s) failed", request_id, scope.get("method"),
                           scope.get("path", "/"))
            if status_of() is not None:
                raise
            await fail(500, "The server met an unexpected error; see the server log for "
                            f"request {request_id}.")


def route_template(scope: Scope) -> str:
    """The matched route as a template ("/network/v2.0/ports/{port_id}"): the raw path with
    each path parameter's segment put back as ``{name}`` (FastAPI keeps only the innermost
    router's part of the template in the scope). "unmatched" when no route matched."""
    if scope.get("endpoint") is None and scope.get("route") is None:
        return "unmatched"
    params = scope.get("path_params")
    if not params:
        return str(scope.get("path", ""))
    names = {str(v): f"{{{k}}}" for k, v in params.items()}
    segments = str(scope.get("path", "")).split("/")
    return "/".join(names.get(segment, segment) for segment in segments)


class _Replay:
    """A receive() that hands the buffered body back once, then defers to the real one."""

    def __init__(self, body: bytes, pending: list[Message], receive: Receive) -> None:
        self._first: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
        self._first.extend(pending)
        self._receive = receive

    async def __call__(self) -> Message:
        if self._first:
            return self._first.pop(0)
        message: Any = await self._receive()
        return message
