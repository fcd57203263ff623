"""Token handlers: issue (POST), validate (GET/HEAD), revoke (DELETE), catalog, auth projects."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Response
from fastapi.responses import JSONResponse

from sriovstack.api.context import RequestContext, request_context, services_of
from sriovstack.api.identity.schemas import AuthRequest
from sriovstack.api.identity.views import catalog_view, project_view, token_view
from sriovstack.api.services import Services

__all__ = ["router"]

router = APIRouter()


@router.post("/v3/auth/tokens", status_code=201)
def create_token(body: AuthRequest, nocatalog: bool = False,
                 services: Services = Depends(services_of)) -> JSONResponse:
    """Issue a token: 201, the secret in X-Subject-Token; 401 for bad credentials or scope."""
    issued = services.identity.tokens.issue(body.credentials(), body.scope_ref())
    view = token_view(issued.token, services.settings, catalog=not nocatalog)
    return JSONResponse({"token": view}, status_code=201,
                        headers={"X-Subject-Token": issued.secret})


@router.get("/v3/auth/tokens")
def show_token(subject: str = Header(alias="X-Subject-Token"), nocatalog: bool = False,
               ctx: RequestContext = Depends(request_context)) -> JSONResponse:
    """Validate another token: 200 with its body; 404 when invalid; 403 if not yours."""
    token = ctx.services.identity.tokens.inspect(ctx.caller, subject)
    view = token_view(token, ctx.services.settings, catalog=not nocatalog)
    return JSONResponse({"token": view}, headers={"X-Subject-Token": subject})


@router.head("/v3/auth/tokens")
def check_token(subject: str = Header(alias="X-Subject-Token"),
                ctx: RequestContext = Depends(request_context)) -> Response:
    """Check another token: 200 with no body; 404 when invalid."""
    ctx.services.identity.tokens.inspect(ctx.caller, subject)
    return Response(status_code=200, headers={"X-Subject-Token": subject})


@router.delete("/v3/auth/tokens", status_code=204)
def delete_token(subject: str = Header(alias="X-Subject-Token"),
                 ctx: RequestContext = Depends(request_context)) -> Response:
    """Revoke a token: 204; 404 when already invalid."""
    ctx.services.identity.tokens.revoke(ctx.caller, subject)
    return Response(status_code=204)


@router.get("/v3/auth/catalog")
def show_catalog(ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """The service catalog for the caller's token."""
    settings = ctx.services.settings
    return {"catalog": catalog_view(settings),
            "links": {"self": settings.url("/identity/v3/auth/catalog")}}


@router.get("/v3/auth/projects")
def list_auth_projects(ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """The projects the caller may scope to."""
    settings = ctx.services.settings
    projects = ctx.services.identity.access.projects_of(ctx.caller.user_id)
    return {"projects": [project_view(p, settings) for p in projects],
            "links": {"self": settings.url("/identity/v3/auth/projects")}}
