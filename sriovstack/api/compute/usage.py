"""Compute v2.1 os-simple-tenant-usage: every project's usage (admin) and one project's,
over ``start``..``end``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends

from sriovstack.api.compute.microversions import negotiate
from sriovstack.api.compute.quota_schemas import QUOTA_TRUE, usage_time
from sriovstack.api.context import RequestContext, request_context
from sriovstack.compute import ProjectUsage

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(negotiate)])


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _usage_view(u: ProjectUsage, detailed: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "tenant_id": u.project_id, "start": _stamp(u.start), "stop": _stamp(u.stop),
        "total_hours": u.total_hours, "total_vcpus_usage": u.vcpu_hours,
        "total_memory_mb_usage": u.memory_mb_hours, "total_local_gb_usage": u.local_gb_hours}
    if detailed:
        body["server_usages"] = [{
            "instance_id": s.server_id, "name": s.name, "tenant_id": s.project_id,
            "flavor": s.flavor, "vcpus": s.vcpus, "memory_mb": s.memory_mb,
            "local_gb": s.local_gb, "hours": s.hours, "started_at": _stamp(s.started_at),
            "ended_at": None, "state": s.state, "uptime": s.uptime} for s in u.servers]
    return body


@router.get("/os-simple-tenant-usage")
def list_tenant_usages(start: str | None = None, end: str | None = None,
                       detailed: str | None = None,
                       ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"tenant_usages": [...]}`` (``server_usages`` with ``detailed=1``); admin
    only; 400 for a bad time or ``end`` before ``start``."""
    usage = ctx.services.compute.usage
    begin, stop = usage.period(usage_time("start", start), usage_time("end", end))
    wanted = (detailed or "").lower() in QUOTA_TRUE
    return {"tenant_usages": [_usage_view(u, wanted)
                              for u in usage.list(ctx.caller, begin, stop)]}


@router.get("/os-simple-tenant-usage/{project_id}")
def show_tenant_usage(project_id: str, start: str | None = None, end: str | None = None,
                      ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"tenant_usage": {...}}`` with ``server_usages``, ``{}`` when the project had
    no server in the period (as nova); 403 for another project unless admin."""
    usage = ctx.services.compute.usage
    begin, stop = usage.period(usage_time("start", start), usage_time("end", end))
    found = usage.show(ctx.caller, project_id, begin, stop)
    return {"tenant_usage": _usage_view(found, True) if found.servers else {}}
