"""The ``sriovstack`` command: argument parsing and dispatch to one module per command group.

Each group module exposes ``register(subparsers)``; handlers return an exit code.  Errors from
the error tree become one clear line on stderr and a non-zero exit, never a traceback: 2 for
bad input (a usage error, ConfigError, Invalid), 1 for everything else.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from sriovstack.cli.inputs import CommandParser, sriovstack_version
from sriovstack.errors import ConfigError, Invalid, SriovstackError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    from sriovstack.cli import agent as agent_cmd
    from sriovstack.cli import allinone as allinone_cmd
    from sriovstack.cli import api as api_cmd
    from sriovstack.cli import cloud as cloud_cmd
    from sriovstack.cli import demo as demo_cmd
    from sriovstack.cli import config as config_cmd
    from sriovstack.cli import guest as guest_cmd
    from sriovstack.cli import host as host_cmd
    from sriovstack.cli import qemu as qemu_cmd

    parser = CommandParser(
        prog="sriovstack",
        description="SR-IOV Virtual Functions for virtual machines: host checks, VF creation, "
        "whitelists, networks, scheduling and attachment.",
    )
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {sriovstack_version()}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (host_cmd, config_cmd, api_cmd, agent_cmd, allinone_cmd, cloud_cmd, demo_cmd,
                   guest_cmd, qemu_cmd):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        err.print(f"[bold red]config error:[/] {escape(str(exc))}")
        return 2
    except Invalid as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        return 2
    except SriovstackError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        return 1
    except BrokenPipeError:  # the reader (| head) has gone: stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:  # a file or device the command met refused: name it, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        err.print(f"[bold red]error:[/] {escape(where + (exc.strerror or str(exc)))}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
