"""Compute v2.1 response bodies: servers, flavors, hypervisors, each in the shape of the
request's microversion (the 2.1 key sets, plus what each later version adds or changes)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sriovstack.api.compute import microversions as mv
from sriovstack.api.compute.microversions import ApiVersion
from sriovstack.compute import MAX_LIMIT, Flavor, Hypervisor, InstanceAction, Server
from sriovstack.wire import ServerStatus

__all__ = ["ServerLens", "server_view", "server_updated", "server_brief", "server_created",
           "instance_action_view", "collection_links",
           "flavor_view", "flavor_brief", "flavor_brief_at", "hypervisor_view",
           "hypervisor_brief", "host_status", "iso"]

St = ServerStatus
_VM_STATE = {St.BUILD: "building", St.ACTIVE: "active", St.ERROR: "error",
             St.DELETED: "deleted", St.SHUTOFF: "stopped", St.PAUSED: "paused",
             St.SUSPENDED: "suspended", St.REBOOT: "active", St.HARD_REBOOT: "active",
             St.REBUILD: "active", St.SHELVED_OFFLOADED: "shelved_offloaded",
             St.RESIZE: "active", St.VERIFY_RESIZE: "resized",
             St.REVERT_RESIZE: "resized", St.MIGRATING: "active"}
# nova's power_state: 0 NOSTATE, 1 RUNNING, 3 PAUSED, 4 SHUTDOWN, 7 SUSPENDED.
_POWER = {St.ACTIVE: 1, St.REBOOT: 1, St.HARD_REBOOT: 1, St.PAUSED: 3, St.SHUTOFF: 4,
          St.SUSPENDED: 7, St.RESIZE: 1, St.VERIFY_RESIZE: 1, St.REVERT_RESIZE: 1,
          St.MIGRATING: 1}


def iso(value: datetime | None) -> str | None:
    """Nova's timestamp form: ``2026-11-29T03:42:51Z``."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _links(base: str, kind: str, ident: str) -> list[dict[str, str]]:
    return [{"rel": "self", "href": f"{base}/v2.1/{kind}/{ident}"},
            {"rel": "bookmark", "href": f"{base}/{kind}/{ident}"}]


def collection_links(base: str, collection: str, params: list[tuple[str, str]],
                     limit: int | None, ids: list[str]) -> list[dict[str, str]]:
    """Nova's ``<collection>_links``: a ``next`` link (the last id as marker, the other
    parameters kept) when the page is full (``limit``, or max_limit when none)."""
    full = min(MAX_LIMIT if limit is None else limit, MAX_LIMIT)
    if not full or len(ids) != full:
        return []
    query = urlencode([(k, v) for k, v in params if k != "marker"] + [("marker", ids[-1])])
    return [{"rel": "next", "href": f"{base}/v2.1/{collection}?{query}"}]


def server_brief(server: Server, base: str) -> dict[str, Any]:
    """GET /servers items: id, name, links only."""
    return {"id": server.id, "name": server.name, "links": _links(base, "servers", server.id)}


def server_created(server: Server, base: str, admin_pass: str) -> dict[str, Any]:
    """The 202 body of POST /servers."""
    return {"id": server.id, "links": _links(base, "servers", server.id),
            "OS-DCF:diskConfig": "MANUAL", "security_groups": [{"name": "default"}],
            "adminPass": admin_pass}


def _host_id(server: Server) -> str:
    # Nova: sha224(project_id + host), "" until placed; opaque to clients.
    if not server.host:
        return ""
    return hashlib.sha224(f"{server.project_id}{server.host}".encode()).hexdigest()


def _addresses(server: Server) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for a in server.addresses:
        out.setdefault(a.network_name, []).append(
            {"version": a.version, "addr": a.addr, "OS-EXT-IPS:type": "fixed",
             "OS-EXT-IPS-MAC:mac_addr": str(a.mac)})
    return out


@dataclass(frozen=True, slots=True)
class ServerLens:
    """How one request sees servers: its base URL and microversion, whether the caller is an
    admin (2.3's attributes, 2.16's host_status) and each host's status for 2.16."""

    base: str
    version: ApiVersion = mv.MIN_VERSION
    admin: bool = False
    host_states: Mapping[str, str] = field(default_factory=dict)


def host_status(h: Hypervisor) -> str:
    """Nova's ``host_status`` of a server on this host: MAINTENANCE (disabled), UP or DOWN."""
    if not h.enabled:
        return "MAINTENANCE"
    return "UP" if h.up else "DOWN"


