"""Neutron-shaped JSON views of the network service's values; policy-hidden attributes
(``binding:host_id/profile/vif_*`` for non-admins, ``provider:*`` for non-admins) are left out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sriovstack.api.settings import ApiSettings
from sriovstack.network import (Agent, HostBinding, Network, Port, SecurityGroup,
                                SecurityGroupRule, Subnet,
                                profile_json)

__all__ = ["network_view", "subnet_view", "port_view", "security_group_view", "rule_view",
           "agent_view", "host_binding_view", "versions_view", "resources_view", "EXTENSIONS"]


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _standard(project_id: str, created: datetime, updated: datetime,
              revision: int) -> dict[str, Any]:
    return {"project_id": project_id, "tenant_id": project_id, "created_at": _time(created),
            "updated_at": _time(updated), "revision_number": revision, "tags": []}


def network_view(n: Network, privileged: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": n.id, "name": n.name, "description": n.description,
        "admin_state_up": n.admin_state_up, "status": n.status, "subnets": list(n.subnet_ids),
        "shared": n.shared, "router:external": False, "mtu": n.mtu,
        "port_security_enabled": n.port_security_enabled, "availability_zone_hints": [],
        "availability_zones": [], "ipv4_address_scope": None, "ipv6_address_scope": None,
        "l2_adjacency": True,
        **_standard(n.project_id, n.created_at, n.updated_at, n.revision_number)}
    if privileged:
        view.update({"provider:network_type": str(n.segment.network_type),
                     "provider:physical_network": n.segment.physnet,
                     "provider:segmentation_id": n.segment.segmentation_id})
    return view


def subnet_view(s: Subnet) -> dict[str, Any]:
    return {
        "id": s.id, "name": s.name, "description": s.description, "network_id": s.network_id,
        "cidr": s.cidr, "ip_version": s.ip_version, "gateway_ip": s.gateway_ip,
        "enable_dhcp": s.enable_dhcp, "dns_nameservers": list(s.dns_nameservers),
        "host_routes": [{"destination": r.destination, "nexthop": r.nexthop}
                        for r in s.host_routes],
        "allocation_pools": [{"start": p.start, "end": p.end} for p in s.allocation_pools],
        "ipv6_ra_mode": None, "ipv6_address_mode": None, "subnetpool_id": None,
        "segment_id": None, "service_types": [],
        **_standard(s.project_id, s.created_at, s.updated_at, s.revision_number)}


def port_view(p: Port, privileged: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": p.id, "name": p.name, "description": p.description, "network_id": p.network_id,
        "mac_address": str(p.mac), "admin_state_up": p.admin_state_up, "status": str(p.status),
        "device_id": p.device_id, "device_owner": p.device_owner,
        "fixed_ips": [{"subnet_id": ip.subnet_id, "ip_address": ip.ip_address}
                      for ip in p.fixed_ips],
        "security_groups": list(p.security_group_ids),
        "port_security_enabled": p.port_security_enabled, "allowed_address_pairs": [],
        "propagate_uplink_status": p.propagate_uplink_status,
        "extra_dhcp_opts": [], "binding:vnic_type": str(p.vnic_type),
        **_standard(p.project_id, p.created_at, p.updated_at, p.revision_number)}
    if privileged:
        view.update({"binding:host_id": p.binding.host,
                     "binding:profile": profile_json(p.binding.profile),
                     "binding:vif_type": str(p.binding.vif_type),
                     "binding:vif_details": dict(p.binding.vif_details)})
        if p.binding.failure:
            # Our addition: why binding_failed (neutron only logs it; pain point 1).
            view["binding:failure_reason"] = p.binding.failure
    return view


def host_binding_view(b: HostBinding) -> dict[str, Any]:
    """One entry of ``/v2.0/ports/{id}/bindings`` (neutron's six keys)."""
    return {"host": b.host, "vif_type": str(b.vif_type), "vnic_type": str(b.vnic_type),
            "vif_details": dict(b.vif_details), "profile": profile_json(b.profile),
            "status": str(b.status)}


def rule_view(r: SecurityGroupRule) -> dict[str, Any]:
    return {"id": r.id, "security_group_id": r.security_group_id, "direction": r.direction,
            "ethertype": r.ethertype, "protocol": r.protocol,
            "port_range_min": r.port_range_min, "port_range_max": r.port_range_max,
            "remote_ip_prefix": r.remote_ip_prefix, "remote_group_id": r.remote_group_id,
            "remote_address_group_id": None, "normalized_cidr": r.remote_ip_prefix,
            "description": r.description,
            **_standard(r.project_id, r.created_at, r.created_at, 0)}


def security_group_view(g: SecurityGroup) -> dict[str, Any]:
    return {"id": g.id, "name": g.name, "description": g.description, "stateful": g.stateful,
            "security_group_rules": [rule_view(r) for r in g.rules], "shared": False,
            **_standard(g.project_id, g.created_at, g.updated_at, g.revision_number)}


def agent_view(a: Agent) -> dict[str, Any]:
    return {"id": a.id, "host": a.host, "agent_type": a.agent_type, "binary": a.binary,
            "topic": a.topic, "alive": a.alive, "admin_state_up": a.admin_state_up,
            "availability_zone": None, "description": None,
            "configurations": {"device_mappings": {p: list(d) for p, d in a.device_mappings},
                               "devices": a.devices, "extensions": list(a.extensions)},
            "created_at": _time(a.created_at).replace("T", " ").rstrip("Z"),
            "started_at": _time(a.started_at).replace("T", " ").rstrip("Z"),
            "heartbeat_timestamp": _time(a.heartbeat_at).replace("T", " ").rstrip("Z"),
            "resources_synced": None}


# (alias, name, description): only what this service really implements.
EXTENSIONS: tuple[tuple[str, str, str], ...] = (
    ("agent", "agent", "The agent management extension."),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external "
     "application"),
    ("binding-extended", "Port Bindings Extended", "A compute port may hold one binding per "
     "host: an active one and inactive ones, activated at a live migration's switch-over"),
    ("network-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    ("port-security", "Port Security", "Provides port security"),
    ("project-id", "project_id field enabled", "Extension that indicates that project_id "
     "field is enabled."),
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical "
     "networks"),
    ("quotas", "Quota management support", "Expose functions for quotas management per "
     "project"),
    ("quota_details", "Quota details management support", "Expose functions for quotas "
     "usage statistics per project"),
    ("security-group", "security-group", "The security groups extension."),
    ("standard-attr-description", "standard-attr-description", "Extension to add "
     "descriptions to standard attributes"),
    ("standard-attr-revisions", "Resource revision numbers", "This extension will display "
     "the revision number of neutron resources."),
    ("standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at "
     "fields to all Neutron resources that have Neutron standard attributes."),
    ("uplink-status-propagation", "Uplink status propagation extension", "Provides ability "
     "to propagate port uplink status."),
    ("uplink-status-propagation-updatable", "Uplink status propagation updatable extension",
     "Allows to update the port uplink status propagation."),
)


def extension_view(alias: str, name: str, description: str) -> dict[str, Any]:
    return {"alias": alias, "name": name, "description": description,
            "updated": "2026-01-01T00:00:00-00:00", "links": []}


def versions_view(settings: ApiSettings) -> dict[str, Any]:
    return {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [
        {"href": settings.url("/network/v2.0/"), "rel": "self"}]}]}


_RESOURCES = (("network", "networks"), ("subnet", "subnets"), ("port", "ports"),
              ("security_group", "security-groups"),
              ("security_group_rule", "security-group-rules"), ("agent", "agents"),
              ("quota", "quotas"),
              ("extension", "extensions"))


def resources_view(settings: ApiSettings) -> dict[str, Any]:
    return {"resources": [{"name": name, "collection": collection, "links": [
        {"href": settings.url(f"/network/v2.0/{collection}"), "rel": "self"}]}
        for name, collection in _RESOURCES]}
