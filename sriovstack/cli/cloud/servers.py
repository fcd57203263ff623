"""``sriovstack server ...``: boot with ``--nic port-id=|net-id=`` (20.7), watch it become
ACTIVE, show, list and delete; move it with its VF (resize, migrate, live-migrate, confirm,
revert), over the Compute API."""

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
    _register_moves(sub, common, run)


_MOVE_VERSION = "2.79"  # migrate --host needs 2.56; live migration without disk_over_commit


def _register_moves(sub: Any, common: argparse.ArgumentParser, run: Any) -> None:
    def waiting(p: argparse.ArgumentParser) -> None:
        p.add_argument("server", metavar="SERVER", help="name or id")
        p.add_argument("--wait", action="store_true", help="wait until the move settles")
        p.add_argument("--timeout", type=positive_float, default=120.0,
                       help="seconds --wait may take (default 120)")

    p = sub.add_parser("resize", parents=[common], help="resize to another flavor (then "
                       "confirm or revert)")
    waiting(p)
    p.add_argument("--flavor", required=True, help="name or id")
    p.set_defaults(func=run(_resize))
    p = sub.add_parser("migrate", parents=[common], help="cold-migrate (then confirm or "
                       "revert; admin)")
    waiting(p)
    p.add_argument("--host", help="the target host (default: the scheduler's choice)")
    p.set_defaults(func=run(_migrate))
    p = sub.add_parser("live-migrate", parents=[common], help="live-migrate (admin): the VF "
                       "is unplugged on the source and a new one plugged on the target")
    waiting(p)
    p.add_argument("--host", help="the target host (default: the scheduler's choice)")
    p.set_defaults(func=run(_live_migrate))
    p = sub.add_parser("confirm", parents=[common], help="confirm a resize or migration: "
                       "the source VF is released")
    p.add_argument("server", metavar="SERVER", help="name or id")
    p.set_defaults(func=run(_confirm))
    p = sub.add_parser("revert", parents=[common], help="revert a resize or migration: back "
                       "to the source VF")
    waiting(p)
    p.set_defaults(func=run(_revert))


def _act(s: CloudSession, server: dict[str, Any], body: dict[str, Any]) -> None:
    s.call("POST", "compute", f"/servers/{server['id']}/action", body,
           microversion=_MOVE_VERSION)


def _settle(s: CloudSession, args: argparse.Namespace, server: dict[str, Any],
            done: frozenset[str], verb: str) -> int:
    if not args.wait:
        console().print(f"{verb} of server {server['name']} requested", markup=False)
        return 0
    deadline = time.monotonic() + args.timeout
    while True:
        view = s.call("GET", "compute", f"/servers/{server['id']}")["server"]
        if view["status"] in done | {"ERROR"} and not view.get("OS-EXT-STS:task_state"):
            break
        if time.monotonic() > deadline:
            raise Unreachable(f"server {server['id']} is still {view['status']} after "
                              f"{args.timeout:.0f} s", fix="are the agents running?")
        time.sleep(0.25)
    console().print(f"server {view['name']}: {view['status']} on "
                    f"{view.get('OS-EXT-SRV-ATTR:host')}", markup=False)
    return 1 if view["status"] == "ERROR" else 0


def _resize(s: CloudSession, args: argparse.Namespace) -> int:
    server = find(s, SERVER, args.server)
    _act(s, server, {"resize": {"flavorRef": find(s, FLAVOR, args.flavor)["id"]}})
    return _settle(s, args, server, frozenset({"VERIFY_RESIZE"}), "resize")


def _migrate(s: CloudSession, args: argparse.Namespace) -> int:
    server = find(s, SERVER, args.server)
    _act(s, server, {"migrate": {"host": args.host} if args.host else None})
    return _settle(s, args, server, frozenset({"VERIFY_RESIZE"}), "migration")


def _live_migrate(s: CloudSession, args: argparse.Namespace) -> int:
    server = find(s, SERVER, args.server)
    before = server.get("OS-EXT-SRV-ATTR:host")
    _act(s, server, {"os-migrateLive": {"host": args.host, "block_migration": "auto"}})
    code = _settle(s, args, server, frozenset({"ACTIVE"}), "live migration")
    if args.wait:
        after = s.call("GET", "compute", f"/servers/{server['id']}")["server"]
        if after.get("OS-EXT-SRV-ATTR:host") == before:  # nova's async checks said no
            actions = s.call("GET", "compute", f"/servers/{server['id']}/os-instance-actions/"
                             f"{_last_request(s, server['id'])}", microversion=_MOVE_VERSION)
            why = next((e.get("traceback") for e in actions["instanceAction"]["events"]
                        if e.get("result") == "Error"), None)
            console().print(f"server {server['name']} stayed on {before}: {why}",
                            markup=False)
            return 1
    return code


def _last_request(s: CloudSession, server_id: str) -> str:
    actions = s.call("GET", "compute", f"/servers/{server_id}/os-instance-actions")
    return str(actions["instanceActions"][0]["request_id"])


def _confirm(s: CloudSession, args: argparse.Namespace) -> int:
    server = find(s, SERVER, args.server)
    _act(s, server, {"confirmResize": None})
    console().print(f"confirmed: the source VF of server {server['name']} is released",
                    markup=False)
    return 0


def _revert(s: CloudSession, args: argparse.Namespace) -> int:
    server = find(s, SERVER, args.server)
    _act(s, server, {"revertResize": None})
    return _settle(s, args, server, frozenset({"ACTIVE"}), "revert")


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


