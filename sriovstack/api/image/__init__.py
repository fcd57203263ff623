"""The image API (glance v2, read-only registry) under /image."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from sriovstack.api.context import RequestContext, request_context, services_of
from sriovstack.api.image.views import image_view, version_view
from sriovstack.compute import ImageQuery
from sriovstack.errors import Invalid

__all__ = [
    "router",
]

router = APIRouter()


@router.get("")
@router.get("/")
def list_versions(request: Request) -> dict[str, Any]:
    """The version list, served without a token (OSC asks before every image lookup)."""
    return {"versions": [version_view(services_of(request).settings.url("/image"))]}


def _ids(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if value.startswith("in:"):
        return tuple(v for v in value[3:].split(",") if v)
    if "," in value or ":" in value:
        raise Invalid(f"Invalid id filter {value!r}: use an id or in:<id>,<id>",
                      field="id", value=value)
    return (value,)


@router.get("/v2/images")
def list_images(name: str | None = None, id: str | None = None, status: str | None = None,
                visibility: str | None = None,
                ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"images": [...], "schema", "first"}``; filters ``name``, ``id=in:a,b``."""
    query = ImageQuery(name=name, ids=_ids(id), status=status, visibility=visibility)
    images = ctx.services.compute.images.list(query)
    return {"images": [image_view(i) for i in images], "schema": "/v2/schemas/images",
            "first": "/v2/images"}


@router.get("/v2/images/{image_id}")
def show_image(image_id: str,
               ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 the bare image object; 404 for unknown ids and for names (clients then list)."""
    return image_view(ctx.services.compute.images.get(image_id))
