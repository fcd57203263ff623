"""User handlers: list, show, create, delete, and a user's projects (keystone v3 /users)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from sriovstack.api.context import RequestContext, request_context
from sriovstack.api.identity.schemas import UserCreateRequest
from sriovstack.api.identity.views import project_view, user_view
from sriovstack.identity import NameRef, policy

__all__ = ["router"]

router = APIRouter()


@router.get("/v3/users")
def list_users(name: str | None = None,
               ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Users (admin); ``?name=`` exact."""
    policy.require_admin(ctx.caller, "listing users")
    settings = ctx.services.settings
    users = ctx.services.identity.directory.list_users(name)
    return {"users": [user_view(u, settings) for u in users],
            "links": {"self": settings.url("/identity/v3/users"), "next": None, "previous": None}}


@router.get("/v3/users/{user_id}")
def show_user(user_id: str, ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """One user (admin, or the user themself): 200; 404 unknown."""
    if user_id != ctx.caller.user_id:
        policy.require_admin(ctx.caller, "showing other users")
    user = ctx.services.identity.directory.get_user(NameRef(id=user_id))
    return {"user": user_view(user, ctx.services.settings)}


@router.post("/v3/users", status_code=201)
def create_user(body: UserCreateRequest,
                ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Create a user (admin): 201; 409 when the name is taken; password stored hashed."""
    policy.require_admin(ctx.caller, "creating users")
    u = body.user
    user = ctx.services.identity.directory.create_user(u.name, u.password, u.domain_id,
                                                       u.default_project_id)
    return {"user": user_view(user, ctx.services.settings)}


@router.delete("/v3/users/{user_id}", status_code=204)
def delete_user(user_id: str, ctx: RequestContext = Depends(request_context)) -> Response:
    """Delete a user (admin): 204; 404 unknown. Their tokens go with them."""
    policy.require_admin(ctx.caller, "deleting users")
    ctx.services.identity.directory.delete_user(user_id)
    return Response(status_code=204)


@router.get("/v3/users/{user_id}/projects")
def list_user_projects(user_id: str,
                       ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """The projects a user holds roles on (admin, or the user themself)."""
    if user_id != ctx.caller.user_id:
        policy.require_admin(ctx.caller, "listing other users' projects")
    settings = ctx.services.settings
    projects = ctx.services.identity.access.projects_of(user_id)
    return {"projects": [project_view(p, settings) for p in projects],
            "links": {"self": settings.url(f"/identity/v3/users/{user_id}/projects")}}
