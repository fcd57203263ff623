"""Security group and rule handlers: /v2.0/security-groups and /v2.0/security-group-rules."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from sriovstack.api.context import RequestContext, request_context
from sriovstack.api.network.query import query_of
from sriovstack.api.network.schemas import (RuleCreateRequest, SecurityGroupCreateRequest,
                                            SecurityGroupUpdateRequest)
from sriovstack.api.network.views import rule_view, security_group_view
from sriovstack.identity import policy

__all__ = ["router"]

router = APIRouter()


@router.get("/v2.0/security-groups")
def list_security_groups(request: Request,
                         ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """The caller's groups, ``default`` created on first use: 200; filters (name=) honoured."""
    groups = ctx.services.network.security_groups.list(ctx.caller)
    views = (security_group_view(g) for g in groups)
    return {"security_groups": query_of(request.query_params).listing(views)}


@router.get("/v2.0/security-groups/{group_id}")
def show_security_group(group_id: str, request: Request,
                        ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """One group with its rules: 200; 404 SecurityGroupNotFound (names too)."""
    group = ctx.services.network.security_groups.get(ctx.caller, group_id)
    return {"security_group": query_of(request.query_params).project(security_group_view(group))}


@router.post("/v2.0/security-groups", status_code=201)
def create_security_group(body: SecurityGroupCreateRequest,
                          ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Create (egress rules included): 201; 409 for a second ``default``."""
    policy.require_writer(ctx.caller, "creating security groups")
    group = ctx.services.network.security_groups.create(ctx.caller,
                                                        body.security_group.to_spec())
    return {"security_group": security_group_view(group)}


@router.put("/v2.0/security-groups/{group_id}")
def update_security_group(group_id: str, body: SecurityGroupUpdateRequest,
                          ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Rename or describe: 200; 409 renaming ``default``."""
    policy.require_writer(ctx.caller, "updating security groups")
    group = ctx.services.network.security_groups.update(ctx.caller, group_id,
                                                        body.security_group.to_update())
    return {"security_group": security_group_view(group)}


@router.delete("/v2.0/security-groups/{group_id}", status_code=204)
def delete_security_group(group_id: str,
                          ctx: RequestContext = Depends(request_context)) -> Response:
    """Delete: 204; 409 SecurityGroupInUse or the default group (non-admin); 404."""
    policy.require_writer(ctx.caller, "deleting security groups")
    ctx.services.network.security_groups.delete(ctx.caller, group_id)
    return Response(status_code=204)


@router.get("/v2.0/security-group-rules")
def list_security_group_rules(request: Request,
                              ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Rules of the caller's groups: 200; filters and fields= honoured."""
    rules = ctx.services.network.security_groups.list_rules(ctx.caller)
    return {"security_group_rules": query_of(request.query_params).listing(
        rule_view(r) for r in rules)}


@router.get("/v2.0/security-group-rules/{rule_id}")
def show_security_group_rule(rule_id: str, request: Request,
                             ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """One rule: 200; 404 SecurityGroupRuleNotFound."""
    rule = ctx.services.network.security_groups.get_rule(ctx.caller, rule_id)
    return {"security_group_rule": query_of(request.query_params).project(rule_view(rule))}


@router.post("/v2.0/security-group-rules", status_code=201)
def create_security_group_rule(body: RuleCreateRequest,
                               ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Create a rule: 201; 400 bad direction/ethertype/protocol/ports; 404 unknown group."""
    policy.require_writer(ctx.caller, "creating security group rules")
    rule = ctx.services.network.security_groups.create_rule(
        ctx.caller, body.security_group_rule.to_spec())
    return {"security_group_rule": rule_view(rule)}


@router.delete("/v2.0/security-group-rules/{rule_id}", status_code=204)
def delete_security_group_rule(rule_id: str,
                               ctx: RequestContext = Depends(request_context)) -> Response:
    """Delete a rule: 204; 404 when gone."""
    policy.require_writer(ctx.caller, "deleting security group rules")
    ctx.services.network.security_groups.delete_rule(ctx.caller, rule_id)
    return Response(status_code=204)
