"""Subnet handlers: /v2.0/subnets list, show, create, update, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from sriovstack.api.context import RequestContext, request_context
from sriovstack.api.network.query import list_query_of, listing, query_of
from sriovstack.api.network.schemas import SubnetCreateRequest, SubnetUpdateRequest
from sriovstack.api.network.views import subnet_view
from sriovstack.identity import policy

__all__ = ["router"]

router = APIRouter()


@router.get("/v2.0/subnets")
def list_subnets(request: Request,
                 ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Subnets the caller may see: 200; filters (network_id=...), fields=, sorting and paging
    (``subnets_links``) honoured; 400 bad limit or sort key, 404 SubnetNotFound marker."""
    query = list_query_of(request.query_params)
    subnets = ctx.services.network.subnets.list(ctx.caller, query)
    return listing("subnets", request, ctx, query, [s.id for s in subnets],
                   (subnet_view(s) for s in subnets))


@router.get("/v2.0/subnets/{subnet_id}")
def show_subnet(subnet_id: str, request: Request,
                ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """One subnet: 200; 404 SubnetNotFound."""
    subnet = ctx.services.network.subnets.get(ctx.caller, subnet_id)
    return {"subnet": query_of(request.query_params).project(subnet_view(subnet))}


@router.post("/v2.0/subnets", status_code=201)
def create_subnet(body: SubnetCreateRequest,
                  ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Create one (``subnet``) or several (``subnets``, all or none): 201 with gateway and
    pools; 400 bad CIDR/gateway/pools/nameservers/routes or "overlaps with another subnet";
    404 unknown network."""
    policy.require_writer(ctx.caller, "creating subnets")
    subnets = ctx.services.network.subnets.create_many(ctx.caller, body.to_specs())
    views = [subnet_view(s) for s in subnets]
    return {"subnet": views[0]} if body.subnet is not None else {"subnets": views}


@router.put("/v2.0/subnets/{subnet_id}")
def update_subnet(subnet_id: str, body: SubnetUpdateRequest,
                  ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Update name/description/enable_dhcp/dns_nameservers/host_routes/gateway_ip/
    allocation_pools: 200; 400 bad value; 409 gateway inside an allocation pool."""
    policy.require_writer(ctx.caller, "updating subnets")
    subnet = ctx.services.network.subnets.update(ctx.caller, subnet_id, body.subnet.to_update())
    return {"subnet": subnet_view(subnet)}


@router.delete("/v2.0/subnets/{subnet_id}", status_code=204)
def delete_subnet(subnet_id: str, ctx: RequestContext = Depends(request_context)) -> Response:
    """Delete: 204; 409 SubnetInUse while ports hold addresses on it; 404 when gone."""
    policy.require_writer(ctx.caller, "deleting subnets")
    ctx.services.network.subnets.delete(ctx.caller, subnet_id)
    return Response(status_code=204)
