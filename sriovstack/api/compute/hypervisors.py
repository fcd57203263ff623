"""Compute v2.1 admin views of hosts: os-hypervisors, os-aggregates, os-availability-zone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from sriovstack.api.compute.views import hypervisor_brief, hypervisor_view
from sriovstack.api.context import RequestContext, request_context
from sriovstack.identity import policy

__all__ = ["router"]

router = APIRouter()


@router.get("/os-hypervisors")
def list_hypervisors(ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"hypervisors": [{id, hypervisor_hostname, state, status}]}``; admin only."""
    policy.require_admin(ctx.caller, "os-hypervisors")
    return {"hypervisors": [hypervisor_brief(h)
                            for h in ctx.services.compute.hypervisors.list()]}


@router.get("/os-hypervisors/detail")
def list_hypervisors_detail(ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 with the 2.1 detail key set per host; admin only."""
    policy.require_admin(ctx.caller, "os-hypervisors")
    return {"hypervisors": [hypervisor_view(h)
                            for h in ctx.services.compute.hypervisors.list()]}


@router.get("/os-hypervisors/statistics")
def show_hypervisor_statistics(ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"hypervisor_statistics": {...}}``: sums over every host; admin only."""
    policy.require_admin(ctx.caller, "os-hypervisors")
    views = [hypervisor_view(h) for h in ctx.services.compute.hypervisors.list()]
    keys = ("vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used", "local_gb_used",
            "free_ram_mb", "free_disk_gb", "current_workload", "running_vms",
            "disk_available_least")
    stats = {k: sum(v[k] for v in views) for k in keys}
    return {"hypervisor_statistics": {"count": len(views), **stats}}


@router.get("/os-hypervisors/{hostname}/search")
def search_hypervisors(hostname: str,
                       ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 hosts whose name contains ``hostname``; 404 when none; admin only."""
    policy.require_admin(ctx.caller, "os-hypervisors")
    return {"hypervisors": [hypervisor_brief(h)
                            for h in ctx.services.compute.hypervisors.search(hostname)]}


@router.get("/os-hypervisors/{hostname}/servers")
def list_hypervisor_servers(hostname: str,
                            ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 matching hosts, each with ``servers`` [{uuid, name}]; 404 when none; admin only."""
    policy.require_admin(ctx.caller, "os-hypervisors")
    out = []
    for h in ctx.services.compute.hypervisors.search(hostname):
        servers = ctx.services.compute.servers.on_host(h.hostname)
        item = hypervisor_brief(h)
        if servers:
            item["servers"] = [{"uuid": s.id, "name": s.name} for s in servers]
        out.append(item)
    return {"hypervisors": out}


@router.get("/os-hypervisors/{hypervisor_id}")
def show_hypervisor(hypervisor_id: str,
                    ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"hypervisor": {...}}`` (2.1 keys); 404 for unknown ids and names; admin only."""
    policy.require_admin(ctx.caller, "os-hypervisors")
    return {"hypervisor": hypervisor_view(ctx.services.compute.hypervisors.get(hypervisor_id))}


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
