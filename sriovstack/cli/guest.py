"""The ``sriovstack guest`` and ``sriovstack dataplane`` command groups of the netns data plane.

``guest exec SERVER -- CMD...`` runs a command inside an emulated guest, ``guest ping SERVER
IP`` checks a path with UDP echo (no ``ping`` binary needed), ``dataplane cleanup`` removes
everything the data plane made under a prefix.  SERVER is an id or a name; a name is looked
up like every client command does, in the cloud of ``--os-cloud``/``OS_CLOUD`` (or, with
``--state-dir``, the all-in-one's admin cloud).  The data plane is ``--prefix``, else the
all-in-one's in ``--state-dir``, else the all-in-one's whose clouds.yaml
``OS_CLIENT_CONFIG_FILE`` names, else the default prefix.  While a live migration has the
server's guest on two hosts, the one reached is on the host the API says the server is on
(``OS-EXT-SRV-ATTR:host``, asked as the all-in-one's admin; its simulated host is
``hosts/<host>`` of the state directory).
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from rich.console import Console

from sriovstack.allinone import dataplane_prefix
from sriovstack.cli.allinone import ADMIN_CLOUD
from sriovstack.cli.cloud import common_parser
from sriovstack.cli.cloud.lookup import SERVER, find
from sriovstack.cli.cloud.session import CloudSession
from sriovstack.cli.inputs import positive_float, positive_int
from sriovstack.cli.clouds import find_cloud
from sriovstack.errors import ConfigError, Invalid
from sriovstack.dataplane import DEFAULT_PREFIX, cleanup_dataplane
from sriovstack.virt import ping_from_guest, run_in_guest, server_guests

__all__ = ["register"]

_PREFIX_HELP = f"the data plane's name prefix (default {DEFAULT_PREFIX})"
_GUEST_PREFIX_HELP = (f"the data plane's name prefix (default: the all-in-one's of --state-dir "
                      f"or of OS_CLIENT_CONFIG_FILE's directory, else {DEFAULT_PREFIX})")
_STATE_HELP = ("the all-in-one's state directory, instead of --prefix and OS_CLOUD: its "
               "data plane's prefix, and SERVER names are looked up with its admin cloud")
_SERVER_HELP = "the server's id, or its name (looked up in the cloud of --os-cloud/OS_CLOUD)"


def register(subparsers: Any) -> None:
    """Add the ``guest`` and ``dataplane`` groups to the top-level parser."""
    guest = subparsers.add_parser("guest", help="reach an emulated guest (netns data plane)")
    sub = guest.add_subparsers(dest="guest_command", metavar="SUBCOMMAND", required=True)
    run = sub.add_parser("exec", help="run a command inside a guest", parents=[common_parser()],
                         usage="sriovstack guest exec [--os-cloud NAME] [--prefix P | "
                               "--state-dir DIR] SERVER -- CMD [ARG...]")
    _add_where(run)
    run.add_argument("server", metavar="SERVER", help=_SERVER_HELP)
    run.add_argument("command", nargs=argparse.REMAINDER, metavar="CMD",
                     help="the command and its arguments, after --")
    run.set_defaults(func=_exec)
    ping = sub.add_parser("ping", help="UDP echo from a guest to an address",
                          parents=[common_parser()])
    _add_where(ping)
    ping.add_argument("--count", type=positive_int, default=3,
                      help="datagrams to send (default 3)")
    ping.add_argument("--timeout", type=positive_float, default=1.0,
                      help="seconds to wait for each reply (default 1)")
    ping.add_argument("server", metavar="SERVER", help=f"{_SERVER_HELP}, to send from")
    ping.add_argument("ip", metavar="IP", help="the address whose echo service answers")
    ping.set_defaults(func=_ping)
    plane = subparsers.add_parser("dataplane", help="the emulated NIC data plane")
    psub = plane.add_subparsers(dest="dataplane_command", metavar="SUBCOMMAND", required=True)
    clean = psub.add_parser("cleanup", help="remove every namespace, link and rule it made "
                            "(and the processes in its namespaces)")
    clean.add_argument("--prefix", default=DEFAULT_PREFIX, help=_PREFIX_HELP)
    clean.set_defaults(func=_cleanup)


def _add_where(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prefix", help=_GUEST_PREFIX_HELP)
    parser.add_argument("--state-dir", type=Path, metavar="DIR", help=_STATE_HELP)


@dataclass(frozen=True, slots=True)
class _Guest:
    """The guest a command reaches: its server id, its data plane's prefix and, when the
    server has guests on several hosts, the simulated host of the one on its current host."""

    server_id: str
    prefix: str
    host_root: Path | None = None


def _is_id(ref: str) -> bool:
    try:
        uuid.UUID(ref)
    except ValueError:
        return False
    return True


def _guest_of(args: argparse.Namespace) -> _Guest:
    """Where SERVER's guest is (module docstring): its id, asked of the cloud when SERVER is
    a name, its data plane's prefix, and its host when it has guests on several."""
    ref: str = args.server
    if args.prefix is not None and args.state_dir is not None:
        raise ConfigError("--prefix and --state-dir both name the data plane; give one",
                          option="--prefix/--state-dir", fix="--state-dir DIR for an "
                          "all-in-one's cloud (its prefix is derived from DIR), else --prefix P")
    state: Path | None = args.state_dir
    if state is not None:
        if not state.is_dir():
            raise ConfigError(f"{state} is not a directory", option="--state-dir",
                              value=str(state),
                              fix="pass the --state-dir the all-in-one was started with")
        prefix = dataplane_prefix(state)
        server_id = str(uuid.UUID(ref)) if _is_id(ref) else _server_by_name(state, ref)["id"]
    else:
        prefix = args.prefix or _prefix_of_clouds_yaml(os.environ) or DEFAULT_PREFIX
        state = _state_of_clouds_yaml(os.environ)
        if state is not None and dataplane_prefix(state) != prefix:
            state = None  # --prefix names another data plane than that all-in-one's
        if _is_id(ref):
            server_id = str(uuid.UUID(ref))
        else:
            with CloudSession(find_cloud(args.os_cloud, os.environ)) as session:
                server_id = str(find(session, SERVER, ref)["id"])
    guest = _Guest(str(server_id), prefix)
    if state is None or len(server_guests(guest.server_id, prefix)) < 2:
        return guest
    # A live migration has it on two hosts: reach the one the API says it is on.
    host = _server_by_name(state, guest.server_id).get("OS-EXT-SRV-ATTR:host")
    return _Guest(guest.server_id, prefix, state / "hosts" / host if host else None)


