"""Port handlers: /v2.0/ports list, show, create (one or bulk), update, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from sriovstack.api.context import RequestContext, request_context
from sriovstack.api.network.query import list_query_of, listing, query_of
from sriovstack.api.network.schemas import PortCreateRequest, PortUpdateRequest
from sriovstack.api.network.views import port_view
from sriovstack.identity import policy

__all__ = ["router"]

router = APIRouter()


@router.get("/v2.0/ports")
def list_ports(request: Request, ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """The caller's ports (all for admin/service): 200; filters (network_id, device_id,
    binding:host_id, fixed_ips=ip_address=...), sort_key/sort_dir, limit/marker/page_reverse
    (with ``ports_links``) and fields= honoured; 400 bad limit or sort key, 404 marker."""
    query = list_query_of(request.query_params)
    ports = ctx.services.network.ports.list(ctx.caller, query)
    views = (port_view(p, policy.is_privileged(ctx.caller)) for p in ports)
    return listing("ports", request, ctx, query, [p.id for p in ports], views)


@router.get("/v2.0/ports/{port_id}")
def show_port(port_id: str, request: Request,
              ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """One port: 200; 404 PortNotFound for unknown ids, names and other projects' ports."""
    port = ctx.services.network.ports.get(ctx.caller, port_id)
    view = port_view(port, policy.is_privileged(ctx.caller))
    return {"port": query_of(request.query_params).project(view)}


@router.post("/v2.0/ports", status_code=201)
def create_port(body: PortCreateRequest,
                ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Create one port (``port``) or several at once (``ports``, all or none): 201, status
    DOWN; 400 macvtap or security groups on direct ports (20.9); 403 binding:host_id/profile
    for non-admins; 404 network; 409 MacAddressInUse/IpAddress*."""
    policy.require_writer(ctx.caller, "creating ports")
    ports = ctx.services.network.ports.create_many(ctx.caller, body.to_specs())
    views = [port_view(p, policy.is_privileged(ctx.caller)) for p in ports]
    return {"port": views[0]} if body.port is not None else {"ports": views}


@router.put("/v2.0/ports/{port_id}")
def update_port(port_id: str, body: PortUpdateRequest,
                ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Update: 200 with the whole port; binding:* changes rebind (binding_failed is a 200
    with binding:failure_reason); 409 PortInUse for a vnic_type change on a bound port."""
    policy.require_writer(ctx.caller, "updating ports")
    port = ctx.services.network.ports.update(ctx.caller, port_id, body.port.to_update())
    return {"port": port_view(port, policy.is_privileged(ctx.caller))}


@router.delete("/v2.0/ports/{port_id}", status_code=204)
def delete_port(port_id: str, ctx: RequestContext = Depends(request_context)) -> Response:
    """Delete: 204; 404 when already gone (tempest polls for it)."""
    policy.require_writer(ctx.caller, "deleting ports")
    ctx.services.network.ports.delete(ctx.caller, port_id)
    return Response(status_code=204)
