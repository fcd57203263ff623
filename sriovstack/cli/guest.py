"""The ``sriovstack guest`` and ``sriovstack dataplane`` command groups of the netns data plane.

``guest exec SERVER -- CMD...`` runs a command inside an emulated guest, ``guest ping SERVER
IP`` checks a path with UDP echo (no ``ping`` binary needed), ``dataplane cleanup`` removes
everything the data plane made under a prefix.
"""

from __future__ import annotations

import argparse
from ipaddress import ip_address
from typing import Any

from rich.console import Console

from sriovstack.errors import Invalid
from sriovstack.host.simulated.dataplane import cleanup_dataplane
from sriovstack.host.simulated.names import DEFAULT_PREFIX
from sriovstack.virt.netns import ping_from_guest, run_in_guest

__all__ = ["register"]

_PREFIX_HELP = f"the data plane's name prefix (default {DEFAULT_PREFIX})"


def register(subparsers: Any) -> None:
    """Add the ``guest`` and ``dataplane`` groups to the top-level parser."""
    guest = subparsers.add_parser("guest", help="reach an emulated guest (netns data plane)")
    sub = guest.add_subparsers(dest="guest_command", metavar="SUBCOMMAND", required=True)
    run = sub.add_parser("exec", help="run a command inside a guest",
                         usage="sriovstack guest exec [--prefix P] SERVER -- CMD [ARG...]")
    run.add_argument("--prefix", default=DEFAULT_PREFIX, help=_PREFIX_HELP)
    run.add_argument("server", metavar="SERVER", help="the server id")
    run.add_argument("command", nargs=argparse.REMAINDER, metavar="CMD",
                     help="the command and its arguments, after --")
    run.set_defaults(func=_exec)
    ping = sub.add_parser("ping", help="UDP echo from a guest to an address")
    ping.add_argument("--prefix", default=DEFAULT_PREFIX, help=_PREFIX_HELP)
    ping.add_argument("--count", type=int, default=3, help="datagrams to send (default 3)")
    ping.add_argument("--timeout", type=float, default=1.0,
                      help="seconds to wait for each reply (default 1)")
    ping.add_argument("server", metavar="SERVER", help="the server id to send from")
    ping.add_argument("ip", metavar="IP", help="the address whose echo service answers")
    ping.set_defaults(func=_ping)
    plane = subparsers.add_parser("dataplane", help="the emulated NIC data plane")
    psub = plane.add_subparsers(dest="dataplane_command", metavar="SUBCOMMAND", required=True)
    clean = psub.add_parser("cleanup", help="remove every namespace, link and rule it made "
                            "(and the processes in its namespaces)")
    clean.add_argument("--prefix", default=DEFAULT_PREFIX, help=_PREFIX_HELP)
    clean.set_defaults(func=_cleanup)


def _exec(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    return run_in_guest(args.server, command, args.prefix)


def _ping(args: argparse.Namespace) -> int:
    try:
        target = ip_address(args.ip)
    except ValueError:
        raise Invalid(f"IP {args.ip!r} is not an IPv4 or IPv6 address (e.g. 10.0.0.5)",
                      field="ip", value=args.ip) from None
    result = ping_from_guest(args.server, target, count=args.count, prefix=args.prefix,
                             timeout=args.timeout)
    out = Console(highlight=False)
    out.print(f"UDP echo {args.server} -> {result.target}: {result.sent} sent, "
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
