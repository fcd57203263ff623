"""The placement API (read-only subset) under /placement: hosts and PFs as resource providers.

One root provider per compute host (VCPU, MEMORY_MB, DISK_GB) and a child per PF with its
VFs as ``SRIOV_NET_VF`` inventory and usage (openstack_api_compat.md §4.6).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from sriovstack.api.context import RequestContext, request_context, services_of
from sriovstack.compute import Inventory, ResourceProvider
from sriovstack.identity import policy

__all__ = [
    "router",
]

router = APIRouter()

# Placement microversions: we serve the read-only calls, whose shapes are stable from 1.0;
# 1.14 adds parent/root provider uuids, which osc-placement shows.
MIN_VERSION, MAX_VERSION = "1.0", "1.14"


def _echo(request: Request, response: Response) -> None:
    asked = request.headers.get("openstack-api-version", "")
    version = asked.split(" ", 1)[1].strip() if asked.startswith("placement ") else MIN_VERSION
    response.headers["OpenStack-API-Version"] = f"placement {version}"
    response.headers["Vary"] = "openstack-api-version"


@router.get("")
@router.get("/")
def list_versions(request: Request) -> dict[str, Any]:
    """The root version document (no token)."""
    base = services_of(request).settings.url("/placement")
    return {"versions": [{"id": "v1.0", "status": "CURRENT", "min_version": MIN_VERSION,
                          "max_version": MAX_VERSION,
                          "links": [{"rel": "self", "href": f"{base}/"}]}]}


def _links(base: str, rp: ResourceProvider) -> list[dict[str, str]]:
    me = f"{base}/resource_providers/{rp.uuid}"
    return [{"rel": "self", "href": me}, {"rel": "inventories", "href": f"{me}/inventories"},
            {"rel": "usages", "href": f"{me}/usages"}]


def _provider_view(base: str, rp: ResourceProvider) -> dict[str, Any]:
    return {"uuid": rp.uuid, "name": rp.name, "generation": rp.generation,
            "parent_provider_uuid": rp.parent_uuid, "root_provider_uuid": rp.root_uuid,
            "links": _links(base, rp)}


def _inventory_view(inv: Inventory) -> dict[str, Any]:
    return {"total": inv.total, "reserved": inv.reserved, "min_unit": 1,
            "max_unit": inv.max_unit or max(inv.total, 1), "step_size": 1,
            "allocation_ratio": 1.0}


@router.get("/resource_providers", dependencies=[Depends(_echo)])
def list_resource_providers(name: str | None = None, uuid: str | None = None,
                            ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"resource_providers": [...]}``, filtered by exact ``name``/``uuid``; admin only."""
    policy.require_admin(ctx.caller, "placement")
    base = ctx.services.settings.url("/placement")
    providers = [rp for rp in ctx.services.compute.hypervisors.providers()
                 if (name is None or rp.name == name) and (uuid is None or rp.uuid == uuid)]
    return {"resource_providers": [_provider_view(base, rp) for rp in providers]}


@router.get("/resource_providers/{provider_uuid}", dependencies=[Depends(_echo)])
def show_resource_provider(provider_uuid: str,
                           ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 the provider; 404 in placement's ``errors`` envelope; admin only."""
    policy.require_admin(ctx.caller, "placement")
    base = ctx.services.settings.url("/placement")
    return _provider_view(base, ctx.services.compute.hypervisors.provider(provider_uuid))


@router.get("/resource_providers/{provider_uuid}/inventories", dependencies=[Depends(_echo)])
def list_inventories(provider_uuid: str,
                     ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"inventories": {CLASS: {...}}, "resource_provider_generation"}``; admin only."""
    policy.require_admin(ctx.caller, "placement")
    rp = ctx.services.compute.hypervisors.provider(provider_uuid)
    return {"inventories": {i.resource_class: _inventory_view(i) for i in rp.inventories},
            "resource_provider_generation": rp.generation}


@router.get("/resource_providers/{provider_uuid}/usages", dependencies=[Depends(_echo)])
def list_usages(provider_uuid: str,
                ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"usages": {CLASS: used}, "resource_provider_generation"}``; admin only."""
    policy.require_admin(ctx.caller, "placement")
    rp = ctx.services.compute.hypervisors.provider(provider_uuid)
    return {"usages": {i.resource_class: i.used for i in rp.inventories},
            "resource_provider_generation": rp.generation}
