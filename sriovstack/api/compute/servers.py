"""Compute v2.1 server handlers: create (202, build in the background), list, show, update,
delete, action; each answers in the shape of the request's microversion."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response
from fastapi.responses import JSONResponse

from sriovstack.api.compute.microversions import (EVACUATE_NO_SHARED_STORAGE, HOST_STATUS,
                                                  ApiVersion, negotiate)
from sriovstack.api.compute.action_schemas import ServerActionRequest
from sriovstack.api.compute.schemas import (ServerCreateRequest, ServerUpdateRequest,
                                            instance_actions_query, server_filter)
from sriovstack.api.compute.views import (ServerLens, collection_links, host_status,
                                          instance_action_view, server_brief, server_created,
                                          server_updated, server_view)
from sriovstack.api.context import RequestContext, request_context
from sriovstack.compute import (ConfirmResizeAction, RebuildAction, ServerFilter,
                                UnshelveAction, EvacuateAction, ConsoleOutputAction)
from sriovstack.identity import policy

__all__ = ["router"]

router = APIRouter()


def _base(ctx: RequestContext) -> str:
    return ctx.services.settings.url("/compute")


def _lens(ctx: RequestContext, version: ApiVersion) -> ServerLens:
    """How this request sees servers; host states are read only when 2.16 shows them."""
    admin = policy.sees_host_attributes(ctx.caller)
    states = ({h.hostname: host_status(h) for h in ctx.services.compute.hypervisors.list()}
              if admin and version >= HOST_STATUS else {})
    return ServerLens(_base(ctx), version, admin, states)


@router.post("/servers", status_code=202)
def create_server(body: ServerCreateRequest, background: BackgroundTasks,
                  ctx: RequestContext = Depends(request_context),
                  version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """202 with id, links, adminPass (the one given, else a generated one); the build
    (schedule, claim, bind) runs after the answer.

    400 unknown flavor/image/port, macvtap (20.9), what the microversion's schema lacks;
    409 "Port <id> is still in use.".
    """
    policy.require_writer(ctx.caller, "creating a server")
    server = ctx.services.compute.servers.create(ctx.caller, body.to_spec(version),
                                                 ctx.request_id)
    background.add_task(ctx.services.compute.servers.builder.build_async, server.id)
    password = body.server.adminPass or secrets.token_urlsafe(9)
    return {"server": server_created(server, _base(ctx), password)}


@router.get("/servers")
def list_servers(request: Request, ctx: RequestContext = Depends(request_context),
                 version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"servers": [{id, name, links}]}`` (``servers_links`` when the page is full);
    ``name`` is a regex as in nova; 400 bad marker, sort key or direction."""
    query = server_filter(request.query_params, version, admin=ctx.caller.is_admin)
    servers = ctx.services.compute.servers.list(ctx.caller, query)
    return _page("servers", request, ctx, query, [server_brief(s, _base(ctx)) for s in servers])


@router.get("/servers/detail")
def list_servers_detail(request: Request, ctx: RequestContext = Depends(request_context),
                        version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"servers": [...]}`` with the microversion's field set (``servers_links`` when
    the page is full); 400 bad marker, sort key or direction."""
    query = server_filter(request.query_params, version, admin=ctx.caller.is_admin)
    servers = ctx.services.compute.servers.list(ctx.caller, query)
    lens = _lens(ctx, version)
    return _page("servers/detail", request, ctx, query, [server_view(s, lens) for s in servers])


def _page(collection: str, request: Request, ctx: RequestContext, query: ServerFilter,
          views: list[dict[str, Any]]) -> dict[str, Any]:
    links = collection_links(_base(ctx), collection, request.query_params.multi_items(),
                             query.limit, [v["id"] for v in views])
    return {"servers": views, **({"servers_links": links} if links else {})}


@router.get("/servers/{server_id}")
def show_server(server_id: str, ctx: RequestContext = Depends(request_context),
                version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"server": {...}}`` (with ``fault`` when ERROR); 404 for unknown ids and names."""
    server = ctx.services.compute.servers.get(ctx.caller, server_id)
    return {"server": server_view(server, _lens(ctx, version), single=True)}


