"""``sriovstack network|subnet|port ...``: the chapter's tenant networking (20.7) over the
Networking API."""

from __future__ import annotations

import argparse
from typing import Any

from sriovstack.cli.cloud.lookup import NETWORK, PORT, SUBNET, find
from sriovstack.cli.cloud.output import View, console, format_parser, print_list, print_show
from sriovstack.cli.cloud.session import CloudSession

__all__ = ["register", "port_fields"]

_VNIC_TYPES = ("normal", "direct", "direct-physical", "macvtap")


def register(subparsers: Any, common: argparse.ArgumentParser, run: Any) -> None:
    """Add ``network``, ``subnet`` and ``port``; ``run(handler)`` wraps a handler with a session."""
    net = subparsers.add_parser("network", help="networks (Networking API)")
    sub = net.add_subparsers(dest="network_command", metavar="SUBCOMMAND", required=True)
    fmt = format_parser()
    p = sub.add_parser("create", parents=[common, fmt], help="create a network")
    p.add_argument("name", help="the new network's name")
    p.add_argument("--provider-network-type", choices=("vlan", "flat"),
                   help="provider network type (admin; default: the tenant type)")
    p.add_argument("--provider-physical-network", metavar="PHYSNET",
                   help="physical network its VLAN is on, e.g. physnet1 (admin)")
    p.add_argument("--provider-segment", metavar="VLAN_ID", help="VLAN id (admin)")
    p.add_argument("--share", action="store_true", help="shared with every project")
    p.set_defaults(func=run(_network_create))
    sub.add_parser("list", parents=[common, fmt], help="list networks"
                   ).set_defaults(func=run(_network_list))
    for verb, handler in (("show", _network_show), ("delete", _network_delete)):
        p = sub.add_parser(verb, parents=[common, fmt] if verb == "show" else [common],
                           help=f"{verb} a network")
        p.add_argument("network", metavar="NETWORK", help="name or id")
        p.set_defaults(func=run(handler))
    _register_subnet(subparsers, common, run)
    _register_port(subparsers, common, run)


def _register_subnet(subparsers: Any, common: argparse.ArgumentParser, run: Any) -> None:
    subnet = subparsers.add_parser("subnet", help="subnets (Networking API)")
    sub = subnet.add_subparsers(dest="subnet_command", metavar="SUBCOMMAND", required=True)
    fmt = format_parser()
    p = sub.add_parser("create", parents=[common, fmt], help="create a subnet")
    p.add_argument("name", help="the new subnet's name")
    p.add_argument("--network", required=True, help="name or id")
    p.add_argument("--subnet-range", required=True, metavar="CIDR",
                   help="addresses, e.g. 10.0.0.0/24")
    p.add_argument("--no-dhcp", action="store_true", help="DHCP off on the subnet")
    p.set_defaults(func=run(_subnet_create))
    sub.add_parser("list", parents=[common, fmt], help="list subnets").set_defaults(
        func=run(_subnet_list))
    p = sub.add_parser("delete", parents=[common], help="delete a subnet")
    p.add_argument("subnet", metavar="SUBNET", help="name or id")
    p.set_defaults(func=run(_subnet_delete))


def _register_port(subparsers: Any, common: argparse.ArgumentParser, run: Any) -> None:
    port = subparsers.add_parser("port", help="ports (Networking API)")
    sub = port.add_subparsers(dest="port_command", metavar="SUBCOMMAND", required=True)
    fmt = format_parser()
    p = sub.add_parser("create", parents=[common, fmt], help="create a port")
    p.add_argument("name", help="the new port's name")
    p.add_argument("--network", required=True, help="name or id")
    p.add_argument("--vnic-type", choices=_VNIC_TYPES, default="normal",
                   help="direct: an SR-IOV VF (20.7); macvtap is refused (20.9)")
    p.add_argument("--disable", action="store_true", help="admin state down")
    p.set_defaults(func=run(_port_create))
    sub.add_parser("list", parents=[common, fmt], help="list ports").set_defaults(
        func=run(_port_list))
    for verb, handler in (("show", _port_show), ("delete", _port_delete)):
        p = sub.add_parser(verb, parents=[common, fmt] if verb == "show" else [common],
                           help=f"{verb} a port")
        p.add_argument("port", metavar="PORT", help="name or id")
        p.set_defaults(func=run(handler))


def _network_fields(n: dict[str, Any]) -> list[tuple[str, Any]]:
    keys = ("id", "name", "status", "admin_state_up", "shared", "provider:network_type",
            "provider:physical_network", "provider:segmentation_id", "subnets", "project_id")
    return [(k, n.get(k)) for k in keys]


def _network_create(s: CloudSession, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"name": args.name}
    for opt, key in (("provider_network_type", "provider:network_type"),
                     ("provider_physical_network", "provider:physical_network"),
                     ("provider_segment", "provider:segmentation_id")):
        if getattr(args, opt):
            body[key] = getattr(args, opt)
    if args.share:
        body["shared"] = True
    net = s.call("POST", "network", "/v2.0/networks", {"network": body})["network"]
    print_show(f"network {net['name']}", _network_fields(net), View.of(args))
    return 0


