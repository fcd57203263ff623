"""``sriovstack server ...``: boot with ``--nic port-id=|net-id=`` (20.7), watch it become
ACTIVE, show, list and delete, over the Compute API."""

from __future__ import annotations

import argparse
import time
from typing import Any

from sriovstack.cli.cloud.lookup import FLAVOR, IMAGE, NETWORK, PORT, SERVER, find
from sriovstack.cli.cloud.output import View, console, format_parser, print_list, print_show
from sriovstack.cli.cloud.session import CloudSession
from sriovstack.cli.inputs import positive_float
from sriovstack.errors import Invalid, NotFound, Unreachable

__all__ = ["register", "parse_nic", "wait_for_status", "wait_for_gone"]

_TERMINAL = frozenset({"ACTIVE", "ERROR"})


def register(subparsers: Any, common: argparse.ArgumentParser, run: Any) -> None:
    """Add ``server`` (create, list, show, delete)."""
    server = subparsers.add_parser("server", help="servers (Compute API)")
    sub = server.add_subparsers(dest="server_command", metavar="SUBCOMMAND", required=True)
    fmt = format_parser()
    p = sub.add_parser("create", parents=[common, fmt], help="boot a server")
    p.add_argument("name", help="the new server's name")
    p.add_argument("--flavor", required=True, help="name or id (e.g. m1.tiny)")
    p.add_argument("--image", required=True, help="name or id (e.g. cirros)")
    p.add_argument("--nic", action="append", default=[], required=True,
                   metavar="port-id=ID|net-id=ID", help="repeatable; names are looked up too")
    p.add_argument("--wait", action="store_true", help="wait until ACTIVE (or ERROR)")
    p.add_argument("--timeout", type=positive_float, default=120.0,
                   help="seconds --wait may take (default 120)")
    p.set_defaults(func=run(_create))
    sub.add_parser("list", parents=[common, fmt], help="list servers").set_defaults(
        func=run(_list))
    p = sub.add_parser("show", parents=[common, fmt], help="show a server")
    p.add_argument("server", metavar="SERVER", help="name or id")
    p.set_defaults(func=run(_show))
    p = sub.add_parser("delete", parents=[common], help="delete a server")
    p.add_argument("server", metavar="SERVER", help="name or id")
    p.add_argument("--wait", action="store_true", help="wait until it is gone")
    p.add_argument("--timeout", type=positive_float, default=120.0,
                   help="seconds --wait may take (default 120)")
    p.set_defaults(func=run(_delete))


def parse_nic(text: str) -> tuple[str, str]:
    """``port-id=X`` / ``net-id=X`` → ("port"|"net", X); Invalid naming --nic otherwise."""
    key, sep, value = text.partition("=")
    if not sep or key not in ("port-id", "net-id") or not value:
        raise Invalid(f"--nic {text!r} is not port-id=ID or net-id=ID", field="--nic",
                      value=text, fix="e.g. --nic port-id=$(openstack port show sr-iov -c id -f "
                                      "value)")
    return key.removesuffix("-id"), value


def _networks(s: CloudSession, nics: list[str]) -> list[dict[str, str]]:
    out = []
    for text in nics:
        kind, ref = parse_nic(text)
        if kind == "port":
            out.append({"port": find(s, PORT, ref)["id"]})
        else:
            out.append({"uuid": find(s, NETWORK, ref)["id"]})
    return out


def _fields(v: dict[str, Any]) -> list[tuple[str, Any]]:
    addresses = [f"{net}={ip['addr']} ({ip.get('OS-EXT-IPS-MAC:mac_addr', '')})"
                 for net, ips in (v.get("addresses") or {}).items() for ip in ips]
    fault = (v.get("fault") or {}).get("message")
    return [("id", v["id"]), ("name", v["name"]), ("status", v["status"]),
            ("host", v.get("OS-EXT-SRV-ATTR:host")), ("flavor", (v.get("flavor") or {}).get("id")),
            ("image", (v.get("image") or {}).get("id")), ("addresses", addresses),
            ("fault", fault)]


def _create(s: CloudSession, args: argparse.Namespace) -> int:
    body = {"name": args.name, "flavorRef": find(s, FLAVOR, args.flavor)["id"],
            "imageRef": find(s, IMAGE, args.image)["id"],
            "networks": _networks(s, args.nic), "min_count": 1, "max_count": 1}
    server = s.call("POST", "compute", "/servers", {"server": body})["server"]
    if args.wait:
        view = wait_for_status(s, server["id"], args.timeout)
    else:
        view = s.call("GET", "compute", f"/servers/{server['id']}")["server"]
    print_show(f"server {view['name']}", _fields(view), View.of(args))
    return 1 if view["status"] == "ERROR" else 0


def wait_for_status(s: CloudSession, server_id: str, timeout: float) -> dict[str, Any]:
    """Poll until the server is ACTIVE or ERROR, showing its status; Unreachable on timeout."""
    deadline = time.monotonic() + timeout
    out = console()
    with out.status(f"server {server_id}: BUILD") as spinner:
        while True:
            view: dict[str, Any] = s.call("GET", "compute", f"/servers/{server_id}")["server"]
            task = view.get("OS-EXT-STS:task_state") or ""
            spinner.update(f"server {view['name']}: {view['status']} {task}".rstrip())
            if view["status"] in _TERMINAL:
                return view
            if time.monotonic() > deadline:
                raise Unreachable(f"server {server_id} is still {view['status']} after "
                                  f"{timeout:.0f} s", fix="are the agents running? "
                                  "`sriovstack agent list`")
            time.sleep(0.25)


def wait_for_gone(s: CloudSession, server_id: str, timeout: float) -> None:
    """Poll until GET answers 404; Unreachable on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            s.call("GET", "compute", f"/servers/{server_id}")
        except NotFound:
            return
        time.sleep(0.25)
    raise Unreachable(f"server {server_id} still exists after {timeout:.0f} s")


def _list(s: CloudSession, args: argparse.Namespace) -> int:
    servers = s.call("GET", "compute", "/servers/detail")["servers"]
    print_list("servers", ("ID", "Name", "Status", "Host", "Networks"),
               [(v["id"], v["name"], v["status"], v.get("OS-EXT-SRV-ATTR:host"),
                 [f"{n}={ip['addr']}" for n, ips in (v.get("addresses") or {}).items()
                  for ip in ips]) for v in servers], View.of(args))
    return 0


def _show(s: CloudSession, args: argparse.Namespace) -> int:
    view = find(s, SERVER, args.server)
    print_show(f"server {view['name']}", _fields(view), View.of(args))
    return 0


def _delete(s: CloudSession, args: argparse.Namespace) -> int:
    view = find(s, SERVER, args.server)
    s.call("DELETE", "compute", f"/servers/{view['id']}")
    if args.wait:
        wait_for_gone(s, view["id"], args.timeout)
    console().print(f"deleted server {view['name']} ({view['id']})", markup=False)
    return 0


