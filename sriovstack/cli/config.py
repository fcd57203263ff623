"""The ``sriovstack config`` command group: ``config check FILE...``."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sriovstack.cli.inputs import host_root
from sriovstack.conf import Finding, Severity, check_files

__all__ = ["register"]

_CHECK_HELP = """\
Load a deployment's config files together (nova.conf of the controller and the compute
nodes, ml2_conf.ini, ml2_conf_sriov.ini, sriov_agent.ini, openvswitch_agent.ini) and
report every problem with file, section, option and a fix.

Exit status: 0 when there are no errors (warnings alone are printed but still exit 0),
1 when there is at least one error, 2 when a file is missing or is not an ini file."""


def register(subparsers: Any) -> None:
    """Add ``config`` and its ``check`` subcommand to the top-level parser."""
    config = subparsers.add_parser("config", help="check the chapter's config files")
    sub = config.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)
    check = sub.add_parser("check", help="validate a deployment's config files together",
                           description=_CHECK_HELP,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("files", nargs="+", metavar="FILE", help="config files, as given to "
                       "the services with --config-file (later files win)")
    check.add_argument("--format", choices=("table", "lines"), default="table",
                       help="a rich table (default) or one line per finding")
    check.add_argument("--sysfs-root", default="/", type=host_root,
                       help="root that devname / PF-address "
                       "whitelist entries are resolved under (default /)")
    check.set_defaults(func=_check)


def _table(findings: list[Finding]) -> Table:
    table = Table(title="config check", show_lines=True)
    for column in ("severity", "file", "option", "problem", "fix"):
        table.add_column(column, overflow="fold")
    for f in findings:
        style = "bold red" if f.severity is Severity.ERROR else "yellow"
        table.add_row(Text(f.severity.value, style=style), Text(f.file or "(no file sets it)"),
                      Text(f"[{f.section}] {f.option}"), Text(f.message), Text(f.fix))
    return table


def _check(args: argparse.Namespace) -> int:
    from sriovstack.allinone import open_host
    from sriovstack.host import SysfsDeviceProbe

    findings = check_files(args.files,
                           host=SysfsDeviceProbe(open_host(args.sysfs_root).sysfs))
    out = Console(highlight=False, soft_wrap=args.format == "lines")
    errors = sum(f.severity is Severity.ERROR for f in findings)
    warnings = len(findings) - errors
    if findings and args.format == "table":
        out.print(_table(findings))
    else:
        for finding in findings:
            out.print(str(finding), markup=False)
    out.print(f"{len(args.files)} file(s): {errors} error(s), {warnings} warning(s)",
              markup=False)
    return 1 if errors else 0
