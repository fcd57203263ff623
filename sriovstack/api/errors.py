"""The one mapping from errors to HTTP: status per error family, envelope per API prefix.

Services raise ``sriovstack.errors`` types; handlers never build error responses.  Each API
speaks its own OpenStack envelope (keystone, neutron, nova, glance, placement, internal),
chosen by the URL's first path segment.
"""

from __future__ import annotations

import enum
import html
import http
import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response

from sriovstack.errors import (ConfigError, Conflict, ErrorKind, Forbidden, Invalid,
                               NotAcceptable, NotFound, NotSupported, SriovstackError,
                               Unauthorized, Unavailable)

__all__ = ["Envelope", "Problem", "envelope_for", "status_of", "render", "problem_response",
           "install_error_handlers", "request_id_of"]

_LOG = logging.getLogger(__name__)


class Envelope(enum.Enum):
    """Which OpenStack error body a URL gets."""

    IDENTITY = "identity"
    NETWORK = "network"
    COMPUTE = "compute"
    IMAGE = "image"
    PLACEMENT = "placement"
    INTERNAL = "internal"


_BY_SEGMENT = {envelope.value: envelope for envelope in Envelope}


def envelope_for(path: str) -> Envelope:
    """The envelope of the API ``path`` belongs to (INTERNAL for anything unknown)."""
    first = path.lstrip("/").split("/", 1)[0]
    return _BY_SEGMENT.get(first, Envelope.INTERNAL)  # every response asks: no exception


@dataclass(frozen=True, slots=True)
class Problem:
    """One error to render: the status, a human message, and the optional type names."""

    status: int
    message: str
    kind: ErrorKind | None = None  # neutron's type (PortNotFound) or a placement code
    code: str = "sriovstack.http"  # the stable sriovstack code
    # placement's 406 names the versions it serves (osc-placement negotiates from them)
    versions: tuple[str, str] | None = None

    @property
    def title(self) -> str:
        try:
            return http.HTTPStatus(self.status).phrase
        except ValueError:
            return "Error"


# Checked in order: the first family the error belongs to decides the status.
_STATUS: tuple[tuple[type[SriovstackError], int], ...] = (
    (Invalid, 400), (Unauthorized, 401), (Forbidden, 403), (NotFound, 404),
    (NotAcceptable, 406), (Conflict, 409), (Unavailable, 503), (ConfigError, 500),
)


def status_of(err: SriovstackError) -> int:
    """The HTTP status of an error (NotSupported: 400, or 409 when it says ``status=409``)."""
    if isinstance(err, NotSupported):
        return 409 if err.status == 409 else 400
    for family, status in _STATUS:
        if isinstance(err, family):
            return status
    return 500


# Nova's Fault (nova/api/openstack/wsgi.py) names the body by status from this table and
# falls back to "computeFault" for any other status, 4xx included: an unsupported microversion
# (InvalidGlobalAPIVersion -> HTTPNotAcceptable) is a 406 under "computeFault".
_NOVA_KEYS = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
              405: "badMethod", 409: "conflictingRequest", 413: "overLimit",
              415: "badMediaType", 429: "overLimit", 501: "notImplemented",
              503: "serviceUnavailable"}
_NEUTRON_TYPES = {400: "BadRequest", 401: "Unauthorized", 403: "PolicyNotAuthorized",
                  404: "NotFound", 405: "HTTPMethodNotAllowed", 409: "Conflict",
                  413: "RequestEntityTooLarge", 503: "ServiceUnavailable"}


def _nova_key(status: int) -> str:
    return _NOVA_KEYS.get(status, "computeFault")


def render(envelope: Envelope, problem: Problem, request_id: str) -> dict[str, Any]:
    """The JSON body of ``problem`` in ``envelope``'s shape."""
    p = problem
    if envelope is Envelope.IDENTITY:
        return {"error": {"code": p.status, "title": p.title, "message": p.message}}
    if envelope is Envelope.NETWORK:
        kind = str(p.kind) if p.kind else _NEUTRON_TYPES.get(p.status, "InternalServerError")
        return {"NeutronError": {"type": kind, "message": p.message, "detail": ""}}
    if envelope is Envelope.COMPUTE:
        return {_nova_key(p.status): {"code": p.status, "message": p.message}}
    if envelope is Envelope.IMAGE:
        return {"message": p.message, "code": f"{p.status} {p.title}", "title": p.title}
    if envelope is Envelope.PLACEMENT:
        code = str(p.kind if p.kind and p.kind.is_placement_code
                   else ErrorKind.PLACEMENT_UNDEFINED_CODE)
        error: dict[str, Any] = {"status": p.status, "title": p.title, "detail": p.message,
                                 "code": code, "request_id": request_id}
        if p.versions is not None:
            error["min_version"], error["max_version"] = p.versions
        return {"errors": [error]}
    return {"error": {"code": p.status, "type": p.code, "message": p.message}}


