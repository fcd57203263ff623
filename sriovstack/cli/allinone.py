"""The ``sriovstack all-in-one`` command: the chapter's cloud on simulated hosts, in the
foreground, until Ctrl-C (SIGINT) or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path
from typing import Any

from rich.console import Console

from sriovstack.allinone import (GUEST_STATE, AllInOne, AllInOneOptions, ComputeHosts,
                                 DataplaneMode, GuestOptions, choose_dataplane)
from sriovstack.cli.api import parse_listen
from sriovstack.cli.clouds import Cloud, write_clouds_yaml
from sriovstack.cli.inputs import positive_float, text_file, whole_seconds
from sriovstack.dataplane import missing_commands

__all__ = ["register", "clouds_of", "ADMIN_CLOUD", "DEMO_CLOUD"]

ADMIN_CLOUD, DEMO_CLOUD = "sriovstack", "sriovstack-demo"
_DEFAULT_STATE = Path(".sriovstack")

_HELP = """\
Start, in this process: simulated hosts for the topology (default: the chapter's controller,
network node and two compute nodes, each compute with a dual-port Intel 82576 and 7 VFs per
port), the database (SQLite in the state directory unless --database), the API, and a compute
agent and an SR-IOV NIC agent per compute host; as root, a netns data plane that carries real
packets between the emulated guests (--dataplane).  Writes DIR/clouds.yaml with the clouds
'sriovstack' (admin) and 'sriovstack-demo' (the demo project) for the openstack CLI and for
`sriovstack network|port|server|host ...`.  Starting again on the same DIR reuses everything.

--compute-hosts qemu runs each compute host on a real Linux kernel instead: a QEMU guest
(`sriovstack qemu install` and `sriovstack qemu image build` first) with the topology's
ports as emulated Intel 82576s (igb), the emulated Intel IOMMU with interrupt remapping and
the topology's kernel arguments, running `sriovstack agent compute` (fake virt driver) and
`sriovstack agent sriov` on the guest's own sysfs and rtnetlink.  A guest reaches only the API,
relayed by QEMU to this machine's loopback.  Boots take 20-60 s per guest under TCG, two at a
time; look inside with `sriovstack host exec compute0 -- ip link show enp11s0f1`."""


def register(subparsers: Any) -> None:
    """Add ``all-in-one`` to the top-level parser."""
    p = subparsers.add_parser("all-in-one", help="run the chapter's cloud on simulated hosts",
                              description=_HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--state-dir", type=Path, default=_DEFAULT_STATE, metavar="DIR",
                   help=f"hosts, database, passwords, clouds.yaml (default {_DEFAULT_STATE})")
    p.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT",
                   help="where the API listens (port 0: any free port)")
    p.add_argument("--topology", type=text_file, metavar="FILE",
                   help="topology TOML of the simulated hosts (default: the chapter's)")
    p.add_argument("--database", metavar="URL", help="database URL (default: SQLite in DIR)")
    p.add_argument("--virt-driver", choices=("fake", "libvirt"),
                   help="how the compute agents attach VFs instead of the default: emulated "
                   "guests (network namespaces) when the netns data plane runs, else fake")
    p.add_argument("--dataplane", choices=[m.value for m in DataplaneMode],
                   help="netns: real packets between emulated guests (network namespaces; "
                   "needs root, ip and nft); none: simulated only (default: netns as root "
                   "with ip and nft installed, else none)")
    p.add_argument("--log-level", default="warning",
                   choices=["critical", "error", "warning", "info", "debug"],
                   help="log level of the API and agents (default warning)")
    p.add_argument("--compute-hosts", choices=[c.value for c in ComputeHosts],
                   default=ComputeHosts.SIMULATED.value,
                   help="simulated (default): simulated kernels, agents in this process; "
                   "qemu: QEMU guests with the emulated 82576, agents in the guests")
    p.add_argument("--resize-confirm-window", type=whole_seconds, metavar="S",
                   help="confirm a resize or migration left in VERIFY_RESIZE for S seconds, "
                   "as the API's periodic sweep (every 10 s) finds it: nova.conf [DEFAULT] "
                   "resize_confirm_window of the controller (default: unset, 0: off)")
    add_guest_options(p)
    p.set_defaults(func=_run)


def add_guest_options(p: argparse.ArgumentParser) -> None:
    """The options of --compute-hosts qemu (all-in-one and demo)."""
    from sriovstack.cli.qemu import DEFAULT_CACHE, DEFAULT_GUESTS

    p.add_argument("--qemu-cache-dir", type=Path, default=DEFAULT_CACHE, metavar="DIR",
                   help=f"with qemu: the guest image (default {DEFAULT_CACHE})")
    p.add_argument("--guests-dir", type=Path, default=DEFAULT_GUESTS, metavar="DIR",
                   help=f"with qemu: the guests' records, where `sriovstack host exec` finds "
                   f"them (default {DEFAULT_GUESTS})")
    p.add_argument("--boot-timeout", type=positive_float, default=420.0, metavar="S",
                   help="with qemu: give up on a guest that does not answer in S seconds "
                   "(default 420)")
    p.add_argument("--agents-timeout", type=positive_float, default=900.0, metavar="S",
                   help="with qemu: give up when the guests' agents have not reported in S "
                   "seconds after their start (default 900)")


def guest_options(args: argparse.Namespace) -> GuestOptions | None:
    """The GuestOptions of parsed --compute-hosts qemu options (None for simulated)."""
    if args.compute_hosts != ComputeHosts.QEMU.value:
        return None
    return GuestOptions(image_dir=Path(args.qemu_cache_dir) / "image",
                        guests_dir=Path(args.guests_dir), boot_timeout=args.boot_timeout,
                        setup_timeout=args.agents_timeout)


def clouds_of(cloud: AllInOne) -> tuple[Cloud, Cloud]:
    """The admin and demo clouds of a started all-in-one."""
    creds = cloud.credentials
    assert creds is not None, "start the cloud first"
    auth_url = f"{cloud.base_url}/identity/v3"
    return (Cloud(ADMIN_CLOUD, auth_url, "admin", creds.admin_password, "admin"),
            Cloud(DEMO_CLOUD, auth_url, "demo", creds.demo_password, "demo"))


def _listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` as ``api serve`` takes it, plus port 0 (any free port)."""
    host, sep, port = text.rpartition(":")
    if sep and host and port == "0":
        return host.strip("[]"), 0
    return parse_listen(text)


