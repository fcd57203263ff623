"""The edge of every request: a request id on every response, the body limit, and the 500 guard.

One pure ASGI middleware, outermost inside the app, so even a crash in a handler leaves with
the request id and the right envelope (and no traceback in the body).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sriovstack.api.errors import Envelope, Problem, envelope_for, problem_response

__all__ = ["EdgeMiddleware"]

_LOG = logging.getLogger(__name__)


class _TooLarge(Exception):
    pass


def _id_headers(path: str, request_id: str) -> list[tuple[bytes, bytes]]:
    headers = [(b"x-openstack-request-id", request_id.encode())]
    if envelope_for(path) is Envelope.COMPUTE:
        headers.append((b"x-compute-request-id", request_id.encode()))
    return headers


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value)  # ValueError for junk: answered with 400 by the caller
    return None


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


class EdgeMiddleware:
    """Gives each request an id, refuses bodies over ``max_body_bytes`` (413), guards 500s."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req-{uuid.uuid4()}"
        scope.setdefault("state", {})["request_id"] = request_id
        path = scope.get("path", "/")
        extra = _id_headers(path, request_id)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        async def fail(status: int, message: str) -> None:
            response = problem_response(path, Problem(status, message), request_id)
            await response(scope, receive, send_with_id)

        try:
            declared = _declared_length(scope)
        except ValueError:
            await fail(400, "The Content-Length header is not a number.")
            return
        limit = self.max_body_bytes
        if declared is not None and declared > limit:
            await fail(413, f"The request body ({declared} bytes) exceeds the limit of "
                            f"{limit} bytes.")
            return
        try:
            body, pending = await _read_body(receive, limit)
        except _TooLarge:
            await fail(413, f"The request body exceeds the limit of {limit} bytes.")
            return
        replay = _Replay(body, pending, receive)
        try:
            await self.app(scope, replay, send_with_id)
        except Exception:
            _LOG.exception("request %s (%s %s) failed", request_id, scope.get("method"), path)
            if started:
                raise
            await fail(500, "The server met an unexpected error; see the server log for "
                            f"request {request_id}.")


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