def _state_of_clouds_yaml(env: Mapping[str, str]) -> Path | None:
    """The all-in-one state directory holding ``OS_CLIENT_CONFIG_FILE``'s clouds.yaml (it
    has ``hosts/`` beside it), else None."""
    given = env.get("OS_CLIENT_CONFIG_FILE")
    if not given:
        return None
    state = Path(given).resolve().parent
    return state if (state / "hosts").is_dir() else None


def _prefix_of_clouds_yaml(env: Mapping[str, str]) -> str | None:
    """The data plane prefix of the all-in-one whose state directory holds the clouds.yaml
    that ``OS_CLIENT_CONFIG_FILE`` names (it has ``hosts/`` beside it), else None."""
    state = _state_of_clouds_yaml(env)
    return dataplane_prefix(state) if state is not None else None


def _server_by_name(state: Path, name: str) -> dict[str, Any]:
    """The server ``name`` (or id), asked of the all-in-one's API as its admin."""
    clouds_yaml = state / "clouds.yaml"
    if not clouds_yaml.is_file():
        raise ConfigError(f"{clouds_yaml} does not exist, so server {name!r} cannot be looked "
                          "up by name", file=str(clouds_yaml), option="--state-dir",
                          fix="start `sriovstack all-in-one --state-dir` on it, or pass the "
                              "server's id")
    cloud = find_cloud(ADMIN_CLOUD, {"OS_CLIENT_CONFIG_FILE": str(clouds_yaml)})
    with CloudSession(cloud) as session:
        return dict(find(session, SERVER, name))


def _exec(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    guest = _guest_of(args)
    return run_in_guest(guest.server_id, command, guest.prefix, host_root=guest.host_root)


def _ping(args: argparse.Namespace) -> int:
    try:
        target = ip_address(args.ip)
    except ValueError:
        raise Invalid(f"IP {args.ip!r} is not an IPv4 or IPv6 address (e.g. 10.0.0.5)",
                      field="ip", value=args.ip) from None
    guest = _guest_of(args)
    result = ping_from_guest(guest.server_id, target, count=args.count, prefix=guest.prefix,
                             timeout=args.timeout, host_root=guest.host_root)
    shown = args.server if args.server == guest.server_id else f"{args.server} ({guest.server_id})"
    out = Console(highlight=False)
    out.print(f"UDP echo {shown} -> {result.target}: {result.sent} sent, "
              f"{result.received} received", markup=False)
    return 0 if result.reachable else 1


def _cleanup(args: argparse.Namespace) -> int:
    report = cleanup_dataplane(args.prefix)
    out = Console(highlight=False)
    for ns in report.namespaces:
        out.print(f"removed network namespace {ns}", markup=False)
    if report.processes:
        out.print(f"ended processes {', '.join(map(str, report.processes))}", markup=False)
    out.print(f"{len(report.namespaces)} namespace(s) with prefix {args.prefix!r} removed",
              markup=False)
    return 0