def server_view(server: Server, lens: ServerLens, *, single: bool = False) -> dict[str, Any]:
    """GET /servers/{id} (``single``) and /servers/detail items: the 2.1 keys
    (openstack_api_compat.md §4.4) and what each microversion up to ``lens.version`` adds."""
    body = _server_21(server, lens.base)
    v = lens.version
    if lens.admin:  # nova's default policy: where a server runs is for admins only
        body.update({"OS-EXT-SRV-ATTR:host": server.host,
                     "OS-EXT-SRV-ATTR:hypervisor_hostname": server.host,
                     "OS-EXT-SRV-ATTR:instance_name": f"instance-{server.id[:8]}"})
    if v >= mv.EXTENDED_ATTRIBUTES and lens.admin:
        body.update(_extended_attributes(server))
    if v >= mv.LOCKED:
        body["locked"] = server.locked
    if v >= mv.HOST_STATUS and lens.admin:
        body["host_status"] = lens.host_states.get(server.host or "", "")
    if v >= mv.DESCRIPTION:
        body["description"] = server.description
    if v >= mv.TAGS:
        body["tags"] = []
    if v >= mv.EMBEDDED_FLAVOR:
        body["flavor"] = _embedded_flavor(server)
    if v >= mv.TRUSTED_CERTS:
        body["trusted_image_certificates"] = None
    if v >= mv.SERVER_GROUPS and single:
        body["server_groups"] = []
    if v >= mv.LOCKED_REASON:
        body["locked_reason"] = server.locked_reason
    return body


def server_updated(server: Server, lens: ServerLens) -> dict[str, Any]:
    """PUT /servers/{id}: the whole server from 2.75, before it the basic view nova gave
    (no extension attributes)."""
    if lens.version >= mv.API_CLEANUP:
        return server_view(server, lens, single=True)
    keep = ("id", "name", "status", "tenant_id", "user_id", "metadata", "hostId", "image",
            "flavor", "created", "updated", "addresses", "accessIPv4", "accessIPv6", "links",
            "progress", "OS-DCF:diskConfig")
    full = server_view(server, lens, single=True)
    body = {k: full[k] for k in keep}
    for extra in ("locked", "description", "tags", "trusted_image_certificates",
                  "server_groups", "locked_reason"):
        if extra in full:
            body[extra] = full[extra]
    return body


_HOSTNAME_BAD = re.compile(r"[^a-z0-9-]+")


def _extended_attributes(s: Server) -> dict[str, Any]:
    # 2.3 (admin): the attributes the EC2 API needed; we boot no kernel/ramdisk of our own.
    hostname = _HOSTNAME_BAD.sub("-", s.name.lower()).strip("-")[:63] or "server"
    return {"OS-EXT-SRV-ATTR:reservation_id": f"r-{s.id[:8]}",
            "OS-EXT-SRV-ATTR:launch_index": 0, "OS-EXT-SRV-ATTR:kernel_id": "",
            "OS-EXT-SRV-ATTR:ramdisk_id": "", "OS-EXT-SRV-ATTR:hostname": hostname,
            "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda", "OS-EXT-SRV-ATTR:user_data": None}


def _embedded_flavor(s: Server) -> dict[str, Any]:
    # 2.47: the flavor the server runs with, by value; the id is gone from this view.
    f = s.flavor
    if f is None:
        return {"vcpus": 0, "ram": 0, "disk": 0, "ephemeral": 0, "swap": 0,
                "original_name": "", "extra_specs": {}}
    return {"vcpus": f.vcpus, "ram": f.ram, "disk": f.disk, "ephemeral": f.ephemeral,
            "swap": f.swap, "original_name": f.name, "extra_specs": dict(f.extra_specs)}


def _server_21(s: Server, base: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": s.id, "name": s.name, "status": s.status.value, "tenant_id": s.project_id,
        "user_id": s.user_id, "metadata": dict(s.metadata), "hostId": _host_id(s),
        "image": {"id": s.image_id, "links": [{"rel": "bookmark",
                                               "href": f"{base}/images/{s.image_id}"}]}
        if s.image_id else "",
        "flavor": {"id": s.flavor_id, "links": [{"rel": "bookmark",
                                                 "href": f"{base}/flavors/{s.flavor_id}"}]},
        "created": iso(s.created_at), "updated": iso(s.updated_at),
        "addresses": _addresses(s), "accessIPv4": s.access_ipv4, "accessIPv6": s.access_ipv6,
        "links": _links(base, "servers", s.id), "OS-DCF:diskConfig": "MANUAL",
        "progress": 100 if s.status is St.ACTIVE else 0,
        "config_drive": "", "key_name": s.key_name,
        "OS-EXT-AZ:availability_zone": s.availability_zone or ("nova" if s.host else ""),
        "OS-EXT-STS:power_state": 4 if s.powered_off else _POWER.get(s.status, 0),
        "OS-EXT-STS:task_state": s.task_state,
        "OS-EXT-STS:vm_state": ("stopped" if s.powered_off and s.status is St.RESIZE
                                else _VM_STATE[s.status]),
        "OS-SRV-USG:launched_at": _usage_time(s.launched_at), "OS-SRV-USG:terminated_at": None,
        "os-extended-volumes:volumes_attached": [],
        "security_groups": [{"name": "default"}],
    }
    if s.fault is not None:
        body["fault"] = {"code": s.fault.code, "message": s.fault.message,
                         "created": iso(s.fault.created)}
    return body


