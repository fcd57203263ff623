"""Compute v2.1 admin extension os-sriov-hosts: VF usage per host and each PF/VF's owner.

No OpenStack API shows which server and port hold which VF of a host; operators need it, so
this small read-only, admin-only view does (sriovstack's own, not a nova API).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from sriovstack.api.compute.schemas import DrainRequest
from sriovstack.api.context import RequestContext, request_context
from sriovstack.compute import DrainPlan, HostDevice, SriovHost
from sriovstack.identity import policy

__all__ = ["router"]

router = APIRouter()


def _host_view(host: SriovHost) -> dict[str, Any]:
    info = host.info
    return {"host": info.name, "up": info.up, "enabled": info.enabled,
            "pci_total": info.pci_total, "pci_free": info.pci_free,
            "physnets": [{"physnet": u.physnet, "total": u.total, "free": u.free,
                          "used": u.used, "unhealthy": u.unhealthy} for u in host.physnets]}


def _device_view(d: HostDevice) -> dict[str, Any]:
    return {"address": str(d.address), "dev_type": d.dev_type,
            "parent_addr": str(d.parent_addr) if d.parent_addr else None,
            "vendor_id": d.vendor_id, "product_id": d.product_id, "physnet": d.physnet,
            "status": d.status, "server_id": d.server_id, "server_name": d.server_name,
            "port_id": d.port_id, "mac": str(d.mac) if d.mac else None, "vlan": d.vlan,
            "admin_state_up": d.admin_state_up, "unhealthy_reason": d.unhealthy_reason,
            "propagate_uplink_status": d.propagate_uplink_status}


@router.get("/os-sriov-hosts")
def list_sriov_hosts(ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"hosts": [{host, up, enabled, pci_total, pci_free, physnets: [...]}]}``;
    403 unless admin."""
    policy.require_admin(ctx.caller, "os-sriov-hosts")
    return {"hosts": [_host_view(h) for h in ctx.services.compute.host_devices.list_hosts()]}


@router.get("/os-sriov-hosts/{host}")
def show_sriov_host(host: str, ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"host": {..., "devices": [...]}}`` in address order; 404 unknown host;
    403 unless admin."""
    policy.require_admin(ctx.caller, "os-sriov-hosts")
    service = ctx.services.compute.host_devices
    body = _host_view(service.show_host(host))
    body["devices"] = [_device_view(d) for d in service.devices(host)]
    return {"host": body}


def _drain_view(plan: DrainPlan) -> dict[str, Any]:
    return {"host": plan.host, "dry_run": plan.dry_run, "disabled": plan.disabled,
            "migrated": plan.migrated, "note": plan.note,
            "servers": [{"id": s.server_id, "name": s.server_name, "project_id": s.project_id,
                         "vfs": [str(a) for a in s.vfs], "destination": s.destination,
                         "reason": s.reason, "moved": s.moved} for s in plan.steps]}


@router.post("/os-sriov-hosts/{host}/drain")
def create_drain(host: str, body: DrainRequest,
                 ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"drain": {host, dry_run, disabled, migrated, note, servers: [{id, name,
    project_id, vfs, destination, reason, moved}]}}``: each server holding a VF on the host
    with where a scheduling dry run puts it (nothing claimed); unless dry_run the host is
    disabled and each ACTIVE server live-migrated there (``moved``; ``reason`` says why
    not). 404 unknown host; 403 unless admin."""
    policy.require_admin(ctx.caller, "os-sriov-hosts")
    return {"drain": _drain_view(ctx.services.compute.drain.drain(host, body.drain.dry_run))}


@router.post("/os-sriov-hosts/{host}/undrain")
def create_undrain(host: str, ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"host": {...}}`` enabled again; 404 unknown host; 403 unless admin."""
    policy.require_admin(ctx.caller, "os-sriov-hosts")
    ctx.services.compute.drain.undrain(host)
    return {"host": _host_view(ctx.services.compute.host_devices.show_host(host))}
