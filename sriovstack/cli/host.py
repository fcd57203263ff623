"""The ``sriovstack host`` command group: simulate, devices, check and set-vfs on one Linux host
(plus ``list``/``show`` of the cloud's compute hosts, from cli/cloud)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sriovstack.host import (PersistMethod, PersistPlan, PersistTarget, Report, Verdict, VfPlan,
                             apply, apply_persistence, check_host, pf_device_path,
                             plan_persistence, plan_vf_count)
from sriovstack.cli.cloud.output import View, format_parser, print_list
from sriovstack.cli.inputs import host_root, positive_float, text_file, vf_count
from sriovstack.host.simulated import TOPOLOGIES_DIR

__all__ = ["register"]


_CHECK_HELP = """\
Check that this host can give VFs to guests (chapter 20.2 and 20.8): IOMMU active, kernel
command line (catches intel_iommu=pt and a missing space as in intel_iommu=ptigb.max_vfs=7),
interrupt remapping (DMAR ecap bit 3 on every unit and IR- interrupt chips), whether
allow_unsafe_interrupts is needed, vfio, PF drivers, VFs, and VF persistence.

Exit status: 0 when nothing FAILs (warnings are printed), 1 when any item FAILs."""

_SET_VFS_HELP = """\
Give PF exactly COUNT VFs through sriov_numvfs: refuse more than sriov_totalvfs, do nothing
when the count is already right, write 0 first when changing a nonzero count (refused while
any VF is bound to vfio-pci), then read the count back.

