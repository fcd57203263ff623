"""Agent handlers (admin only, as in neutron): /v2.0/agents list, show, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from sriovstack.api.context import RequestContext, request_context
from sriovstack.api.network.query import query_of
from sriovstack.api.network.views import agent_view

__all__ = ["router"]

router = APIRouter()


@router.get("/v2.0/agents")
def list_agents(request: Request,
                ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """Every agent with ``alive`` from its last heartbeat and configurations.device_mappings:
    200; 403 for non-admins; filters (host=, agent_type=) honoured."""
    agents = ctx.services.network.agents.list(ctx.caller)
    return {"agents": query_of(request.query_params).listing(agent_view(a) for a in agents)}


@router.get("/v2.0/agents/{agent_id}")
def show_agent(agent_id: str, request: Request,
               ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """One agent: 200; 404 AgentNotFound; 403 for non-admins."""
    agent = ctx.services.network.agents.get(ctx.caller, agent_id)
    return {"agent": query_of(request.query_params).project(agent_view(agent))}


@router.delete("/v2.0/agents/{agent_id}", status_code=204)
def delete_agent(agent_id: str, ctx: RequestContext = Depends(request_context)) -> Response:
    """Forget an agent (a re-report registers it again): 204; 404; 403 for non-admins."""
    ctx.services.network.agents.delete(ctx.caller, agent_id)
    return Response(status_code=204)
