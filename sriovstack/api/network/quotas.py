"""Networking v2.0 quotas (neutron's quotas and quota_details extensions): list (admin),
show, default, details, update (admin), reset (admin)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Body, Depends, Response

from sriovstack.api.context import RequestContext, request_context
from sriovstack.errors import Invalid

__all__ = ["router"]

router = APIRouter()
_INT = re.compile(r"^-?[0-9]+$")


def _changes(body: Any) -> tuple[dict[str, int], bool]:
    """``{"quota": {resource: limit, ["check_limit": bool]}}`` as (changes, check_limit)."""
    if not isinstance(body, Mapping) or set(body) != {"quota"} or not isinstance(
            body["quota"], Mapping):
        raise Invalid("Invalid input: the body must be {\"quota\": {...}}", field="quota")
    out = {}
    check = False
    for name, value in body["quota"].items():
        if name == "check_limit":
            if not isinstance(value, bool) and str(value).lower() not in ("true", "false"):
                raise Invalid(f"Invalid input for check_limit. Reason: '{value}' is not a "
                              "boolean.", field="check_limit", value=value)
            check = value if isinstance(value, bool) else str(value).lower() == "true"
            continue
        if isinstance(value, str) and _INT.match(value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(f"Invalid input for {name}. Reason: '{value}' is not an integer.",
                          field=name, value=value)
        out[str(name)] = value
    return out, check


@router.get("/v2.0/quotas")
def list_quotas(ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"quotas": [...]}``: the projects with limits of their own; admin only."""
    listed = ctx.services.network.quotas.listed(ctx.caller)
    return {"quotas": [{**limits, "project_id": p, "tenant_id": p}
                       for p, limits in listed.items()]}


@router.get("/v2.0/quotas/{project_id}")
def show_quota(project_id: str, ctx: RequestContext = Depends(request_context)
               ) -> dict[str, Any]:
    """200 ``{"quota": {network, subnet, port, security_group, security_group_rule}}``;
    403 for another project unless admin."""
    return {"quota": ctx.services.network.quotas.limits(ctx.caller, project_id)}


@router.get("/v2.0/quotas/{project_id}/default")
def show_quota_default(project_id: str, ctx: RequestContext = Depends(request_context)
                       ) -> dict[str, Any]:
    """200 ``{"quota": {...}}`` with neutron's defaults."""
    return {"quota": ctx.services.network.quotas.defaults(ctx.caller, project_id)}


@router.get("/v2.0/quotas/{project_id}/details")
def show_quota_details(project_id: str, ctx: RequestContext = Depends(request_context)
                       ) -> dict[str, Any]:
    """200 ``{"quota": {<resource>: {limit, used, reserved}}}``."""
    detail = ctx.services.network.quotas.detail(ctx.caller, project_id)
    return {"quota": {r: {"limit": d.limit, "used": d.used, "reserved": d.reserved}
                      for r, d in detail.items()}}


@router.put("/v2.0/quotas/{project_id}")
def update_quota(project_id: str, body: Any = Body(None),
                 ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"quota": {...}}`` after the change; admin only; 400 for an unknown resource,
    a limit that is not an integer of -1 or more, or (``check_limit``, as openstacksdk
    sends) a limit below what the project uses."""
    changes, check = _changes(body)
    return {"quota": ctx.services.network.quotas.update(ctx.caller, project_id, changes,
                                                        check_limit=check)}


@router.delete("/v2.0/quotas/{project_id}", status_code=204)
def delete_quota(project_id: str, ctx: RequestContext = Depends(request_context)) -> Response:
    """204: the project has the defaults again; admin only."""
    ctx.services.network.quotas.reset(ctx.caller, project_id)
    return Response(status_code=204)
