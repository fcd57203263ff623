"""Compute v2.1 response bodies: servers, flavors, hypervisors (the exact 2.1 key sets)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sriovstack.compute import Flavor, Hypervisor, Server
from sriovstack.wire import ServerStatus

__all__ = ["server_view", "server_brief", "server_created", "flavor_view", "flavor_brief",
           "hypervisor_view", "hypervisor_brief", "iso"]

_VM_STATE = {ServerStatus.BUILD: "building", ServerStatus.ACTIVE: "active",
             ServerStatus.ERROR: "error", ServerStatus.DELETED: "deleted"}
_POWER = {ServerStatus.ACTIVE: 1}  # nova: 1 RUNNING, 0 NOSTATE


def iso(value: datetime | None) -> str | None:
    """Nova's timestamp form: ``2026-11-29T03:42:51Z``."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _links(base: str, kind: str, ident: str) -> list[dict[str, str]]:
    return [{"rel": "self", "href": f"{base}/v2.1/{kind}/{ident}"},
            {"rel": "bookmark", "href": f"{base}/{kind}/{ident}"}]


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


def server_view(server: Server, base: str) -> dict[str, Any]:
    """GET /servers/{id} and /servers/detail items at 2.1 (openstack_api_compat.md §4.4)."""
    s = server
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
        "progress": 100 if s.status is ServerStatus.ACTIVE else 0,
        "config_drive": "", "key_name": s.key_name,
        "OS-EXT-AZ:availability_zone": s.availability_zone or ("nova" if s.host else ""),
        "OS-EXT-STS:power_state": _POWER.get(s.status, 0),
        "OS-EXT-STS:task_state": s.task_state, "OS-EXT-STS:vm_state": _VM_STATE[s.status],
        "OS-EXT-SRV-ATTR:host": s.host, "OS-EXT-SRV-ATTR:hypervisor_hostname": s.host,
        "OS-EXT-SRV-ATTR:instance_name": f"instance-{s.id[:8]}",
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


def flavor_view(flavor: Flavor, base: str) -> dict[str, Any]:
    """GET /flavors/{id} and /flavors/detail items at 2.1."""
    f = flavor
    return {"id": f.id, "name": f.name, "ram": f.ram, "disk": f.disk, "vcpus": f.vcpus,
            "swap": f.swap or "", "OS-FLV-EXT-DATA:ephemeral": f.ephemeral,
            "OS-FLV-DISABLED:disabled": False, "os-flavor-access:is_public": f.is_public,
            "rxtx_factor": f.rxtx_factor, "links": _links(base, "flavors", f.id)}


def hypervisor_brief(h: Hypervisor) -> dict[str, Any]:
    """GET /os-hypervisors items at 2.1."""
    return {"id": h.id, "hypervisor_hostname": h.hostname,
            "state": "up" if h.up else "down",
            "status": "enabled" if h.enabled else "disabled"}


def hypervisor_view(h: Hypervisor) -> dict[str, Any]:
    """GET /os-hypervisors/detail items and /{id} at 2.1: exactly nova's keys, no more."""
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
        "cpu_info": "{}",  # a string below 2.28
    }
