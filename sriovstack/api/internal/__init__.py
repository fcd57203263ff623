"""The internal agent API under /internal/v1 (service role only): reports in, desired state out.

Agents never touch the database; they call these endpoints with a service token.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from sriovstack.api.context import RequestContext, request_context
from sriovstack.api.internal.schemas import (DeviceStatusRequest, HeartbeatRequest,
                                             InventoryRequest, ServerStatusRequest)
from sriovstack.api.internal.views import agent_view, desired_state_view, inventory_view
from sriovstack.identity import policy

__all__ = ["router", "MAX_WAIT"]

MAX_WAIT = 60.0  # seconds a desired-state poll may hold the connection

router = APIRouter(prefix="/v1")


def agent_context(ctx: RequestContext = Depends(request_context)) -> RequestContext:
    """The request context of a service user (agents); 403 for anyone else, admins included."""
    policy.require_service(ctx.caller, "the internal agent API")
    return ctx


@router.post("/hosts/{host}/heartbeat")
def create_heartbeat(host: str, body: HeartbeatRequest,
                     ctx: RequestContext = Depends(agent_context)) -> dict[str, Any]:
    """200 ``{"agent": {...}}``: the agent's row with ``alive``."""
    return {"agent": agent_view(ctx.services.compute.reports.heartbeat(body.to_report(host)))}


@router.put("/hosts/{host}/inventory")
def update_inventory(host: str, body: InventoryRequest,
                     ctx: RequestContext = Depends(agent_context)) -> dict[str, Any]:
    """200 ``{"inventory": {added, updated, removed, kept_in_use}}``; 400 for bad devices."""
    result = ctx.services.compute.reports.inventory(body.to_report(host))
    return {"inventory": inventory_view(result)}


@router.get("/hosts/{host}/desired-state")
async def show_desired_state(host: str, since: int | None = Query(None, ge=0),
                             wait: float = Query(0.0, ge=0.0, le=MAX_WAIT),
                             ctx: RequestContext = Depends(agent_context)) -> dict[str, Any]:
    """200 the host's servers and ports at ``revision``; with ``since``, waits up to ``wait``
    seconds for a newer revision (returns at once if there already is one)."""
    state = await ctx.services.compute.desired_state.wait_for_change(host, since, wait)
    return desired_state_view(state)


@router.post("/hosts/{host}/servers/{server_id}/status")
def create_server_status(host: str, server_id: str, body: ServerStatusRequest,
                         ctx: RequestContext = Depends(agent_context)) -> dict[str, Any]:
    """200 ``{"server": {id, status}}``: running → ACTIVE, error → ERROR with the message.

    404 unknown server; 409 when the server is not placed on ``host``.
    """
    server = ctx.services.compute.reports.server_status(host, server_id, body.to_status(),
                                                        body.message)
    return {"server": {"id": server.id, "status": server.status.value}}


@router.post("/hosts/{host}/devices")
def create_device_status(host: str, body: DeviceStatusRequest,
                         ctx: RequestContext = Depends(agent_context)) -> dict[str, Any]:
    """200 ``{"port": {id, status}}``: the port on that VF goes ACTIVE (up) or DOWN."""
    port = ctx.services.compute.reports.device_status(host, body.mac.lower(), body.pci_slot,
                                                      body.up)
    return {"port": {"id": port.id, "status": str(port.status)}}
