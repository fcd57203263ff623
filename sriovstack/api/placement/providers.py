"""Placement resource providers: list (filters), show, inventories, usages, traits,
aggregates and allocations; admin only, as placement's default policy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from sriovstack.api.context import RequestContext, request_context
from sriovstack.api.placement.microversion import Microversion, placement_version
from sriovstack.api.placement.query import parse_required, parse_resources
from sriovstack.api.placement.views import (inventory_view, provider_allocations_view,
                                            provider_view)
from sriovstack.compute import ResourceProvider
from sriovstack.errors import ErrorKind, NotFound
from sriovstack.identity import policy

__all__ = ["router"]

router = APIRouter()


def _admin(ctx: RequestContext = Depends(request_context)) -> RequestContext:
    policy.require_admin(ctx.caller, "placement")
    return ctx


def _fits(rp: ResourceProvider, wanted: tuple[tuple[str, int], ...]) -> bool:
    free = {i.resource_class: i.total - i.reserved - i.used for i in rp.inventories}
    return all(free.get(rc, 0) >= n for rc, n in wanted)


@router.get("/resource_providers")
def list_resource_providers(name: str | None = None, uuid: str | None = None,
                            in_tree: str | None = None, resources: str | None = None,
                            required: list[str] = Query([]), member_of: list[str] = Query([]),
                            version: Microversion = Depends(placement_version),
                            ctx: RequestContext = Depends(_admin)) -> dict[str, Any]:
    """200 ``{"resource_providers": [...]}`` filtered by name, uuid, in_tree (1.14),
    resources with room (1.4), required traits (1.18) and member_of (1.3: none have
    aggregates)."""
    placement = ctx.services.compute.placement
    wanted = parse_resources(resources) if resources and version.at_least("1.4") else ()
    req, forbidden, any_of = (parse_required(required, version)
                              if version.at_least("1.18") else ((), (), ()))
    providers = placement.providers()
    if in_tree is not None and version.at_least("1.14"):
        roots = {rp.root_uuid for rp in providers if rp.uuid == in_tree}
        providers = tuple(rp for rp in providers if rp.root_uuid in roots)
    out = []
    for rp in providers:
        traits = set(placement.provider_traits(rp))
        if ((name is not None and rp.name != name) or (uuid is not None and rp.uuid != uuid)
                or (member_of and version.at_least("1.3")) or not _fits(rp, wanted)
                or set(req) - traits or set(forbidden) & traits
                or not all(traits & set(g) for g in any_of)):
            continue
        out.append(provider_view(ctx.services.settings.url("/placement"), rp, version))
    return {"resource_providers": out}


@router.get("/resource_providers/{provider_uuid}")
def show_resource_provider(provider_uuid: str,
                           version: Microversion = Depends(placement_version),
                           ctx: RequestContext = Depends(_admin)) -> dict[str, Any]:
    """200 the provider; 404 in placement's ``errors`` envelope."""
    rp = ctx.services.compute.placement.provider(provider_uuid)
    return provider_view(ctx.services.settings.url("/placement"), rp, version)


@router.get("/resource_providers/{provider_uuid}/inventories")
def list_inventories(provider_uuid: str, version: Microversion = Depends(placement_version),
                     ctx: RequestContext = Depends(_admin)) -> dict[str, Any]:
    """200 ``{"inventories": {CLASS: {...}}, "resource_provider_generation"}``."""
    rp = ctx.services.compute.placement.provider(provider_uuid)
    return {"inventories": {i.resource_class: inventory_view(i) for i in rp.inventories},
            "resource_provider_generation": rp.generation}


@router.get("/resource_providers/{provider_uuid}/inventories/{resource_class}")
def show_inventory(provider_uuid: str, resource_class: str,
                   version: Microversion = Depends(placement_version),
                   ctx: RequestContext = Depends(_admin)) -> dict[str, Any]:
    """200 one class's inventory with the generation; 404 when the provider has none."""
    rp = ctx.services.compute.placement.provider(provider_uuid)
    for inv in rp.inventories:
        if inv.resource_class == resource_class:
            return {**inventory_view(inv), "resource_provider_generation": rp.generation}
    raise NotFound(f"No inventory of class {resource_class} for {provider_uuid}",
                   kind=ErrorKind.PLACEMENT_UNDEFINED_CODE, value=resource_class)


@router.get("/resource_providers/{provider_uuid}/usages")
def list_usages(provider_uuid: str, version: Microversion = Depends(placement_version),
                ctx: RequestContext = Depends(_admin)) -> dict[str, Any]:
    """200 ``{"usages": {CLASS: used}, "resource_provider_generation"}``."""
    rp = ctx.services.compute.placement.provider(provider_uuid)
    return {"usages": {i.resource_class: i.used for i in rp.inventories},
            "resource_provider_generation": rp.generation}


@router.get("/resource_providers/{provider_uuid}/traits")
def list_provider_traits(provider_uuid: str,
                         version: Microversion = Depends(placement_version),
                         ctx: RequestContext = Depends(_admin)) -> dict[str, Any]:
    """200 ``{"traits": [...], "resource_provider_generation"}`` (1.6)."""
    version.require("1.6")
    placement = ctx.services.compute.placement
    rp = placement.provider(provider_uuid)
    return {"traits": list(placement.provider_traits(rp)),
            "resource_provider_generation": rp.generation}


@router.get("/resource_providers/{provider_uuid}/aggregates")
def list_provider_aggregates(provider_uuid: str,
                             version: Microversion = Depends(placement_version),
                             ctx: RequestContext = Depends(_admin)) -> dict[str, Any]:
    """200 ``{"aggregates": []}`` (1.1; no host aggregates here), with the generation 1.19."""
    version.require("1.1")
    rp = ctx.services.compute.placement.provider(provider_uuid)
    body: dict[str, Any] = {"aggregates": []}
    if version.at_least("1.19"):
        body["resource_provider_generation"] = rp.generation
    return body


@router.get("/resource_providers/{provider_uuid}/allocations")
def list_provider_allocations(provider_uuid: str,
                              version: Microversion = Depends(placement_version),
                              ctx: RequestContext = Depends(_admin)) -> dict[str, Any]:
    """200 ``{"allocations": {consumer: {"resources": {...}}}, "resource_provider_generation"}``."""
    allocs = ctx.services.compute.placement.provider_allocations(provider_uuid)
    return provider_allocations_view(allocs)
