"""Project handlers: list, show, create, delete (keystone v3 /projects)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from sriovstack.api.context import RequestContext, request_context
from sriovstack.api.identity.schemas import ProjectCreateRequest
from sriovstack.api.identity.views import project_view
from sriovstack.identity import policy

__all__ = ["router"]

router = APIRouter()


@router.get("/v3/projects")
def list_projects(name: str | None = None,
                  ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Projects: all for admins and services, the caller's own otherwise; ``?name=`` exact."""
    settings = ctx.services.settings
    projects = ctx.services.identity.access.visible_projects(ctx.caller, name)
    return {"projects": [project_view(p, settings) for p in projects],
            "links": {"self": settings.url("/identity/v3/projects"), "next": None,
                      "previous": None}}


@router.get("/v3/projects/{project_id}")
def show_project(project_id: str, ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """One project: 200; 404 unknown; 403 when the caller holds no role on it."""
    project = ctx.services.identity.access.show_project(ctx.caller, project_id)
    return {"project": project_view(project, ctx.services.settings)}


@router.post("/v3/projects", status_code=201)
def create_project(body: ProjectCreateRequest,
                   ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Create a project (admin): 201; 409 when the name is taken in the domain."""
    policy.require_admin(ctx.caller, "creating projects")
    p = body.project
    project = ctx.services.identity.directory.create_project(p.name, p.domain_id, p.description)
    return {"project": project_view(project, ctx.services.settings)}


@router.delete("/v3/projects/{project_id}", status_code=204)
def delete_project(project_id: str, ctx: RequestContext = Depends(request_context)) -> Response:
    """Delete a project (admin): 204; 404 unknown."""
    policy.require_admin(ctx.caller, "deleting projects")
    ctx.services.identity.directory.delete_project(project_id)
    return Response(status_code=204)
