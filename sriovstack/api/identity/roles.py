"""Role handlers: list roles, grant/revoke on a project, list role assignments."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response

from sriovstack.api.context import RequestContext, request_context
from sriovstack.api.identity.views import assignment_view, role_view
from sriovstack.identity import policy

__all__ = ["router"]

router = APIRouter()


@router.get("/v3/roles")
def list_roles(name: str | None = None,
               ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Roles (admin, member, reader, service); ``?name=`` exact."""
    settings = ctx.services.settings
    roles = ctx.services.identity.access.list_roles(name)
    return {"roles": [role_view(r, settings) for r in roles],
            "links": {"self": settings.url("/identity/v3/roles"), "next": None, "previous": None}}


@router.put("/v3/projects/{project_id}/users/{user_id}/roles/{role_id}", status_code=204)
def grant_role(project_id: str, user_id: str, role_id: str,
               ctx: RequestContext = Depends(request_context)) -> Response:
    """Grant a role on a project (admin): 204; 404 for an unknown project, user or role."""
    policy.require_admin(ctx.caller, "granting roles")
    ctx.services.identity.access.grant(user_id, project_id, role_id)
    return Response(status_code=204)


@router.delete("/v3/projects/{project_id}/users/{user_id}/roles/{role_id}", status_code=204)
def revoke_role(project_id: str, user_id: str, role_id: str,
                ctx: RequestContext = Depends(request_context)) -> Response:
    """Revoke a role on a project (admin): 204; 404 when not granted."""
    policy.require_admin(ctx.caller, "revoking roles")
    ctx.services.identity.access.revoke(user_id, project_id, role_id)
    return Response(status_code=204)


def _is_true(value: str | None) -> bool:
    # keystone's query_filter_is_true: present and not "0"/"false" means true
    return value is not None and value.lower() not in ("0", "false")


@router.get("/v3/role_assignments")
def list_role_assignments(user_id: str | None = Query(None, alias="user.id"),
                          project_id: str | None = Query(None, alias="scope.project.id"),
                          role_id: str | None = Query(None, alias="role.id"),
                          include_names: str | None = None, effective: str | None = None,
                          ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Role assignments (admin), filtered by ``user.id``, ``scope.project.id`` and
    ``role.id``; ``include_names`` adds user/project names and domains. ``effective`` is
    accepted and changes nothing: without groups or inheritance every assignment is direct."""
    policy.require_admin(ctx.caller, "listing role assignments")
    settings = ctx.services.settings
    found = ctx.services.identity.access.assignments(
        user_id, project_id, role_id, include_names=_is_true(include_names))
    return {"role_assignments": [assignment_view(a, settings) for a in found],
            "links": {"self": settings.url("/identity/v3/role_assignments"), "next": None,
                      "previous": None}}