--persist keeps the count across reboots, by PCI address (names change, addresses don't):
  systemd   a oneshot unit sriovstack-vfs@<address>.service ordered before libvirtd and the
            agents, plus a udev rule that re-runs it when the PF driver binds (recommended)
  udev      only a udev rule that writes sriov_numvfs when the PF driver binds
  modprobe  "options <driver> max_vfs=N" in /etc/modprobe.d/<driver>.conf (igb, ixgbe;
            mlx4_core num_vfs): every port of that driver, and an initramfs rebuild on RHEL
rc.local is never used: under systemd it runs at no fixed point of boot, not before libvirtd,
and not again after a driver reload (chapter 20.2 note)."""


def register(subparsers: Any) -> None:
    """Add ``host`` and its subcommands to the top-level parser."""
    host = subparsers.add_parser("host", help="inspect and prepare one SR-IOV compute host")
    sub = host.add_subparsers(dest="host_command", metavar="SUBCOMMAND", required=True)
    fmt = argparse.RawDescriptionHelpFormatter
    sim = sub.add_parser("simulate", help="build a simulated host tree from a topology file")
    sim.add_argument("--topology", type=text_file, default=TOPOLOGIES_DIR / "chapter.toml",
                     help="topology TOML file (default: the chapter's)")
    sim.add_argument("--host", default="compute0", help="host name in the topology")
    sim.add_argument("--root", type=Path, required=True, help="directory to build the tree in")
    sim.set_defaults(func=_simulate)
    lst = sub.add_parser("devices", help="this host's NICs: lspci -nn style listing, then "
                         "the PFs and VFs", parents=[format_parser()])
    lst.add_argument("--root", type=host_root, default=Path("/"), help="host root (default /)")
    lst.add_argument("--config-file", action="append", default=[], metavar="FILE", type=text_file,
                     help="nova.conf whose PCI whitelist selects VFs (repeatable)")
    lst.set_defaults(func=_list)
    chk = sub.add_parser("check", help="readiness report (20.2, 20.8)", description=_CHECK_HELP,
                         formatter_class=fmt, parents=[format_parser()])
    chk.add_argument("--root", type=host_root, default=Path("/"), help="host root (default /)")
    chk.set_defaults(func=_check)
    svf = sub.add_parser("set-vfs", help="set a PF's VF count, optionally persistently",
                         description=_SET_VFS_HELP, formatter_class=fmt)
    svf.add_argument("pf", metavar="PF", help="PF netdev name or PCI address")
    svf.add_argument("count", metavar="COUNT", type=vf_count, help="number of VFs (0 or more)")
    svf.add_argument("--persist", choices=[m.value for m in PersistMethod],
                     help="keep the count across reboots (see above)")
    svf.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    svf.add_argument("--root", type=host_root, default=Path("/"), help="host root (default /)")
    svf.set_defaults(func=_set_vfs)
    exe = sub.add_parser("exec", help="run a command on a compute host (in its QEMU guest)",
                         description="Run CMD on HOST, a QEMU guest booted with `sriovstack "
                         "qemu boot` or by the all-in-one's --compute-hosts qemu, with the "
                         "guest kernel's own tools: sriovstack host exec compute0 -- ip link "
                         "show eth0.  Exits with CMD's status (124: it timed out).")
    exe.add_argument("name", metavar="HOST", help="the compute host (QEMU guest) name")
    exe.add_argument("argv", metavar="CMD", nargs=argparse.REMAINDER,
                     help="the command and its arguments, after --")
    exe.add_argument("--timeout", type=positive_float, default=120.0, metavar="S",
                     help="give up on CMD after S seconds (exit 124; default 120)")
    exe.add_argument("--guests-dir", type=Path, metavar="DIR",
                     help="guest records (default: sriovstack qemu's)")
    exe.set_defaults(func=_exec)
    # `host list` / `host show HOST`: the cloud's compute hosts, over the API.
    from sriovstack.cli.cloud import register_host_views

    register_host_views(sub)


def _exec(args: argparse.Namespace) -> int:
    from sriovstack.cli.qemu import DEFAULT_GUESTS, exec_in_guest
    from sriovstack.errors import Invalid

    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise Invalid("host exec needs a command after --", field="CMD")
    return exec_in_guest(args.guests_dir or DEFAULT_GUESTS, args.name, argv, args.timeout)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _table_console() -> Console:
    # Tables keep the terminal's width; piped or captured output gets room for whole paths.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def _simulate(args: argparse.Namespace) -> int:
    from sriovstack.host.simulated import build_host
    from sriovstack.host.simulated import load_topology

    build_host(load_topology(args.topology).host(args.host), args.root)
    _console().print(f"simulated host {args.host} built under {args.root}")
    return 0


_VERDICT_STYLE = {Verdict.PASS: "green", Verdict.WARN: "yellow", Verdict.FAIL: "bold red"}


def _report_table(report: Report) -> Table:
    table = Table(title="host readiness (20.2, 20.8)", show_lines=True)
    for column in ("check", "verdict", "finding", "evidence", "fix"):
        table.add_column(column, overflow="fold")
    for item in report.items:
        evidence = "\n".join(f"{e.path}: {e.value}" for e in item.evidence)
        table.add_row(Text(item.name), Text(item.verdict.name, style=_VERDICT_STYLE[item.verdict]),
                      Text(item.summary), Text(evidence), Text(item.fix or ""))
    return table


def _check(args: argparse.Namespace) -> int:
    from sriovstack.allinone import open_host

    report = check_host(open_host(root=args.root))
    out = _table_console()
    view = View.of(args)
    if view.is_table and not view.columns:
        out.print(_report_table(report))
    else:
        print_list("host readiness (20.2, 20.8)", ("check", "verdict", "finding", "evidence",
                                                   "fix"),
                   [(i.name, i.verdict.name, i.summary,
                     [f"{e.path}: {e.value}" for e in i.evidence], i.fix) for i in report.items],
                   view)
    if not view.is_table:
        return 1 if report.verdict is Verdict.FAIL else 0
    counts = {v: sum(i.verdict is v for i in report.items) for v in Verdict}
    out.print(f"verdict: {report.verdict.name} ({counts[Verdict.FAIL]} fail, "
              f"{counts[Verdict.WARN]} warn, {counts[Verdict.PASS]} pass)")
    return 1 if report.verdict is Verdict.FAIL else 0


def _print_plans(out: Console, plan: VfPlan, persist: PersistPlan | None) -> None:
    for line in plan.describe():
        out.print(line)
    if persist is None:
        return
    for change in persist.changes:
        what = ("remove" if change.removes else
                f"link -> {change.link_to}" if change.link_to else "write")
        out.print(f"  persist ({persist.method.value}): {what} {change.path}")
    for warning in persist.warnings:
        out.print(f"[yellow]warning:[/] {warning}")


def _set_vfs(args: argparse.Namespace) -> int:
    from sriovstack.allinone import open_host
    from sriovstack.host import discover

    host = open_host(root=args.root)
    pf = discover(host.sysfs).find_pf(args.pf)
    plan = plan_vf_count(host, pf, args.count)
    persist = None
    if args.persist:
        target = PersistTarget(pf.address, pf.driver, args.count,
                               pf_device_path(host.sysfs, pf.address))
        persist = plan_persistence(Path(args.root), target, PersistMethod(args.persist))
    out = _console()
    _print_plans(out, plan, persist)
    if args.dry_run:
        out.print("dry run: nothing changed")
        return 0
    result = apply(plan)
    if not result.complete:
        out.print(f"[bold red]error:[/] {result.note}"
                  + ("; persistence not written" if persist else ""))
        return 1
    out.print(f"{pf.address}: {result.enabled} VFs")
    if persist is not None:
        apply_persistence(Path(args.root), persist)
        for step in persist.next_steps:
            out.print(f"next: {step}")
    return 0


def _whitelist(sysfs: Any, files: list[str]) -> Any:
    from sriovstack.conf import load_nova_config
    from sriovstack.host import SysfsDeviceProbe
    from sriovstack.pci import parse_device_specs

    lines = load_nova_config(files).device_specs
    return parse_device_specs([line.text for line in lines], SysfsDeviceProbe(sysfs),
                              file=lines[0].origin.file if lines else None)


def _list(args: argparse.Namespace) -> int:
    from sriovstack.allinone import open_host
    from sriovstack.host import discover
    from sriovstack.host import format_listing

    host = open_host(root=args.root)
    specs = _whitelist(host.sysfs, args.config_file) if args.config_file else None
    inventory = discover(host.sysfs)
    view = View.of(args)
    columns = ["address", "kind", "netdev", "driver", "numa", "iommu group"]
    columns += ["physnet"] if specs is not None else []
    rows = []
    for pf in inventory.pfs:
        functions = [(pf.device, "PF", pf.netdev, pf.driver, pf.iommu_group)]
        functions += [(vf.device, f"VF {vf.index}", vf.netdev, vf.driver, vf.iommu_group)
                      for vf in pf.vfs]
        for device, kind, netdev, driver, group in functions:
            row = [str(device.address), kind, netdev, driver, pf.numa_node, group]
            if specs is not None:
                tags = specs.match_device(device)
                row.append(None if tags is None else tags.get("physical_network") or "(none)")
            rows.append(row)
    if view.is_table and not view.columns:  # the lspci lines are no column: only in full
        out = _table_console()
        for line in format_listing(inventory):
            out.print(line, markup=False)
    print_list("SR-IOV functions", columns, rows, view)
    return 0
