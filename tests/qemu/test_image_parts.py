"""The pure parts of the guest image: the newc archive the kernel unpacks, the modules'
``.modinfo`` and their load order, the backports apt source."""

from __future__ import annotations

import stat
import struct
from pathlib import Path

import pytest

from sriovstack.errors import HostError, NotFound
from sriovstack.qemu.cpio import CpioEntry, write_newc
from sriovstack.qemu.install import backports_source, plan_install
from sriovstack.qemu.modules import load_order, modinfo, module_name


def read_newc(data: bytes) -> list[tuple[str, int, bytes, tuple[int, int]]]:
    """A reader written from the newc spec, independent of the writer."""
    out, pos = [], 0
    while True:
        assert data[pos:pos + 6] == b"070701", pos
        fields = [int(data[pos + 6 + 8 * i:pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, rmaj, rmin, namesize = fields[1], fields[6], fields[9], fields[10], fields[11]
        name = data[pos + 110:pos + 110 + namesize - 1].decode()
        pos += 110 + namesize
        pos += -pos % 4
        body = data[pos:pos + size]
        pos += size
        pos += -pos % 4
        if name == "TRAILER!!!":
            assert pos == len(data)
            return out
        out.append((name, mode, body, (rmaj, rmin)))


def test_newc_round_trips_dirs_files_links_and_the_console_node() -> None:
    entries = [CpioEntry("bin", stat.S_IFDIR | 0o755),
               CpioEntry("bin/busybox", stat.S_IFREG | 0o755, b"\x7fELF" + b"x" * 5),
               CpioEntry("bin/sh", stat.S_IFLNK | 0o777, b"busybox"),
               CpioEntry("/dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))]
    got = read_newc(write_newc(entries))
    assert got == [("bin", stat.S_IFDIR | 0o755, b"", (0, 0)),
                   ("bin/busybox", stat.S_IFREG | 0o755, b"\x7fELFxxxxx", (0, 0)),
                   ("bin/sh", stat.S_IFLNK | 0o777, b"busybox", (0, 0)),
                   ("dev/console", stat.S_IFCHR | 0o600, b"", (5, 1))]


def elf_with_modinfo(modinfo_bytes: bytes) -> bytes:
    """A minimal ELF64 file: null section, .modinfo, .shstrtab (section headers at the end)."""
    shstr = b"\0.modinfo\0.shstrtab\0"
    body = modinfo_bytes + shstr
    shoff = 64 + len(body)
    header = (b"\x7fELF\x02\x01\x01" + b"\0" * 9
              + struct.pack("<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, 3, 2))

    def sh(name: int, offset: int, size: int) -> bytes:
        return struct.pack("<IIQQQQIIQQ", name, 1, 0, 0, offset, size, 0, 0, 1, 0)

    return header + body + sh(0, 0, 0) + sh(1, 64, len(modinfo_bytes)) + sh(
        10, 64 + len(modinfo_bytes), len(shstr))


def test_modinfo_reads_the_depends_of_a_module() -> None:
    data = elf_with_modinfo(b"license=GPL\0depends=dca,i2c-algo-bit\0intree=Y\0")
    assert modinfo(data) == {"license": "GPL", "depends": "dca,i2c-algo-bit", "intree": "Y"}


def test_modinfo_refuses_what_is_not_a_64_bit_elf() -> None:
    with pytest.raises(HostError, match="64-bit little-endian ELF"):
        modinfo(b"\x7fELF\x01\x01" + b"\0" * 60)


def test_module_names_use_underscores_as_the_kernel_does() -> None:
    assert module_name("i2c-algo-bit.ko") == "i2c_algo_bit"
    assert module_name("9pnet_virtio.ko") == "9pnet_virtio"


# igb needs dca and i2c_algo_bit; 8021q needs garp and mrp, garp needs stp and llc.
DEPENDS = {"igb": ["dca", "i2c_algo_bit"], "dca": [], "i2c_algo_bit": [], "igbvf": [],
           "8021q": ["garp", "mrp"], "garp": ["stp", "llc"], "stp": ["llc"], "llc": [],
           "mrp": []}


def test_load_order_puts_every_dependency_first_and_each_module_once() -> None:
    order = load_order(["igb", "igbvf", "8021q", "igb"], DEPENDS.get)
    assert order == ["dca", "i2c_algo_bit", "igb", "igbvf", "llc", "stp", "garp", "mrp", "8021q"]


def test_load_order_names_a_missing_module_and_who_needs_it() -> None:
    with pytest.raises(NotFound, match="kernel module nope") as info:
        load_order(["8021q"], {**DEPENDS, "mrp": ["nope"]}.get)
    assert info.value.path == "8021q <- mrp <- nope"


DEBIAN_SOURCES = """\
Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_backports_use_the_mirror_the_machine_already_uses() -> None:
    text = backports_source(DEBIAN_SOURCES)
    assert "URIs: http://mirror.example/debian\n" in text
    assert "Suites: bookworm-backports\n" in text


def test_backports_fall_back_to_deb_debian_org() -> None:
    assert "URIs: http://deb.debian.org/debian\n" in backports_source(None)


def test_the_plan_installs_qemu_from_backports_without_recommends(tmp_path: Path) -> None:
    sources = tmp_path / "debian.sources"
    sources.write_text(DEBIAN_SOURCES)
    target = tmp_path / "backports.sources"
    plan = plan_install(target, sources)
    assert plan.write_source
    assert plan.commands[-1] == ("apt-get", "install", "-y", "-t", "bookworm-backports",
                                 "--no-install-recommends", "qemu-system-x86")
    target.write_text(plan.source_text)
    assert not plan_install(target, sources).write_source
    assert plan_install(target, sources).describe()[0] == f"keep {target}"
