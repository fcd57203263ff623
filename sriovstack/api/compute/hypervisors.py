"""Compute v2.1 admin views of hosts: os-hypervisors, os-aggregates, os-availability-zone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from sriovstack.api.compute import microversions as mv
from sriovstack.api.compute.microversions import ApiVersion, negotiate
from sriovstack.api.compute.schemas import hypervisor_query
from sriovstack.api.compute.views import hypervisor_brief, hypervisor_view
from sriovstack.api.context import RequestContext, request_context
from sriovstack.compute import Hypervisor
from sriovstack.errors import NotFound
from sriovstack.identity import policy

__all__ = ["router"]

router = APIRouter()


def _with_servers(ctx: RequestContext, h: Hypervisor, body: dict[str, Any],
                  version: ApiVersion) -> dict[str, Any]:
    # 2.53's with_servers (and the old /servers): [{uuid, name}], always present from 2.75.
    servers = ctx.services.compute.servers.on_host(h.hostname)
    if servers or version >= mv.API_CLEANUP:
        body["servers"] = [{"uuid": s.id, "name": s.name} for s in servers]
    return body


def _hypervisors(ctx: RequestContext, version: ApiVersion, pattern: str | None,
                 limit: str | None, marker: str | None) -> tuple[Hypervisor, ...]:
    query = hypervisor_query(pattern, limit, marker, version)
    service = ctx.services.compute.hypervisors
    if query.pattern is not None:
        return service.search(query.pattern)
    return service.page(query.limit, query.marker)


@router.get("/os-hypervisors")
def list_hypervisors(hypervisor_hostname_pattern: str | None = None,
                     with_servers: str | None = None, limit: str | None = None,
                     marker: str | None = None, ctx: RequestContext = Depends(request_context),
                     version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"hypervisors": [{id, hypervisor_hostname, state, status}]}``; from 2.33
    ``limit``/``marker``, from 2.53 ``hypervisor_hostname_pattern`` (404 when nothing
    matches) and ``with_servers``; admin only."""
    policy.require_admin(ctx.caller, "os-hypervisors")
    found = _hypervisors(ctx, version, hypervisor_hostname_pattern, limit, marker)
    servers = _flag_at(with_servers, version)
    return {"hypervisors": [_with_servers(ctx, h, hypervisor_brief(h), version) if servers
                            else hypervisor_brief(h) for h in found]}


@router.get("/os-hypervisors/detail")
def list_hypervisors_detail(hypervisor_hostname_pattern: str | None = None,
                            with_servers: str | None = None, limit: str | None = None,
                            marker: str | None = None,
                            ctx: RequestContext = Depends(request_context),
                            version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 with the detail key set per host (as list_hypervisors filters); admin only."""
    policy.require_admin(ctx.caller, "os-hypervisors")
    found = _hypervisors(ctx, version, hypervisor_hostname_pattern, limit, marker)
    servers = _flag_at(with_servers, version)
    return {"hypervisors": [_with_servers(ctx, h, hypervisor_view(h, version), version)
                            if servers else hypervisor_view(h, version) for h in found]}


def _flag_at(with_servers: str | None, version: ApiVersion) -> bool:
    # Below 2.53 nova ignores with_servers (its query schema does not know it).
    return version >= mv.HYPERVISOR_UUIDS and (with_servers or "").lower() in ("true", "1",
                                                                               "yes", "on")


def _gone_at(version: ApiVersion, what: str) -> None:
    # 2.53 replaced /search and /servers with query parameters: nova routes them no more.
    if version >= mv.HYPERVISOR_UUIDS:
        raise NotFound(f"{what} is not served from microversion 2.53: use "
                       "GET /os-hypervisors?hypervisor_hostname_pattern=...&with_servers=true")


@router.get("/os-hypervisors/statistics")
def show_hypervisor_statistics(ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"hypervisor_statistics": {...}}``: sums over every host; admin only."""
    policy.require_admin(ctx.caller, "os-hypervisors")
    views = [hypervisor_view(h) for h in ctx.services.compute.hypervisors.list()]  # sums only
    keys = ("vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used", "local_gb_used",
            "free_ram_mb", "free_disk_gb", "current_workload", "running_vms",
            "disk_available_least")
    stats = {k: sum(v[k] for v in views) for k in keys}
    return {"hypervisor_statistics": {"count": len(views), **stats}}


@router.get("/os-hypervisors/{hostname}/search")
def search_hypervisors(hostname: str, ctx: RequestContext = Depends(request_context),
                       version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 hosts whose name contains ``hostname``; 404 when none, and from 2.53; admin only."""
    policy.require_admin(ctx.caller, "os-hypervisors")
    _gone_at(version, "GET /os-hypervisors/{pattern}/search")
    return {"hypervisors": [hypervisor_brief(h)
                            for h in ctx.services.compute.hypervisors.search(hostname)]}


@router.get("/os-hypervisors/{hostname}/servers")
def list_hypervisor_servers(hostname: str, ctx: RequestContext = Depends(request_context),
                            version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 matching hosts, each with ``servers`` [{uuid, name}]; 404 when none, and from
    2.53; admin only."""
    policy.require_admin(ctx.caller, "os-hypervisors")
    _gone_at(version, "GET /os-hypervisors/{pattern}/servers")
    return {"hypervisors": [_with_servers(ctx, h, hypervisor_brief(h), version)
                            for h in ctx.services.compute.hypervisors.search(hostname)]}


@router.get("/os-hypervisors/{hypervisor_id}")
def show_hypervisor(hypervisor_id: str, with_servers: str | None = None,
                    ctx: RequestContext = Depends(request_context),
                    version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"hypervisor": {...}}`` (``servers`` with 2.53's with_servers); 404 for unknown
    ids and names; admin only."""
    policy.require_admin(ctx.caller, "os-hypervisors")
    h = ctx.services.compute.hypervisors.get(hypervisor_id)
    body = hypervisor_view(h, version)
    return {"hypervisor": _with_servers(ctx, h, body, version)
            if _flag_at(with_servers, version) else body}


@router.get("/os-hypervisors/{hypervisor_id}/uptime")
def show_hypervisor_uptime(hypervisor_id: str,
                           ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 with ``uptime`` "": agents do not report the host's uptime (OSC shows it blank)."""
    policy.require_admin(ctx.caller, "os-hypervisors")
    h = ctx.services.compute.hypervisors.get(hypervisor_id)
    return {"hypervisor": {**hypervisor_brief(h), "uptime": ""}}


@router.get("/os-aggregates")
def list_aggregates(ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"aggregates": []}``: host aggregates are not modelled (OSC needs the call)."""
    policy.require_admin(ctx.caller, "os-aggregates")
    return {"aggregates": []}


@router.get("/os-availability-zone")
def list_availability_zones(ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"availabilityZoneInfo": [{zoneName, zoneState, hosts: null}]}``."""
    zones = ctx.services.compute.hypervisors.availability_zones()
    return {"availabilityZoneInfo": [{"zoneName": z, "zoneState": {"available": True},
                                      "hosts": None} for z, _hosts in zones]}
