"""GET /v2.0/extensions and /v2.0/extensions/{alias}: only what is really implemented."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from sriovstack.api.context import RequestContext, request_context
from sriovstack.api.network.views import EXTENSIONS, extension_view
from sriovstack.errors import ErrorKind, NotFound

__all__ = ["router"]

router = APIRouter()


@router.get("/v2.0/extensions")
def list_extensions(ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Every extension: 200."""
    return {"extensions": [extension_view(*item) for item in EXTENSIONS]}


@router.get("/v2.0/extensions/{alias}")
def show_extension(alias: str, ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """One extension: 200; 404 for one we do not implement (clients probe, e.g.
    tag-ports-during-bulk-creation, and a 404 is what they expect)."""
    for item in EXTENSIONS:
        if item[0] == alias:
            return {"extension": extension_view(*item)}
    raise NotFound(f"Extension with alias {alias} does not exist",
                   kind=ErrorKind.EXTENSION_NOT_FOUND,
                   field="alias", value=alias)
