"""Compute v2.1 quotas and limits: os-quota-sets (show, detail, defaults, update, revert),
os-quota-class-sets and GET /limits, each in the key set of the request's microversion; and
os-sriov-quotas, the VF quota per physnet (``sriov_vfs:<physnet>``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Response

from sriovstack.api.compute import microversions as mv
from sriovstack.api.compute.microversions import ApiVersion, negotiate
from sriovstack.api.compute.quota_schemas import class_resources, quota_changes, quota_resources
from sriovstack.api.context import RequestContext, request_context
from sriovstack.compute import VF_PREFIX
from sriovstack.identity import policy

__all__ = ["router"]

router = APIRouter()


def _pick(limits: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {n: limits[n] for n in names}


@router.get("/os-quota-sets/{project_id}")
def show_quota_set(project_id: str, user_id: str | None = None,
                   ctx: RequestContext = Depends(request_context),
                   version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"quota_set": {"id", <resource>: limit}}``; 403 for another project unless
    admin. ``user_id`` is accepted: limits are per project (no per-user quotas)."""
    limits = ctx.services.compute.quotas.limits(ctx.caller, project_id)
    return {"quota_set": {"id": project_id, **_pick(limits, quota_resources(version))}}


@router.get("/os-quota-sets/{project_id}/detail")
def show_quota_set_detail(project_id: str, user_id: str | None = None,
                          ctx: RequestContext = Depends(request_context),
                          version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 with ``{limit, in_use, reserved}`` per resource; 403 as show_quota_set."""
    detail = ctx.services.compute.quotas.detail(ctx.caller, project_id)
    return {"quota_set": {"id": project_id, **{
        n: {"limit": detail[n].limit, "in_use": detail[n].in_use,
            "reserved": detail[n].reserved} for n in quota_resources(version)}}}


@router.get("/os-quota-sets/{project_id}/defaults")
def show_quota_set_defaults(project_id: str, ctx: RequestContext = Depends(request_context),
                            version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"quota_set": {"id", <resource>: default}}`` (any caller, as nova)."""
    defaults = ctx.services.compute.quotas.defaults()
    return {"quota_set": {"id": project_id, **_pick(defaults, quota_resources(version))}}


@router.put("/os-quota-sets/{project_id}")
def update_quota_set(project_id: str, body: Any = Body(None),
                     ctx: RequestContext = Depends(request_context),
                     version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"quota_set": {...}}`` (no id); admin only (403); 400 for an unknown resource,
    a limit under -1, or (without ``force``) a limit under what the project uses."""
    names = quota_resources(version)
    changes, force = quota_changes(body, "quota_set", names, with_force=True)
    limits = ctx.services.compute.quotas.update(ctx.caller, project_id, changes, force)
    return {"quota_set": _pick(limits, names)}


@router.delete("/os-quota-sets/{project_id}", status_code=202, response_class=Response)
def delete_quota_set(project_id: str, ctx: RequestContext = Depends(request_context)) -> None:
    """202 (no body, the microversion headers kept): the project's limits are the defaults
    again; admin only."""
    ctx.services.compute.quotas.revert(ctx.caller, project_id)


@router.get("/os-quota-class-sets/{class_name}")
def show_quota_class_set(class_name: str, ctx: RequestContext = Depends(request_context),
                         version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"quota_class_set": {"id", ...}}``; admin only."""
    limits = ctx.services.compute.quotas.class_limits(ctx.caller, class_name)
    return {"quota_class_set": {"id": class_name,
                                **_pick(limits, class_resources(version))}}


@router.put("/os-quota-class-sets/{class_name}")
def update_quota_class_set(class_name: str, body: Any = Body(None),
                           ctx: RequestContext = Depends(request_context),
                           version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"quota_class_set": {...}}`` (no id); admin only; ``default`` sets every
    project's defaults."""
    names = class_resources(version)
    changes, _force = quota_changes(body, "quota_class_set", names, with_force=False)
    limits = ctx.services.compute.quotas.update_class(ctx.caller, class_name, changes)
    return {"quota_class_set": _pick(limits, names)}


@router.get("/limits")
def show_limits(tenant_id: str | None = None, ctx: RequestContext = Depends(request_context),
                version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"limits": {"rate": [], "absolute": {...}}}``: the caller's project, or with
    ``tenant_id`` another's (admin only, 403)."""
    project = tenant_id or policy.require_project_scope(ctx.caller, "GET /limits")
    if project != ctx.caller.project_id:
        policy.require_admin(ctx.caller, "limits of another project")
    detail = ctx.services.compute.quotas.detail(ctx.caller, project)
    return {"limits": {"rate": [], "absolute": _absolute(
        {n: d.limit for n, d in detail.items()}, {n: d.in_use for n, d in detail.items()},
        version)}}


def _absolute(limit: dict[str, int], used: dict[str, int],
              version: ApiVersion) -> dict[str, int]:
    # nova's limits view: quota names mapped to the absolute limits' names.
    body = {
        "maxServerMeta": limit["metadata_items"], "maxTotalInstances": limit["instances"],
        "maxTotalCores": limit["cores"], "maxTotalRAMSize": limit["ram"],
        "maxTotalKeypairs": limit["key_pairs"], "maxServerGroups": limit["server_groups"],
        "maxServerGroupMembers": limit["server_group_members"],
        "totalInstancesUsed": used["instances"], "totalCoresUsed": used["cores"],
        "totalRAMUsed": used["ram"], "totalServerGroupsUsed": used["server_groups"],
    }
    if version < mv.PROXY_APIS_REMOVED:
        body.update(maxSecurityGroups=limit["security_groups"],
                    maxSecurityGroupRules=limit["security_group_rules"],
                    maxTotalFloatingIps=limit["floating_ips"], totalSecurityGroupsUsed=0,
                    totalFloatingIpsUsed=0)
    if version < mv.IMAGE_META_PROXY_REMOVED:
        body["maxImageMeta"] = limit["metadata_items"]
    if version < mv.PERSONALITY_REMOVED:
        body.update(maxPersonality=limit["injected_files"],
                    maxPersonalitySize=limit["injected_file_content_bytes"])
    return body


def _vf_view(project_id: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {"id": project_id, **{n: {"limit": d.limit, "in_use": d.in_use}
                                 for n, d in detail.items() if n.startswith(VF_PREFIX)}}


@router.get("/os-sriov-quotas/{project_id}")
def show_sriov_quotas(project_id: str,
                      ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"sriov_quota_set": {"id", "sriov_vfs:<physnet>": {limit, in_use}}}``: the VF
    quota per physnet (kept out of os-quota-sets, whose schema allows no extra key); 403
    for another project unless admin."""
    return {"sriov_quota_set": _vf_view(
        project_id, ctx.services.compute.quotas.detail(ctx.caller, project_id))}


@router.put("/os-sriov-quotas/{project_id}")
def update_sriov_quotas(project_id: str, body: Any = Body(None),
                        ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 with the VF quotas after the change; body ``{"sriov_quota_set":
    {"sriov_vfs:<physnet>": limit[, "force": true]}}``; admin only; 400 for an unknown
    physnet or (without force) a limit under the VFs the project holds."""
    quotas = ctx.services.compute.quotas
    names = [n for n in quotas.defaults() if n.startswith(VF_PREFIX)]
    changes, force = quota_changes(body, "sriov_quota_set", names, with_force=True)
    quotas.update(ctx.caller, project_id, changes, force)
    return {"sriov_quota_set": _vf_view(project_id, quotas.detail(ctx.caller, project_id))}
