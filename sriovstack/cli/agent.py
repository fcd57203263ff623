"""The ``sriovstack agent`` command group: ``agent compute`` and ``agent sriov`` (run one agent).

Config files are loaded and checked against the host before anything else, so a bad config
refuses to start (exit 2) with the file, option and reason; then the credentials are read
and the agent runs until SIGTERM or Ctrl-C (``--once``: one pass, for checks and scripts).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from typing import Any

from rich.console import Console

from sriovstack.agents import (ComputeAgent, ComputeAgentSettings, ControlPlaneClient,
                               SriovAgentSettings, SriovNicAgent, VirtKind, host_name,
                               host_resources_from, load_credentials, load_nic_mappings,
                               load_whitelist, open_virt)
from sriovstack.allinone import open_host, open_with_plane
from sriovstack.cli.inputs import host_root, positive_int, text_file
from sriovstack.dataplane import DEFAULT_PREFIX
from sriovstack.host import discover

__all__ = ["register"]

_STATE_DIR = Path("/var/lib/sriovstack")
_CREDENTIALS = Path("/etc/sriovstack/agent-credentials.conf")


def _common(parser: argparse.ArgumentParser, example: str) -> None:
    parser.add_argument("--config-file", action="append", required=True, metavar="FILE",
                        type=text_file,
                        help=f"a config file (repeatable, later files win), e.g. {example}")
    parser.add_argument("--host", help="this host's name as the API knows it "
                        "(default: /etc/hostname under --root)")
    parser.add_argument("--root", type=host_root, default=Path("/"), metavar="DIR",
                        help="the host's root: / or a simulated host's tree (default /)")
    parser.add_argument("--state-dir", type=Path, default=_STATE_DIR, metavar="DIR",
                        help=f"where the agent keeps what it configured (default {_STATE_DIR})")
    parser.add_argument("--api", default="http://127.0.0.1:8080", metavar="URL",
                        help="the sriovstack API (default http://127.0.0.1:8080)")
    # Read (and a missing or broken file named) only after the config files passed, so a
    # config mistake is reported first (load_credentials names the file and the option).
    parser.add_argument("--credentials", type=Path, default=_CREDENTIALS, metavar="FILE",
                        help="ini file with [service_user] username, password, project_name "
                        f"(default {_CREDENTIALS})")
    parser.add_argument("--once", action="store_true",
                        help="run one heartbeat and one reconcile pass, then exit")


def register(subparsers: Any) -> None:
    """Add ``agent compute`` and ``agent sriov`` to the top-level parser."""
    agent = subparsers.add_parser("agent", help="run a compute or SR-IOV NIC agent")
    sub = agent.add_subparsers(dest="agent_command", metavar="AGENT", required=True)
    compute = sub.add_parser("compute", help="the compute agent (inventory, guests, VFs)")
    _common(compute, "/etc/nova/nova.conf")
    compute.add_argument("--virt", choices=[k.value for k in VirtKind],
                         default=VirtKind.LIBVIRT.value, help="virt driver (default libvirt; "
                         "netns: emulated guests on a simulated host with its data plane on)")
    compute.add_argument("--dataplane-prefix", default=DEFAULT_PREFIX, metavar="P",
                         help="with --virt netns: the data plane's name prefix "
                         f"(default {DEFAULT_PREFIX})")
    for option, what in (("--vcpus", "CPUs"), ("--memory-mb", "memory in MiB"),
                         ("--disk-gb", "disk in GiB")):
        compute.add_argument(option, type=positive_int, metavar="N",
                             help=f"{what} to report (default: read from the host)")
    compute.set_defaults(func=_run_compute)
    sriov = sub.add_parser("sriov", help="the SR-IOV NIC agent (VF admin state, 20.6)")
    _common(sriov, "/etc/neutron/plugins/ml2/sriov_agent.ini")
    sriov.set_defaults(func=_run_sriov)
    # `agent list`: the cloud's agents over the Networking API (cli/cloud).
    from sriovstack.cli.cloud import register_agent_views

    register_agent_views(sub)


def _run_compute(args: argparse.Namespace) -> int:
    # A simulated root comes wired to its netns data plane; --virt netns drives that plane.
    host, plane = open_with_plane(args.root)
    files = tuple(str(f) for f in args.config_file)
    whitelist = load_whitelist(files, host.sysfs)
    settings = ComputeAgentSettings(host_name(host.sysfs, args.host), files, args.state_dir,
                                    vcpus=args.vcpus, memory_mb=args.memory_mb,
                                    disk_gb=args.disk_gb)
    host_resources_from(host.sysfs, settings)
    credentials = load_credentials(args.credentials)
    virt = open_virt(VirtKind(args.virt), host, args.state_dir, prefix=args.dataplane_prefix,
                     plane=plane)
    with ControlPlaneClient(args.api, credentials) as client:
        agent = ComputeAgent(settings, client, host, virt, whitelist)
        if args.once:
            agent.heartbeat()
            done = agent.reconcile_once()
            Console(highlight=False).print(
                f"{settings.host}: revision {done.revision}, spawned {len(done.spawned)}, "
                f"destroyed {len(done.destroyed)}, VFs reset {len(done.reset)}, "
                f"failed {len(done.failed)}", markup=False)
            return 1 if done.failed else 0
        _serve(agent.run)
    return 0


def _run_sriov(args: argparse.Namespace) -> int:
    host = open_host(args.root)
    files = tuple(str(f) for f in args.config_file)
    mappings = load_nic_mappings(files, discover(host.sysfs))
    settings = SriovAgentSettings(host_name(host.sysfs, args.host), files, args.state_dir)
    credentials = load_credentials(args.credentials)
    with ControlPlaneClient(args.api, credentials) as client:
        agent = SriovNicAgent(settings, client, host, mappings)
        if args.once:
            agent.heartbeat()
            done = agent.reconcile_once()
            Console(highlight=False).print(
                f"{settings.host}: revision {done.revision}, devices up {len(done.up)}, "
                f"down {len(done.down)}", markup=False)
            return 0
        _serve(agent.run)
    return 0


def _serve(run: Any) -> None:
    """Run an agent loop in the foreground until SIGTERM (systemd stop) or Ctrl-C."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        run(stop)
    finally:
        stop.set()
