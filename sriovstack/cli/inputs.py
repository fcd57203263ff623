"""Command-line input checked at the edge: argparse ``type=`` validators for host roots, input
files and counts, and the parser that reports any bad argument as one line with exit 2.

Every command takes its paths through these, so a missing root or a missing, unreadable or
binary file is named with its option and the fix before the command does or prints anything.
"""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import NoReturn

__all__ = ["CommandParser", "host_root", "text_file", "vf_count", "positive_int",
           "positive_float", "quota_limit", "sriovstack_version"]

_PCI_DEVICES = Path("sys/bus/pci/devices")


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (exit 2): the command, the
    problem naming the option, and where the help is.  Subcommand parsers inherit it."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def sriovstack_version() -> str:
    """The installed distribution's version ("unknown" when run from a bare source tree)."""
    try:
        return version("sriovstack")
    except PackageNotFoundError:
        return "unknown"


def host_root(text: str) -> Path:
    """A host root: a directory with sys/bus/pci/devices under it (``/`` or a tree from
    ``sriovstack host simulate``)."""
    root = Path(text)
    fix = "pass / for this host, or a tree built by `sriovstack host simulate --root DIR`"
    if not root.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: no such directory; {fix}")
    if not (root / _PCI_DEVICES).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a host root (no {_PCI_DEVICES} under "
                                         f"it); {fix}")
    return root


def text_file(text: str) -> Path:
    """An existing, readable UTF-8 text file (config files, topologies, credentials)."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file; give the path of an "
                                         "existing file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a regular file; give a file, not a "
                                         "directory")
    try:
        path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{text}: cannot read ({exc.strerror}); check its "
                                         "permissions") from None
    except UnicodeDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{text} is not a text file (byte {exc.start} is not "
                                         "UTF-8); give the text file itself") from None
    return path


def _number(text: str, kind: type[int] | type[float], what: str) -> int | float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def vf_count(text: str) -> int:
    """A VF count: a whole number, 0 or more."""
    value = int(_number(text, int, "a whole number"))
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 or more")
    return value


def positive_int(text: str) -> int:
    """A whole number of 1 or more."""
    value = int(_number(text, int, "a whole number"))
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1; give 1 or more")
    return value


def whole_seconds(text: str) -> int:
    """A number of seconds: a whole number, 0 or more (0 often means off)."""
    value = int(_number(text, int, "a whole number of seconds"))
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 (off) or more seconds")
    return value


def quota_limit(text: str) -> int:
    """A quota limit: a whole number, 0 or more, or -1 for unlimited."""
    value = int(_number(text, int, "a whole number"))
    if value < -1:
        raise argparse.ArgumentTypeError(f"{value} is below -1; give -1 (unlimited) or more")
    return value


def positive_float(text: str) -> float:
    """A number greater than 0 (seconds, for instance)."""
    value = float(_number(text, float, "a number"))
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not above 0; give a positive number")
    return value