def _run(args: argparse.Namespace) -> int:
    host, port = _listen(args.listen)
    state = Path(args.state_dir).resolve()
    out = Console(highlight=False, soft_wrap=True)
    guests = guest_options(args)
    if guests is not None:
        # The guests' kernels are real: the netns plane (simulated hosts only) stays off.
        dataplane = DataplaneMode(args.dataplane) if args.dataplane else DataplaneMode.NONE
        note = None
    else:
        dataplane, note = choose_dataplane(
            DataplaneMode(args.dataplane) if args.dataplane else None, args.virt_driver,
            os.geteuid(), missing_commands())
    if note:
        out.print(note, markup=False)
    options = AllInOneOptions(state_dir=state, host=host, port=port, topology=args.topology,
                              database_url=args.database, virt_driver=args.virt_driver or "fake",
                              log_level=args.log_level, dataplane=dataplane,
                              compute_hosts=ComputeHosts(args.compute_hosts), guests=guests,
                              progress=lambda line: out.print(f"  {line}", markup=False),
                              resize_confirm_window=args.resize_confirm_window)
    cloud = AllInOne(options)
    stop = threading.Event()

    def on_signal(*_: object) -> None:
        stop.set()
        cloud.cancel.set()   # a start still booting guests gives up and stops them

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with cloud:
            clouds_yaml = state / "clouds.yaml"
            write_clouds_yaml(clouds_yaml, clouds_of(cloud))
            _print_ready(out, cloud, clouds_yaml)
            # Wake now and then: a signal the kernel hands to another thread does not
            # interrupt a lock wait in the main thread, so an untimed wait may never see it.
            while not stop.wait(0.5):
                pass
            out.print("stopping: agents, guests and data plane, then the API ...")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    out.print("stopped")
    return 0


def _print_ready(out: Console, cloud: AllInOne, clouds_yaml: Path) -> None:
    computes = [h.name for h in cloud.hosts if h.is_compute]
    out.print(f"[bold green]sriovstack all-in-one is ready[/] at {cloud.base_url}")
    out.print(f"  hosts under {cloud.options.state_dir / 'hosts'}: "
              f"{', '.join(h.name for h in cloud.hosts)} (compute: {', '.join(computes)})")
    out.print(f"  database: {cloud.database_url}")
    if cloud.options.resize_confirm_window is not None:
        out.print(f"  nova.conf [DEFAULT] resize_confirm_window = "
                  f"{cloud.options.resize_confirm_window} (0: off)", markup=False)
    if cloud.guests is not None:
        guests = cloud.guests
        each = ", ".join(f"{g.name} {g.boot_seconds} s" for g in guests.guests.values())
        out.print(f"  compute hosts are QEMU guests on a real kernel: booted in "
                  f"{guests.boot_wall_seconds} s ({each}; {guests.options.accel}), "
                  f"ready {cloud.ready_seconds:.0f} s after the start", markup=False)
        out.print(f"  look inside: sriovstack host exec {computes[0]} -- ip link show; "
                  f"agent logs in {GUEST_STATE} there", markup=False)
    out.print("use it from another shell:")
    out.print(f"  export OS_CLIENT_CONFIG_FILE={clouds_yaml} OS_CLOUD={ADMIN_CLOUD}")
    out.print("  openstack network list; openstack hypervisor list")
    out.print("  sriovstack host list; sriovstack host show compute0")
    out.print(f"  (OS_CLOUD={DEMO_CLOUD} is the demo project's member)")
    if cloud.dataplane is not None:
        prefix = cloud.dataplane.prefix
        out.print(f"netns data plane on (names prefixed {prefix!r}): reach a guest, with the "
                  "exports above, by server name or id", markup=False)
        out.print("  sriovstack guest ping SERVER IP; sriovstack guest exec SERVER -- ip addr",
                  markup=False)
    out.print("Ctrl-C stops everything.", markup=False)
