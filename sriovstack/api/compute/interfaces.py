"""os-interface handlers (nova's attach_interfaces): list, show, attach (200 with the
attachment), detach (202); the hot-plug itself is the host agent's (compute/interfaces.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from sriovstack.api.compute import microversions as mv
from sriovstack.api.compute.interface_schemas import InterfaceAttachRequest
from sriovstack.api.compute.microversions import ApiVersion, negotiate
from sriovstack.api.context import RequestContext, request_context
from sriovstack.compute import InterfaceAttachment
from sriovstack.identity import policy

__all__ = ["router"]

router = APIRouter()


def interface_view(a: InterfaceAttachment, version: ApiVersion) -> dict[str, Any]:
    """nova's interfaceAttachment; ``tag`` from 2.70."""
    view: dict[str, Any] = {
        "port_state": a.port_state, "port_id": a.port_id, "net_id": a.network_id,
        "mac_addr": str(a.mac),
        "fixed_ips": [{"subnet_id": f.subnet_id, "ip_address": f.ip_address}
                      for f in a.fixed_ips]}
    if version >= mv.INTERFACE_TAG_SHOWN:
        view["tag"] = a.tag
    return view


@router.get("/servers/{server_id}/os-interface")
def list_interfaces(server_id: str, ctx: RequestContext = Depends(request_context),
                    version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"interfaceAttachments": [...]}`` in the server's port order; 404 unknown server."""
    found = ctx.services.compute.interfaces.list(ctx.caller, server_id)
    return {"interfaceAttachments": [interface_view(a, version) for a in found]}


@router.get("/servers/{server_id}/os-interface/{port_id}")
def show_interface(server_id: str, port_id: str,
                   ctx: RequestContext = Depends(request_context),
                   version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"interfaceAttachment": {...}}``; 404 unknown server or port not attached."""
    found = ctx.services.compute.interfaces.get(ctx.caller, server_id, port_id)
    return {"interfaceAttachment": interface_view(found, version)}


@router.post("/servers/{server_id}/os-interface")
def create_interface(server_id: str, body: InterfaceAttachRequest,
                     ctx: RequestContext = Depends(request_context),
                     version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 with the attachment: the port is bound on the server's host (a direct port with a
    VF claimed there) and the agent hot-plugs it. 400 no VF free on the host (nothing left
    claimed), both/neither port_id and net_id, tag before 2.49; 404 server/port/network;
    409 port in use, server locked or not ACTIVE/PAUSED/SHUTOFF."""
    policy.require_writer(ctx.caller, "attaching an interface")
    found = ctx.services.compute.interfaces.attach(ctx.caller, server_id,
                                                   body.to_spec(version), ctx.request_id)
    return {"interfaceAttachment": interface_view(found, version)}


@router.delete("/servers/{server_id}/os-interface/{port_id}", status_code=202)
def delete_interface(server_id: str, port_id: str,
                     ctx: RequestContext = Depends(request_context)) -> Response:
    """202: the agent unplugs the VF and resets it, the VF is freed and the port unbound
    (deleted when compute created it); 404 port not attached; 409 locked or state."""
    policy.require_writer(ctx.caller, "detaching an interface")
    ctx.services.compute.interfaces.detach(ctx.caller, server_id, port_id, ctx.request_id)
    return Response(status_code=202)
