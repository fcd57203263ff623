"""Operator views no other client has: ``host list`` (compute hosts, VFs free/used per
physnet), ``host show HOST`` (each PF and VF with owner, MAC, VLAN, link state, spoof check)
and ``agent list``.

``host show`` reads the control plane's view (os-sriov-hosts, admin only); when the host is
one of the all-in-one's simulated hosts (``hosts/HOST`` beside the clouds.yaml in use, or
``--root``), it adds what the host's kernel has now: MAC, VLAN, link state and spoof check.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from sriovstack.cli.cloud.output import View, cell, console, format_parser, print_list
from sriovstack.cli.cloud.session import CloudSession
from sriovstack.cli.inputs import host_root as root_dir

__all__ = ["register_host_views", "register_agent_list", "host_root"]


def register_host_views(host_sub: Any, common: argparse.ArgumentParser, run: Any) -> None:
    """Add ``list`` and ``show`` to the ``host`` group."""
    fmt = format_parser()
    host_sub.add_parser("list", parents=[common, fmt], help="compute hosts of the cloud: up, VFs "
                        "free/used per physnet (admin)").set_defaults(func=run(_host_list))
    p = host_sub.add_parser("show", parents=[common, fmt], help="each PF and VF of a compute host "
                            "with its owner server and port, MAC, VLAN, link, spoof check")
    p.add_argument("name", metavar="HOST", help="the compute host's name (`host list`)")
    p.add_argument("--root", type=root_dir, help="the host's root, to add its live VF state "
                   "(default: the all-in-one's hosts/HOST beside clouds.yaml, if there)")
    p.set_defaults(func=run(_host_show))
    p = host_sub.add_parser("drain", parents=[common, fmt], help="plan where each server "
                            "holding a VF on HOST would go (or why it cannot); without "
                            "--dry-run also disable HOST (admin; exit 1 when a server has "
                            "nowhere to go)")
    p.add_argument("name", metavar="HOST", help="the compute host to drain (`host list`)")
    p.add_argument("--dry-run", action="store_true", help="plan only; change nothing")
    p.set_defaults(func=run(_host_drain))
    p = host_sub.add_parser("undrain", parents=[common], help="enable a drained host again")
    p.add_argument("name", metavar="HOST", help="the drained compute host")
    p.set_defaults(func=run(_host_undrain))
    p = host_sub.add_parser("link", help="pull (down) or put back (up) a PF's cable on a "
                            "simulated host: carrier, and the netns data plane's uplink")
    p.add_argument("name", metavar="HOST", help="the simulated compute host's name")
    p.add_argument("pf", metavar="PF", help="PF netdev name or PCI address")
    p.add_argument("state", choices=["down", "up"], help="down pulls the cable, up puts it back")
    p.add_argument("--root", type=root_dir, help="the simulated host's root (default: the "
                   "all-in-one's hosts/HOST beside clouds.yaml)")
    p.set_defaults(func=_host_link)


def register_agent_list(agent_sub: Any, common: argparse.ArgumentParser, run: Any) -> None:
    """Add ``list`` to the ``agent`` group."""
    agent_sub.add_parser("list", parents=[common, format_parser()],
                         help="the cloud's agents: type, host, "
                         "alive, device mappings").set_defaults(func=run(_agent_list))


def host_root(name: str, given: Path | None) -> Path | None:
    """``given``, else ``<dir of OS_CLIENT_CONFIG_FILE>/hosts/<name>`` when it exists."""
    if given is not None:
        return given
    config = os.environ.get("OS_CLIENT_CONFIG_FILE")
    if config:
        candidate = Path(config).resolve().parent / "hosts" / name
        if candidate.is_dir():
            return candidate
    return None


def _host_list(s: CloudSession, args: argparse.Namespace) -> int:
    hosts = s.call("GET", "compute", "/os-sriov-hosts")["hosts"]
    print_list("compute hosts", ("Host", "Up", "Enabled", "Physnet", "VFs free", "VFs used"),
               [(h["host"], h["up"], h["enabled"], u["physnet"], u["free"], u["used"])
                for h in hosts for u in (h["physnets"] or [{"physnet": None, "free": 0,
                                                           "used": 0}])], View.of(args))
    return 0


def _host_show(s: CloudSession, args: argparse.Namespace) -> int:
    from sriovstack.allinone import live_vfs

    host = s.call("GET", "compute", f"/os-sriov-hosts/{args.name}")["host"]
    root = host_root(args.name, args.root)
    live = live_vfs(root) if root is not None else {}
    rows = []
    for d in host["devices"]:
        vf = live.get(d["address"])
        kind = "PF" if d["dev_type"] == "type-PF" else "VF"
        rows.append((d["address"], kind, d["parent_addr"], d["physnet"], d["status"],
                     d["server_name"] or d["server_id"], d["port_id"],
                     vf.state.mac if vf else d["mac"],
                     vf.state.vlan if vf else d["vlan"],
                     vf.state.link_state.name.lower() if vf else None,
                     cell(vf.state.spoofchk) if vf else None,
                     d.get("unhealthy_reason") or "ok"))
    usage = "; ".join(f"{u['physnet']}: {u['free']} free, {u['used']} used"
                      + (f", {u['unhealthy']} unhealthy" if u.get("unhealthy") else "")
                      for u in host["physnets"])
    print_list(f"host {host['host']} ({'up' if host['up'] else 'DOWN'}; {usage})",
               ("Address", "Kind", "PF", "Physnet", "Status", "Server", "Port", "MAC", "VLAN",
                "Link", "Spoof check", "Health"), rows, View.of(args))
    if not View.of(args).is_table:
        return 0
    console().print("MAC/VLAN/link/spoof check read from the host's kernel under "
                    f"{root}" if root else "MAC/VLAN: what the control plane asks the host to "
                    "set (pass --root to read the host's own state)", markup=False)
    return 0


def _host_drain(s: CloudSession, args: argparse.Namespace) -> int:
    plan = s.call("POST", "compute", f"/os-sriov-hosts/{args.name}/drain",
                  {"drain": {"dry_run": args.dry_run}})["drain"]
    print_list(f"drain plan for {plan['host']}", ("Server", "Name", "Project", "VFs",
                                                  "Destination", "Why not"),
               [(x["id"], x["name"], x["project_id"], " ".join(x["vfs"]),
                 x["destination"] or "-", x["reason"] or "") for x in plan["servers"]],
               View.of(args))
    if not View.of(args).is_table:
        return 0 if all(x["destination"] for x in plan["servers"]) else 1
    console().print(f"{len(plan['servers'])} server(s) hold VFs on {plan['host']}; "
                    f"{plan['note']}", markup=False)
    return 0 if all(x["destination"] for x in plan["servers"]) else 1


def _host_undrain(s: CloudSession, args: argparse.Namespace) -> int:
    host = s.call("POST", "compute", f"/os-sriov-hosts/{args.name}/undrain")["host"]
    console().print(f"{host['host']} enabled", markup=False)
    return 0


def _host_link(args: argparse.Namespace) -> int:
    from sriovstack.allinone import set_pf_link
    from sriovstack.errors import NotFound

    root = host_root(args.name, args.root)
    if root is None:
        raise NotFound(f"no simulated host {args.name!r} found beside $OS_CLIENT_CONFIG_FILE",
                       field="HOST", value=args.name, fix="pass --root with the host's root")
    address, netdev = set_pf_link(root, args.pf, args.state == "up")
    console().print(f"{args.name}: PF {address} ({netdev}) link {args.state}; the SR-IOV "
                    "agent reports its VFs' health on its next pass", markup=False)
    return 0


def _agent_list(s: CloudSession, args: argparse.Namespace) -> int:
    agents = s.call("GET", "network", "/v2.0/agents")["agents"]
    print_list("agents", ("ID", "Type", "Host", "Alive", "State", "Binary", "Mappings"),
               [(a["id"], a["agent_type"], a["host"], ":-)" if a["alive"] else "XXX",
                 "UP" if a.get("admin_state_up") else "DOWN", a["binary"],
                 (a.get("configurations") or {}).get("device_mappings")) for a in agents],
               View.of(args))
    return 0


