"""Route rebuilding: an API route copied with a new path, endpoint or leading dependencies, and
the one-hop form of a plain ``def`` handler.

FastAPI runs a ``def`` handler in the threadpool and then, because the handler was not a
coroutine, goes back to the threadpool a second time only to validate the returned value
against the response model (``fastapi.routing.serialize_response``).  Each hop to a worker
thread and back costs about 0.15 ms of CPU (issue 14).  ``one_hop`` gives such a route an
``async`` endpoint that runs the handler in the threadpool itself: FastAPI then sees a
coroutine and validates on the event loop, so the request pays one hop, not two.  The
handler, its signature (which FastAPI reads through ``__wrapped__``), its response model and
its errors are unchanged.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import params
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute

__all__ = ["rebuilt", "one_hop"]


def rebuilt(route: APIRoute, *, path: str | None = None,
            endpoint: Callable[..., Any] | None = None,
            leading: Sequence[params.Depends] = ()) -> APIRoute:
    """A copy of ``route`` at ``path``, calling ``endpoint``, with the ``leading``
    dependencies solved before its own; every other setting as ``route`` has it."""
    return APIRoute(
        route.path if path is None else path, route.endpoint if endpoint is None else endpoint,
        response_model=route.response_model, status_code=route.status_code, tags=route.tags,
        dependencies=[*leading, *route.dependencies], summary=route.summary,
        description=route.description, response_description=route.response_description,
        responses=route.responses, deprecated=route.deprecated, name=route.name,
        methods=route.methods, operation_id=route.operation_id,
        response_model_include=route.response_model_include,
        response_model_exclude=route.response_model_exclude,
        response_model_by_alias=route.response_model_by_alias,
        response_model_exclude_unset=route.response_model_exclude_unset,
        response_model_exclude_defaults=route.response_model_exclude_defaults,
        response_model_exclude_none=route.response_model_exclude_none,
        include_in_schema=route.include_in_schema, response_class=route.response_class,
        callbacks=route.callbacks, openapi_extra=route.openapi_extra,
        generate_unique_id_function=route.generate_unique_id_function,
        strict_content_type=route.strict_content_type, max_body_size=route.max_body_size,
        form_limits=route.form_limits)


def _in_threadpool(handler: Callable[..., Any]) -> Callable[..., Any]:
    """``handler`` as a coroutine function that runs it in the threadpool."""
    @functools.wraps(handler)
    async def hop(*args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(handler, *args, **kwargs)
    return hop


def one_hop(route: BaseRoute) -> BaseRoute:
    """``route`` with a plain ``def`` handler rebuilt to reach the threadpool once per
    request; any other route (async handlers, generators, mounts) as it is."""
    if not isinstance(route, APIRoute):
        return route
    handler = route.endpoint
    if (inspect.iscoroutinefunction(handler) or inspect.isgeneratorfunction(handler)
            or inspect.isasyncgenfunction(handler) or not inspect.isfunction(handler)):
        return route
    return rebuilt(route, endpoint=_in_threadpool(handler))
