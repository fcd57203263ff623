"""Compute v2.1 flavor handlers: list, detail (with nova's filters) and show; administration is
flavor_manage.py's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from sriovstack.api.compute.microversions import ApiVersion, negotiate
from sriovstack.api.compute.schemas import flavor_query
from sriovstack.api.compute.views import flavor_brief_at, flavor_view
from sriovstack.api.context import RequestContext, request_context

__all__ = ["router"]

router = APIRouter()


def _base(ctx: RequestContext) -> str:
    return ctx.services.settings.url("/compute")


@router.get("/flavors")
def list_flavors(is_public: str | None = None, min_disk: str | None = Query(None, alias="minDisk"),
                 min_ram: str | None = Query(None, alias="minRam"), limit: str | None = None,
                 marker: str | None = None, ctx: RequestContext = Depends(request_context),
                 version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"flavors": [{id, name, links}]}`` (+description from 2.55); 400 for a bad
    filter or unknown marker."""
    query = flavor_query(is_public, min_disk, min_ram, limit, marker, ctx.caller.is_admin)
    flavors = ctx.services.compute.flavors.list(query, visible_to=ctx.caller)
    return {"flavors": [flavor_brief_at(f, _base(ctx), version) for f in flavors]}


@router.get("/flavors/detail")
def list_flavors_detail(is_public: str | None = None,
                        min_disk: str | None = Query(None, alias="minDisk"),
                        min_ram: str | None = Query(None, alias="minRam"),
                        limit: str | None = None, marker: str | None = None,
                        ctx: RequestContext = Depends(request_context),
                        version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"flavors": [...]}`` with ram, disk, vcpus...; ``is_public=None``: all."""
    query = flavor_query(is_public, min_disk, min_ram, limit, marker, ctx.caller.is_admin)
    flavors = ctx.services.compute.flavors.list(query, visible_to=ctx.caller)
    return {"flavors": [flavor_view(f, _base(ctx), version) for f in flavors]}


@router.get("/flavors/{flavor_id}")
def show_flavor(flavor_id: str, ctx: RequestContext = Depends(request_context),
                version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"flavor": {...}}``; 404 for unknown ids and for names (clients then list)."""
    flavor = ctx.services.compute.flavors.get(flavor_id, visible_to=ctx.caller)
    return {"flavor": flavor_view(flavor, _base(ctx), version)}
