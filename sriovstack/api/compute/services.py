"""Compute v2.1 os-services (list, enable/disable with a reason, forced down, delete) and
os-availability-zone/detail; ids are integers below 2.53 and uuids from it, as nova's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Response

from sriovstack.api.compute import microversions as mv
from sriovstack.api.compute.microversions import ApiVersion, negotiate
from sriovstack.api.compute.quota_schemas import (ServiceChange, legacy_service_change,
                                                  service_change)
from sriovstack.api.context import RequestContext, request_context
from sriovstack.compute import ComputeService
from sriovstack.errors import Invalid, NotFound
from sriovstack.identity import policy

__all__ = ["router"]

router = APIRouter()


def _stamp(s: ComputeService) -> str | None:
    return s.updated_at.strftime("%Y-%m-%dT%H:%M:%S.%f") if s.updated_at else None


def _service_view(s: ComputeService, version: ApiVersion) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": s.id if version >= mv.HYPERVISOR_UUIDS else s.number,
        "binary": s.binary, "host": s.host, "zone": s.zone,
        "status": "enabled" if s.enabled else "disabled", "state": "up" if s.up else "down",
        "updated_at": _stamp(s), "disabled_reason": s.disabled_reason}
    if version >= mv.FORCED_DOWN:
        body["forced_down"] = s.forced_down
    return body


@router.get("/os-services")
def list_services(host: str | None = None, binary: str | None = None,
                  ctx: RequestContext = Depends(request_context),
                  version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"services": [...]}``, one nova-compute per host (``host``/``binary``
    filter); admin only."""
    found = ctx.services.compute.services.list(ctx.caller, host, binary)
    return {"services": [_service_view(s, version) for s in found]}


def _apply(ctx: RequestContext, service: str, change: ServiceChange) -> ComputeService:
    registry = ctx.services.compute.services
    result = None
    if change.enabled is not None:
        result = registry.set_status(ctx.caller, service, change.enabled, change.reason)
    if change.forced_down is not None:
        result = registry.force_down(ctx.caller, service, change.forced_down)
    assert result is not None  # the schemas let no empty change through
    return result


@router.put("/os-services/{service}")
def update_service(service: str, body: Any = Body(None),
                   ctx: RequestContext = Depends(request_context),
                   version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """From 2.53 ``PUT /os-services/{uuid}`` (status, disabled_reason, forced_down): 200
    with the service; below it the action forms ``enable``, ``disable``,
    ``disable-log-reason``, ``force-down`` (2.11) with ``{host, binary}``. 404 unknown
    service or host; 400 bad body; admin only."""
    policy.require_admin(ctx.caller, "os-services")
    if version < mv.HYPERVISOR_UUIDS:
        host, change = legacy_service_change(service, body, version)
        done = _apply(ctx, host, change)
        answer: dict[str, Any] = {"host": done.host, "binary": done.binary}
        if change.forced_down is not None:
            answer["forced_down"] = done.forced_down
        else:
            answer["status"] = "enabled" if done.enabled else "disabled"
        if change.reason is not None:
            answer["disabled_reason"] = done.disabled_reason
        return {"service": answer}
    _check_uuid(service)
    return {"service": _service_view(_apply(ctx, service, service_change(body)), version)}


@router.delete("/os-services/{service}", status_code=204, response_class=Response)
def delete_service(service: str, ctx: RequestContext = Depends(request_context),
                   version: ApiVersion = Depends(negotiate)) -> None:
    """204; 409 while servers are on the host; 404 unknown (an integer id below 2.53, a
    uuid from it: 400 otherwise); admin only."""
    if version >= mv.HYPERVISOR_UUIDS:
        _check_uuid(service)
    elif not service.isdigit():
        raise NotFound(f"Service {service} could not be found.", value=service)
    ctx.services.compute.services.delete(ctx.caller, service)


def _check_uuid(value: str) -> None:
    parts = value.split("-")
    if [len(p) for p in parts] != [8, 4, 4, 4, 12] or not all(
            c in "0123456789abcdefABCDEF" for p in parts for c in p):
        raise Invalid(f"Invalid uuid {value}", field="service_id", value=value)


@router.get("/os-availability-zone/detail")
def list_availability_zones_detail(ctx: RequestContext = Depends(request_context)
                                   ) -> dict[str, Any]:
    """200 every zone with its hosts and their nova-compute (available: up, active:
    enabled); admin only."""
    found = ctx.services.compute.services.list(ctx.caller)
    zones: dict[str, dict[str, Any]] = {}
    for s in found:
        zones.setdefault(s.zone, {})[s.host] = {s.binary: {
            "available": s.up, "active": s.enabled, "updated_at": _stamp(s)}}
    return {"availabilityZoneInfo": [
        {"zoneName": z, "zoneState": {"available": any(
            svc["available"] for h in hosts.values() for svc in h.values())}, "hosts": hosts}
        for z, hosts in sorted(zones.items())]}
