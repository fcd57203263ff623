"""The sysfs seam: every read and write of a host's /sys and /proc goes through ``SysfsIO``.

Paths are absolute host paths ("/sys/bus/pci/devices/0000:0b:00.0/sriov_numvfs"); the
implementation joins them under its root prefix, so the same discovery code reads the real
``/`` or a fixture tree.  ``RealSysfs`` passes OSError through untouched; the simulated kernel
(``simulated/kernel.py``) raises the same errnos the Linux kernel does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, runtime_checkable

from sriovstack.errors import HostError

__all__ = ["SysfsIO", "RealSysfs", "read_required"]


@runtime_checkable
class SysfsIO(Protocol):
    """Read and write one host's sysfs/procfs under a root prefix."""

    root: Path

    def read(self, path: str) -> str:
        """The file's text with surrounding white space stripped; OSError as the kernel gives it."""
        ...

    def write(self, path: str, text: str) -> None:
        """Write ``text`` to a sysfs control file; OSError (EINVAL, EBUSY, …) as the kernel gives it."""
        ...

    def readlink(self, path: str) -> str:
        """The target of a symlink, as written (relative links stay relative)."""
        ...

    def listdir(self, path: str) -> list[str]:
        ...

    def exists(self, path: str) -> bool:
        ...


class RealSysfs:
    """Plain file access under ``root`` (``/`` on a real host)."""

    def __init__(self, root: str | Path = "/") -> None:
        self.root = Path(root)

    def _p(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def read(self, path: str) -> str:
        with open(self._p(path), encoding="utf-8", errors="replace") as fh:
            return fh.read().strip()

    def write(self, path: str, text: str) -> None:
        # One write() call, as `echo N > file` does: sysfs stores act on each write.
        with open(self._p(path), "w", encoding="ascii") as fh:
            fh.write(text)

    def readlink(self, path: str) -> str:
        return os.readlink(self._p(path))

    def listdir(self, path: str) -> list[str]:
        return os.listdir(self._p(path))

    def exists(self, path: str) -> bool:
        return os.path.lexists(self._p(path))


def read_required(sysfs: SysfsIO, path: str) -> str:
    """``sysfs.read(path)`` for a file the caller cannot do without: HostError naming the file
    and carrying the errno when it cannot be read."""
    try:
        return sysfs.read(path)
    except OSError as exc:
        raise HostError(f"cannot read {path}: {exc.strerror}", path=path,
                        errno=exc.errno) from exc
