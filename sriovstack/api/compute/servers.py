"""Compute v2.1 server handlers: create (202, build in the background), list, show, delete, action."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Depends, Response

from sriovstack.api.compute.schemas import (ServerActionRequest, ServerCreateRequest,
                                            server_filter)
from sriovstack.api.compute.views import server_brief, server_created, server_view
from sriovstack.api.context import RequestContext, request_context
from sriovstack.identity import policy

__all__ = ["router"]

router = APIRouter()


def _base(ctx: RequestContext) -> str:
    return ctx.services.settings.url("/compute")


@router.post("/servers", status_code=202)
def create_server(body: ServerCreateRequest, background: BackgroundTasks,
                  ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """202 with id, links, adminPass; the build (schedule, claim, bind) runs after the answer.

    400 unknown flavor/image/port, macvtap (20.9); 409 "Port <id> is still in use.".
    """
    policy.require_writer(ctx.caller, "creating a server")
    server = ctx.services.compute.servers.create(ctx.caller, body.to_spec())
    background.add_task(ctx.services.compute.servers.builder.build, server.id)
    return {"server": server_created(server, _base(ctx), secrets.token_urlsafe(9))}


@router.get("/servers")
def list_servers(name: str | None = None, host: str | None = None, status: str | None = None,
                 all_tenants: str | None = None, limit: str | None = None,
                 marker: str | None = None,
                 ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"servers": [{id, name, links}]}``, at most max_limit (1000); ``name`` is a
    regex as in nova (run by RE2); 400 naming ``name``/``limit``/``marker`` when bad."""
    servers = ctx.services.compute.servers.list(
        ctx.caller, server_filter(name, host, status, all_tenants, limit, marker))
    return {"servers": [server_brief(s, _base(ctx)) for s in servers]}


@router.get("/servers/detail")
def list_servers_detail(name: str | None = None, host: str | None = None,
                        status: str | None = None, all_tenants: str | None = None,
                        limit: str | None = None, marker: str | None = None,
                        ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"servers": [...]}`` with the full 2.1 field set; filters as list_servers."""
    servers = ctx.services.compute.servers.list(
        ctx.caller, server_filter(name, host, status, all_tenants, limit, marker))
    return {"servers": [server_view(s, _base(ctx)) for s in servers]}


@router.get("/servers/{server_id}")
def show_server(server_id: str,
                ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"server": {...}}`` (with ``fault`` when ERROR); 404 for unknown ids and names."""
    return {"server": server_view(ctx.services.compute.servers.get(ctx.caller, server_id),
                                  _base(ctx))}


@router.delete("/servers/{server_id}", status_code=204)
def delete_server(server_id: str, ctx: RequestContext = Depends(request_context)) -> Response:
    """204: ports unbound (those nova created deleted), PCI claims freed; then GET is 404."""
    policy.require_writer(ctx.caller, "deleting a server")
    ctx.services.compute.servers.delete(ctx.caller, server_id)
    return Response(status_code=204)


@router.post("/servers/{server_id}/action", status_code=202)
def server_action(server_id: str, body: ServerActionRequest,
                  ctx: RequestContext = Depends(request_context)) -> Response:
    """migrate / os-migrateLive: 409 for a server with an SR-IOV port (20.9), 400 otherwise."""
    policy.require_writer(ctx.caller, "a server action")
    ctx.services.compute.servers.action(ctx.caller, server_id, body.action())
    return Response(status_code=202)