@router.put("/servers/{server_id}")
def update_server(server_id: str, body: ServerUpdateRequest,
                  ctx: RequestContext = Depends(request_context),
                  version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 with the server (all of it from 2.75): rename, access IPs, description (2.19);
    404 unknown; 409 locked."""
    policy.require_writer(ctx.caller, "updating a server")
    server = ctx.services.compute.servers.update(ctx.caller, server_id,
                                                 body.to_update(version))
    return {"server": server_updated(server, _lens(ctx, version))}


@router.delete("/servers/{server_id}", status_code=204, response_class=Response)
def delete_server(server_id: str, ctx: RequestContext = Depends(request_context)) -> None:
    """204: ports unbound (those nova created deleted), PCI claims freed; then GET is 404.
    (None, not a Response: FastAPI then keeps the microversion headers tempest checks.)"""
    policy.require_writer(ctx.caller, "deleting a server")
    ctx.services.compute.servers.delete(ctx.caller, server_id)


@router.post("/servers/{server_id}/action", status_code=202)
def server_action(server_id: str, body: ServerActionRequest, background: BackgroundTasks,
                  ctx: RequestContext = Depends(request_context),
                  version: ApiVersion = Depends(negotiate)) -> Any:
    """202: lock/unlock, os-stop/os-start, pause/unpause, suspend/resume, reboot, rebuild
    (which answers with the server, as nova), shelve (offloaded at once) and unshelve
    (built again, 2.77 in an availability zone), evacuate (200: rebuilt elsewhere; 400
    while its host's compute service is up), os-getConsoleOutput (200 ``{"output"}``, the
    guest's console as its agent reported it); 409 for the server's state or its lock;
    resize, migrate, os-migrateLive, revertResize: 202 (compute/migration.py; 400 no valid
    host), confirmResize: 204;
    400 for an unknown action or arguments the version lacks."""
    policy.require_writer(ctx.caller, "a server action")
    action = body.to_action(version)
    servers = ctx.services.compute.servers
    if isinstance(action, ConsoleOutputAction):  # nova answers 200 with the output
        return JSONResponse(status_code=200, content={
            "output": servers.console_output(ctx.caller, server_id, action)})
    servers.action(ctx.caller, server_id, action, ctx.request_id)
    if isinstance(action, (UnshelveAction, EvacuateAction)):  # a build, after the answer
        background.add_task(servers.builder.build_async, server_id)
    if isinstance(action, EvacuateAction):  # nova answers 200; adminPass until 2.13
        if version >= EVACUATE_NO_SHARED_STORAGE:
            return Response(status_code=200)
        return JSONResponse(status_code=200, content={"adminPass": secrets.token_urlsafe(9)})
    if isinstance(action, ConfirmResizeAction):
        return Response(status_code=204)  # nova's confirmResize answers 204
    if not isinstance(action, RebuildAction):
        return Response(status_code=202)
    server = servers.get(ctx.caller, server_id)
    return JSONResponse(status_code=202, content={"server": {
        **server_updated(server, _lens(ctx, version)), "adminPass": secrets.token_urlsafe(9)}})


@router.get("/servers/{server_id}/os-instance-actions")
def list_instance_actions(server_id: str, request: Request,
                          ctx: RequestContext = Depends(request_context),
                          version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"instanceActions": [...]}`` newest first; 404 for an unknown server; 400 for
    2.58's paging parameters, which this API does not apply."""
    instance_actions_query(request.query_params, version)
    actions = ctx.services.compute.servers.actions(ctx.caller, server_id)
    lens = _lens(ctx, version)
    return {"instanceActions": [instance_action_view(a, lens) for a in actions]}


@router.get("/servers/{server_id}/os-instance-actions/{request_id}")
def show_instance_action(server_id: str, request_id: str,
                         ctx: RequestContext = Depends(request_context),
                         version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"instanceAction": {..., "events": [...]}}``; 404 for an unknown server or
    request id."""
    action = ctx.services.compute.servers.instance_action(ctx.caller, server_id, request_id)
    return {"instanceAction": instance_action_view(action, _lens(ctx, version), events=True)}
