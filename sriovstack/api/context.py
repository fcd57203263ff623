"""The request context: who is calling (from X-Auth-Token), the request id, and the services."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from sriovstack.api.errors import request_id_of
from sriovstack.api.services import Services
from sriovstack.errors import Unauthorized
from sriovstack.identity import Caller, policy

__all__ = ["RequestContext", "request_context", "services_of", "optional_token"]

_NEEDS_AUTH = "The request you have made requires authentication."


@dataclass(frozen=True, slots=True)
class RequestContext:
    """An authenticated request: the Caller its token stands for, and the services.

    Handlers authorize with ``sriovstack.identity.policy`` on ``caller``, as services do.
    """

    caller: Caller
    request_id: str
    services: Services


def services_of(request: Request) -> Services:
    """The Services bundle of the app serving ``request``."""
    services: Services = request.app.state.services
    return services


def optional_token(request: Request) -> str | None:
    """The X-Auth-Token header, if any."""
    return request.headers.get("x-auth-token") or None


async def request_context(request: Request) -> RequestContext:
    """FastAPI dependency: validate X-Auth-Token; Unauthorized (401) when missing or invalid.

    On the event loop when the worker's token cache answers without the database (most
    requests: no hop to the threadpool and back); in the threadpool when it must read."""
    secret = optional_token(request)
    if secret is None:
        raise Unauthorized(_NEEDS_AUTH)
    services = services_of(request)
    tokens = services.identity.tokens
    token = tokens.cached(secret)
    if token is None:
        token = await run_in_threadpool(tokens.validate, secret)
    return RequestContext(policy.caller_of(token), request_id_of(request), services)
