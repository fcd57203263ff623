"""Port binding handlers (``binding-extended``): /v2.0/ports/{port_id}/bindings list, show,
create, activate and delete. Admin or service only, as neutron's policy (nova calls them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from sriovstack.api.context import RequestContext, request_context
from sriovstack.api.network.query import query_of
from sriovstack.api.network.schemas import BindingCreateRequest
from sriovstack.api.network.views import host_binding_view

__all__ = ["router"]

router = APIRouter()
_BASE = "/v2.0/ports/{port_id}/bindings"


@router.get(_BASE)
def list_port_bindings(port_id: str, request: Request,
                       ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """The port's bindings, ACTIVE first: 200; filters (host, status, vif_type, vnic_type)
    and fields=; 403 non-admin; 404 PortNotFound; 400 for a port compute does not own."""
    bindings = ctx.services.network.host_bindings.list(ctx.caller, port_id)
    query = query_of(request.query_params)
    return {"bindings": query.listing(host_binding_view(b) for b in bindings)}


@router.get(_BASE + "/{host}")
def show_port_binding(port_id: str, host: str, request: Request,
                      ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """The binding for ``host``: 200; 404 PortNotFound/PortBindingNotFound; 403; 400."""
    binding = ctx.services.network.host_bindings.get(ctx.caller, port_id, host)
    return {"binding": query_of(request.query_params).project(host_binding_view(binding))}


@router.post(_BASE, status_code=201)
def create_port_binding(port_id: str, body: BindingCreateRequest,
                        ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Bind the port on ``binding.host``: 201, INACTIVE (ACTIVE when the port had none);
    409 PortBindingAlreadyExists; 409 PortBindingError when no driver binds it (neutron's
    500); 400 bad body or non-compute port; 403; 404."""
    b = body.binding
    binding = ctx.services.network.host_bindings.create(ctx.caller, port_id, b.host,
                                                        b.vnic_type, b.to_profile())
    return {"binding": host_binding_view(binding)}


@router.put(_BASE + "/{host}/activate")
def activate_port_binding(port_id: str, host: str,
                          ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Activate the INACTIVE binding for ``host`` (the active one becomes INACTIVE): 200 with
    the binding, unwrapped as neutron's member action; 409 PortBindingAlreadyActive;
    404 PortBindingNotFound; 409 PortBindingError; 403; 400."""
    return host_binding_view(ctx.services.network.host_bindings.activate(ctx.caller, port_id,
                                                                         host))


@router.delete(_BASE + "/{host}", status_code=204)
def delete_port_binding(port_id: str, host: str,
                        ctx: RequestContext = Depends(request_context)) -> Response:
    """Delete the binding for ``host``: 204, the ACTIVE one too (as neutron: the port is
    left unbound, still its server's); 404 PortBindingNotFound; 403; 400."""
    ctx.services.network.host_bindings.delete(ctx.caller, port_id, host)
    return Response(status_code=204)
