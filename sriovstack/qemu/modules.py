"""Kernel modules of the guest image: what each ``.ko`` depends on (read from its ELF
``.modinfo`` section, as modinfo does) and the order to load a set of them in.

Debian's linux-image package ships plain ``.ko`` files but no ``modules.dep`` (depmod writes
it at install time), so the image builder reads the dependencies off the modules themselves.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from sriovstack.errors import HostError, NotFound

__all__ = ["module_name", "modinfo", "index_modules", "load_order"]


def module_name(filename: str) -> str:
    """The kernel's name of a module file: ``i2c-algo-bit.ko`` -> ``i2c_algo_bit``."""
    return filename.split(".ko", 1)[0].replace("-", "_")


def _section(data: bytes, wanted: bytes) -> bytes:
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise HostError("not a 64-bit little-endian ELF module", fix="use an amd64 kernel")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def header(i: int) -> tuple[int, int, int]:
        base = shoff + i * shentsize
        name, = struct.unpack_from("<I", data, base)
        offset, size = struct.unpack_from("<QQ", data, base + 0x18)
        return name, offset, size

    _, str_off, _ = header(shstrndx)
    for i in range(shnum):
        name, offset, size = header(i)
        end = data.index(b"\0", str_off + name)
        if data[str_off + name:end] == wanted:
            return data[offset:offset + size]
    return b""


def modinfo(data: bytes) -> dict[str, str]:
    """The ``key=value`` strings of a module's ``.modinfo`` section (the last one wins)."""
    fields: dict[str, str] = {}
    for entry in _section(data, b".modinfo").split(b"\0"):
        key, sep, value = entry.decode("utf-8", "replace").partition("=")
        if sep:
            fields[key] = value
    return fields


def index_modules(tree: Path) -> dict[str, Path]:
    """Every module under ``tree`` (``lib/modules/<version>``) by its kernel name."""
    return {module_name(p.name): p for p in sorted(tree.rglob("*.ko"))}


def load_order(wanted: Iterable[str],
               depends_of: Callable[[str], Sequence[str] | None]) -> list[str]:
    """``wanted`` and everything they depend on, each after its dependencies (insmod order).

    ``depends_of(name)`` gives the names a module needs, or None when there is no such module
    (read lazily: only the modules visited are opened).  Raises NotFound for a missing one."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in seen:
            return
        needs = depends_of(name)
        if needs is None:
            raise NotFound(f"kernel module {name} is not in the kernel package",
                           field="module", value=name, path=" <- ".join(chain))
        seen.add(name)
        for dep in needs:
            visit(dep, (*chain, dep))
        order.append(name)

    for name in wanted:
        visit(name, (name,))
    return order