def _network_list(s: CloudSession, args: argparse.Namespace) -> int:
    nets = s.call("GET", "network", "/v2.0/networks")["networks"]
    subnets = {x["id"]: x["cidr"] for x in s.call("GET", "network", "/v2.0/subnets")["subnets"]}
    print_list("networks", ("ID", "Name", "Type", "Physnet", "Segment", "Subnets"),
               [(n["id"], n["name"], n.get("provider:network_type"),
                 n.get("provider:physical_network"), n.get("provider:segmentation_id"),
                 [f"{i} {subnets.get(i, '')}".strip() for i in n.get("subnets", [])])
                for n in nets], View.of(args))
    return 0


def _network_show(s: CloudSession, args: argparse.Namespace) -> int:
    net = find(s, NETWORK, args.network)
    print_show(f"network {net['name']}", _network_fields(net), View.of(args))
    return 0


def _network_delete(s: CloudSession, args: argparse.Namespace) -> int:
    net = find(s, NETWORK, args.network)
    s.call("DELETE", "network", f"/v2.0/networks/{net['id']}")
    console().print(f"deleted network {net['name']} ({net['id']})", markup=False)
    return 0


def _subnet_create(s: CloudSession, args: argparse.Namespace) -> int:
    net = find(s, NETWORK, args.network)
    body = {"name": args.name, "network_id": net["id"], "cidr": args.subnet_range,
            "ip_version": 6 if ":" in args.subnet_range else 4,
            "enable_dhcp": not args.no_dhcp}
    sub = s.call("POST", "network", "/v2.0/subnets", {"subnet": body})["subnet"]
    print_show(f"subnet {sub['name']}", [(k, sub.get(k)) for k in (
        "id", "name", "network_id", "cidr", "gateway_ip", "allocation_pools", "enable_dhcp")],
        View.of(args))
    return 0


def _subnet_list(s: CloudSession, args: argparse.Namespace) -> int:
    subs = s.call("GET", "network", "/v2.0/subnets")["subnets"]
    print_list("subnets", ("ID", "Name", "Network", "Subnet"),
               [(x["id"], x["name"], x["network_id"], x["cidr"]) for x in subs],
               View.of(args))
    return 0


def _subnet_delete(s: CloudSession, args: argparse.Namespace) -> int:
    sub = find(s, SUBNET, args.subnet)
    s.call("DELETE", "network", f"/v2.0/subnets/{sub['id']}")
    console().print(f"deleted subnet {sub['name']} ({sub['id']})", markup=False)
    return 0


def port_fields(p: dict[str, Any]) -> list[tuple[str, Any]]:
    """The fields ``port show`` prints, binding:* included (20.7)."""
    keys = ("id", "name", "status", "admin_state_up", "network_id", "mac_address",
            "binding:vnic_type", "binding:vif_type", "binding:host_id", "binding:profile",
            "binding:vif_details", "device_id", "device_owner")
    ips = [f"{ip['ip_address']} ({ip['subnet_id']})" for ip in p.get("fixed_ips", [])]
    return [(k, p.get(k)) for k in keys[:6]] + [("fixed_ips", ips)] + \
        [(k, p.get(k)) for k in keys[6:]]


def _port_create(s: CloudSession, args: argparse.Namespace) -> int:
    net = find(s, NETWORK, args.network)
    body = {"name": args.name, "network_id": net["id"], "binding:vnic_type": args.vnic_type,
            "admin_state_up": not args.disable}
    port = s.call("POST", "network", "/v2.0/ports", {"port": body})["port"]
    print_show(f"port {port['name']}", port_fields(port), View.of(args))
    return 0


def _port_list(s: CloudSession, args: argparse.Namespace) -> int:
    ports = s.call("GET", "network", "/v2.0/ports")["ports"]
    print_list("ports", ("ID", "Name", "MAC", "Fixed IPs", "vNIC", "Status", "PCI slot"),
               [(p["id"], p["name"], p["mac_address"],
                 [ip["ip_address"] for ip in p.get("fixed_ips", [])],
                 p.get("binding:vnic_type"), p["status"],
                 (p.get("binding:profile") or {}).get("pci_slot")) for p in ports],
               View.of(args))
    return 0


def _port_show(s: CloudSession, args: argparse.Namespace) -> int:
    port = find(s, PORT, args.port)
    print_show(f"port {port['name']}", port_fields(port), View.of(args))
    return 0


def _port_delete(s: CloudSession, args: argparse.Namespace) -> int:
    port = find(s, PORT, args.port)
    s.call("DELETE", "network", f"/v2.0/ports/{port['id']}")
    console().print(f"deleted port {port['name']} ({port['id']})", markup=False)
    return 0