def request_id_of(scope_or_request: Any) -> str:
    """The request id the edge middleware gave this request ("" outside a request)."""
    scope = getattr(scope_or_request, "scope", scope_or_request)
    state = scope.get("state") or {}
    return str(state.get("request_id", ""))


# Glance's errors are webob's: the media type is negotiated from Accept among these offers,
# the earlier winning a tie, so ``*/*`` or no Accept (glanceclient) gets HTML and
# ``application/json`` (openstacksdk) gets the JSON body.
_WEBOB_OFFERS = ("text/html", "application/json", "text/plain")


def _quality(accept: str, offer: str) -> float:
    best, best_specificity = 0.0, -1
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        kind, _, sub = media.partition("/")
        o_kind, _, o_sub = offer.partition("/")
        if not ((kind in ("*", o_kind)) and (sub in ("*", o_sub))):
            continue
        specificity = (kind != "*") + (sub != "*")
        q = next((float(p[2:]) for p in params if p.startswith("q=")
                  and p[2:].replace(".", "", 1).isdigit()), 1.0)
        if specificity > best_specificity:
            best, best_specificity = q, specificity
    return best


def _webob_media(accept: str) -> str:
    if not accept.strip():
        return _WEBOB_OFFERS[0]
    scored = [(_quality(accept, offer), -i, offer) for i, offer in enumerate(_WEBOB_OFFERS)]
    q, _, offer = max(scored)
    return offer if q > 0 else "text/plain"


def _webob_html(problem: Problem) -> str:
    head = f"{problem.status} {problem.title}"
    return (f"<html>\n <head>\n  <title>{head}</title>\n </head>\n <body>\n"
            f"  <h1>{head}</h1>\n  {html.escape(problem.message)}<br /><br />\n\n\n"
            f" </body>\n</html>")


def problem_response(path: str, problem: Problem, request_id: str,
                     accept: str = "application/json") -> Response:
    """The response for ``problem`` in the envelope of ``path``; the image API negotiates
    its media type from ``accept`` as glance (webob) does."""
    envelope = envelope_for(path)
    if envelope is Envelope.IMAGE:
        media = _webob_media(accept)
        if media == "text/html":
            return HTMLResponse(_webob_html(problem), status_code=problem.status)
        if media == "text/plain":
            return Response(f"{problem.status} {problem.title}\n\n{problem.message}\n\n",
                            status_code=problem.status, media_type="text/plain")
    body = render(envelope, problem, request_id)
    return JSONResponse(body, status_code=problem.status)


def problem_of(err: SriovstackError, request_id: str) -> Problem:
    """The Problem for an error; server-side families get a generic message and a log line."""
    status = status_of(err)
    if status >= 500 and status != 503:
        _LOG.error("request %s failed: %s: %s", request_id, type(err).__name__, err)
        message = (f"The server could not handle the request ({err.code}); "
                   f"see the server log for request {request_id}.")
        return Problem(status, message, err.kind, err.code)
    versions = None
    if isinstance(err, NotAcceptable) and err.min_version and err.max_version:
        versions = (str(err.min_version), str(err.max_version))
    return Problem(status, str(err), err.kind, err.code, versions)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(x) for x in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        where = parts[0]
        rest = ".".join(parts[1:])
        return f"{rest} (in the {where})" if rest else f"the {where}"
    return ".".join(parts) or "the request"


def validation_message(exc: RequestValidationError) -> str:
    """One line naming every invalid field and what is wrong with it."""
    items = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            items.append(f"the body is not valid JSON ({error.get('msg', '')})")
            continue
        items.append(f"{_field_path(tuple(error.get('loc', ())))}: {error.get('msg', 'invalid')}")
    return "Invalid input: " + "; ".join(items or ["the request is malformed"])


def _accept(request: Request) -> str:
    return request.headers.get("accept", "")


async def _on_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SriovstackError)
    rid = request_id_of(request)
    return problem_response(request.url.path, problem_of(exc, rid), rid, _accept(request))


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problem = Problem(400, validation_message(exc), ErrorKind.INVALID_INPUT, Invalid.code)
    return problem_response(request.url.path, problem, request_id_of(request),
                            _accept(request))


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else http.HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404:
        message = f"The resource could not be found: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}"
    response = problem_response(request.url.path, Problem(exc.status_code, message),
                                request_id_of(request), _accept(request))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers: our error tree, validation (400, never 422), HTTP errors."""
    app.add_exception_handler(SriovstackError, _on_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