def _usage_time(value: datetime | None) -> str | None:
    # os-simple-tenant-usage style: no zone suffix, microseconds.
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") if value else None


def flavor_brief(flavor: Flavor, base: str) -> dict[str, Any]:
    """GET /flavors items: only id, name, links (tempest's schema allows nothing more)."""
    return {"id": flavor.id, "name": flavor.name, "links": _links(base, "flavors", flavor.id)}


def flavor_view(flavor: Flavor, base: str,
                version: ApiVersion = mv.MIN_VERSION) -> dict[str, Any]:
    """GET /flavors/{id} and /flavors/detail items: 2.1 keys, ``description`` from 2.55,
    ``extra_specs`` from 2.61, and ``swap`` 0 rather than "" when none from 2.75."""
    f = flavor
    body: dict[str, Any] = {
        "id": f.id, "name": f.name, "ram": f.ram, "disk": f.disk, "vcpus": f.vcpus,
        "swap": f.swap if f.swap or version >= mv.API_CLEANUP else "",
        "OS-FLV-EXT-DATA:ephemeral": f.ephemeral, "OS-FLV-DISABLED:disabled": False,
        "os-flavor-access:is_public": f.is_public, "rxtx_factor": f.rxtx_factor,
        "links": _links(base, "flavors", f.id)}
    if version >= mv.FLAVOR_DESCRIPTION:
        body["description"] = f.description
    if version >= mv.FLAVOR_EXTRA_SPECS:
        body["extra_specs"] = dict(f.extra_specs)
    return body


def flavor_brief_at(flavor: Flavor, base: str, version: ApiVersion) -> dict[str, Any]:
    """GET /flavors items: id, name, links; ``description`` too from 2.55."""
    body = flavor_brief(flavor, base)
    if version >= mv.FLAVOR_DESCRIPTION:
        body["description"] = flavor.description
    return body


def hypervisor_brief(h: Hypervisor) -> dict[str, Any]:
    """GET /os-hypervisors items at 2.1."""
    return {"id": h.id, "hypervisor_hostname": h.hostname,
            "state": "up" if h.up else "down",
            "status": "enabled" if h.enabled else "disabled"}


def hypervisor_view(h: Hypervisor, version: ApiVersion = mv.MIN_VERSION) -> dict[str, Any]:
    """GET /os-hypervisors/detail items and /{id}: exactly nova's keys, no more; ``cpu_info``
    a string below 2.28 and an object from it."""
    return {
        **hypervisor_brief(h), "hypervisor_type": h.hypervisor_type,
        "hypervisor_version": h.hypervisor_version,
        "host_ip": h.host_ip,
        "service": {"host": h.hostname, "id": h.id, "disabled_reason": h.disabled_reason},
        "vcpus": h.vcpus, "memory_mb": h.memory_mb, "local_gb": h.local_gb,
        "vcpus_used": h.vcpus_used, "memory_mb_used": h.memory_mb_used,
        "local_gb_used": h.local_gb_used, "free_ram_mb": h.memory_mb - h.memory_mb_used,
        "free_disk_gb": h.local_gb - h.local_gb_used, "current_workload": 0,
        "running_vms": h.running_vms, "disk_available_least": h.local_gb - h.local_gb_used,
        "cpu_info": {} if version >= mv.CPU_INFO_OBJECT else json.dumps({}),
    }


def instance_action_view(a: InstanceAction, lens: ServerLens, *,
                         events: bool = False) -> dict[str, Any]:
    """os-instance-actions items; with ``events`` the show body: events for admins, for all
    from 2.51, with ``hostId`` (and ``host`` for admins) from 2.62, ``traceback`` for admins;
    ``updated_at`` from 2.58."""
    body: dict[str, Any] = {
        "action": a.action, "instance_uuid": a.server_id, "message": a.message,
        "project_id": a.project_id, "request_id": a.request_id,
        # No user: a periodic task's action (nova's admin context), null as nova shows it.
        "start_time": _usage_time(a.start_time), "user_id": a.user_id or None}
    if lens.version >= mv.ACTIONS_PAGING:
        body["updated_at"] = _usage_time(a.updated_at)
    if events and (lens.admin or lens.version >= mv.ACTION_EVENTS_FOR_ALL):
        body["events"] = [_event(e, a.project_id, lens) for e in a.events]
    return body


def _event(e: Any, project_id: str, lens: ServerLens) -> dict[str, Any]:
    out: dict[str, Any] = {"event": e.event, "start_time": _usage_time(e.start_time),
                           "finish_time": _usage_time(e.finish_time), "result": e.result}
    if lens.admin:
        out["traceback"] = e.traceback
    if lens.version >= mv.ACTION_EVENT_HOST:
        out["hostId"] = (hashlib.sha224(f"{project_id}{e.host}".encode()).hexdigest()
                         if e.host else "")
        if lens.admin:
            out["host"] = e.host or ""
    return out
