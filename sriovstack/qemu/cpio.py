"""The initramfs archive: cpio's ``newc`` format (the one the kernel unpacks), written in
Python because the image build must not depend on a cpio binary."""

from __future__ import annotations

import stat
from dataclasses import dataclass

__all__ = ["CpioEntry", "write_newc"]


@dataclass(frozen=True, slots=True)
class CpioEntry:
    """One archive member: a directory, a regular file, a symlink (``data`` is its target)
    or a character device (``rdev`` = (major, minor))."""

    name: str
    mode: int
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)


def _pad(n: int) -> bytes:
    return b"\0" * (-n % 4)


def _member(ino: int, entry: CpioEntry) -> bytes:
    name = entry.name.lstrip("/").encode() + b"\0"
    nlink = 2 if stat.S_ISDIR(entry.mode) else 1
    fields = (ino, entry.mode, 0, 0, nlink, 0, len(entry.data), 0, 0, entry.rdev[0],
              entry.rdev[1], len(name), 0)
    header = b"070701" + b"".join(b"%08X" % f for f in fields)
    return header + name + _pad(len(header) + len(name)) + entry.data + _pad(len(entry.data))


def write_newc(entries: list[CpioEntry]) -> bytes:
    """The newc archive of ``entries`` (in order; parents before children), with its
    ``TRAILER!!!``."""
    members = [_member(ino, e) for ino, e in enumerate(entries, start=1)]
    members.append(_member(0, CpioEntry("TRAILER!!!", 0)))
    return b"".join(members)
