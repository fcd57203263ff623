"""Network handlers: /v2.0/networks list, show, create, update, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from sriovstack.api.context import RequestContext, request_context
from sriovstack.api.network.query import list_query_of, listing, query_of
from sriovstack.api.network.schemas import NetworkCreateRequest, NetworkUpdateRequest
from sriovstack.api.network.views import network_view
from sriovstack.identity import policy

__all__ = ["router"]

router = APIRouter()


@router.get("/v2.0/networks")
def list_networks(request: Request,
                  ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Networks the caller may see (own and shared): 200; filters, fields=, sorting and
    paging (``networks_links``) honoured; 400 bad limit or sort key, 404 marker."""
    query = list_query_of(request.query_params)
    networks = ctx.services.network.networks.list(ctx.caller, query)
    views = (network_view(n, policy.is_privileged(ctx.caller)) for n in networks)
    return listing("networks", request, ctx, query, [n.id for n in networks], views)


@router.get("/v2.0/networks/{network_id}")
def show_network(network_id: str, request: Request,
                 ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """One network: 200; 404 NetworkNotFound for unknown ids, names, other projects'."""
    network = ctx.services.network.networks.get(ctx.caller, network_id)
    return {"network": query_of(request.query_params).project(
        network_view(network, policy.is_privileged(ctx.caller)))}


@router.post("/v2.0/networks", status_code=201)
def create_network(body: NetworkCreateRequest,
                   ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Create one (``network``) or several (``networks``, all or none): 201; 403 provider:*
    for non-admins; 400 bad provider attributes; 409 VlanIdInUse/FlatNetworkInUse; 503
    NoNetworkAvailable."""
    policy.require_writer(ctx.caller, "creating networks")
    networks = ctx.services.network.networks.create_many(ctx.caller, body.to_specs())
    views = [network_view(n, policy.is_privileged(ctx.caller)) for n in networks]
    return {"network": views[0]} if body.network is not None else {"networks": views}


@router.put("/v2.0/networks/{network_id}")
def update_network(network_id: str, body: NetworkUpdateRequest,
                   ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Update name/description/admin_state_up/shared/port_security_enabled: 200 with all."""
    policy.require_writer(ctx.caller, "updating networks")
    network = ctx.services.network.networks.update(ctx.caller, network_id,
                                                   body.network.to_update())
    return {"network": network_view(network, policy.is_privileged(ctx.caller))}


@router.delete("/v2.0/networks/{network_id}", status_code=204)
def delete_network(network_id: str, ctx: RequestContext = Depends(request_context)) -> Response:
    """Delete with its subnets: 204; 409 NetworkInUse while ports remain; 404 when gone."""
    policy.require_writer(ctx.caller, "deleting networks")
    ctx.services.network.networks.delete(ctx.caller, network_id)
    return Response(status_code=204)
