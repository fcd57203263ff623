"""The internal agent API under /internal/v1 (service role only): reports in, desired state out.

Agents never touch the database; they call these endpoints with a service token.  Bodies are
the contract's messages (``sriovstack.wire``): each handler parses one with its ``from_json``
(400 naming the field when malformed), calls one service method and answers with the
returned value's ``to_json``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query

from sriovstack.api.context import RequestContext, request_context
from sriovstack.identity import policy
from sriovstack.wire import (ConsoleReport, DeviceReport, Heartbeat, HostRevision,
                             InventoryReport, LinkReport, ServerReport)

__all__ = ["router", "MAX_WAIT"]

MAX_WAIT = 60.0  # seconds a desired-state poll may hold the connection

router = APIRouter(prefix="/v1")

# A host name as the hosts and agents tables store it (String(255)): longer is a 400 on SQLite
# and PostgreSQL alike, before anything is written.
HostName = Annotated[str, Path(min_length=1, max_length=255)]


async def agent_context(ctx: RequestContext = Depends(request_context)) -> RequestContext:
    """The request context of a service user (agents); 403 for anyone else, admins included.

    ``async``: a role check does no I/O, so it runs on the event loop, not in a thread of
    the pool as a plain ``def`` dependency would (one hop fewer on every agent request)."""
    policy.require_service(ctx.caller, "the internal agent API")
    return ctx


@router.post("/hosts/{host}/heartbeat")
def create_heartbeat(host: HostName, body: Any = Body(),
                     ctx: RequestContext = Depends(agent_context)) -> dict[str, Any]:
    """200 ``{"agent": {...}}``: the agent's row with ``alive``; 404 for a compute agent
    whose host never reported an inventory."""
    return ctx.services.compute.reports.heartbeat(host, Heartbeat.from_json(body)).to_json()


@router.put("/hosts/{host}/inventory")
def update_inventory(host: HostName, body: Any = Body(),
                     ctx: RequestContext = Depends(agent_context)) -> dict[str, Any]:
    """200 ``{"inventory": {added, updated, removed, kept_in_use}}``; 400 for bad devices."""
    report = InventoryReport.from_json(body)
    return ctx.services.compute.reports.inventory(host, report).to_json()


@router.get("/hosts/{host}/desired-state")
async def show_desired_state(host: HostName, since: int | None = Query(None, ge=0),
                             wait: float = Query(0.0, ge=0.0, le=MAX_WAIT),
                             ctx: RequestContext = Depends(agent_context)) -> dict[str, Any]:
    """200 the host's servers and ports at ``revision``; with ``since``, waits up to ``wait``
    seconds for a newer revision (returns at once if there already is one)."""
    state = await ctx.services.compute.desired_state.wait_for_change(host, since, wait)
    return state.to_json()


@router.get("/hosts/{host}/revision")
async def show_revision(host: HostName, since: int | None = Query(None, ge=0),
                        wait: float = Query(0.0, ge=0.0, le=MAX_WAIT),
                        ctx: RequestContext = Depends(agent_context)) -> dict[str, Any]:
    """200 ``{"revision": {host, revision}}``: with ``since``, once the revision exceeds it
    or after ``wait`` seconds (unchanged); woken by a notification, not a loop of queries."""
    revision = await ctx.services.compute.desired_state.wait_for_revision(host, since, wait)
    return HostRevision(host, revision).to_json()


@router.post("/hosts/{host}/servers/{server_id}/status")
def create_server_status(host: HostName, server_id: str, body: Any = Body(),
                         ctx: RequestContext = Depends(agent_context)) -> dict[str, Any]:
    """200 ``{"server": {id, status}}``: running → ACTIVE, error → ERROR with the message.

    404 unknown server; 409 when the server is not placed on ``host``.
    """
    report = ServerReport.from_json(body)
    return ctx.services.compute.reports.server_status(host, server_id, report).to_json()


@router.put("/hosts/{host}/servers/{server_id}/console")
def update_server_console(host: HostName, server_id: str, body: Any = Body(),
                          ctx: RequestContext = Depends(agent_context)) -> dict[str, Any]:
    """200 ``{"console": {kept}}``: the guest's new console lines appended; 404 unknown
    server; 409 when the server is not placed on ``host``."""
    report = ConsoleReport.from_json(body)
    return ctx.services.compute.console.append(host, server_id, report).to_json()


@router.post("/hosts/{host}/devices")
def create_device_status(host: HostName, body: Any = Body(),
                         ctx: RequestContext = Depends(agent_context)) -> dict[str, Any]:
    """200 ``{"port": {id, status}}``: the port on that VF goes ACTIVE (up) or DOWN; 404 when
    no port with that MAC (and pci_slot) is bound to ``host``."""
    report = DeviceReport.from_json(body)
    return ctx.services.compute.reports.device_status(host, report).to_json()


@router.put("/hosts/{host}/links")
def update_links(host: str, body: Any = Body(),
                 ctx: RequestContext = Depends(agent_context)) -> dict[str, Any]:
    """200 ``{"links": {unhealthy, changed}}``: the VFs of PFs without carrier are unhealthy
    (never scheduled) until their carrier returns; 404 for an unregistered host."""
    return ctx.services.compute.reports.links(host, LinkReport.from_json(body), ctx.request_id,
                                              ctx.caller.user_id).to_json()
