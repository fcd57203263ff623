"""The image `sriovstack qemu image build` caches: Debian's kernel and a busybox initramfs
holding the modules the guest's /init loads (real packages; the qemu tier)."""

from __future__ import annotations

import gzip
import stat

import pytest

from sriovstack.cli.main import main
from sriovstack.qemu import GUEST_MODULES, Image
from tests.qemu.test_image_parts import read_newc

pytestmark = pytest.mark.qemu


def test_the_image_holds_debians_kernel_busybox_and_the_modules_in_load_order(
        qemu_image: Image) -> None:
    names = [p.name for p in qemu_image.packages]
    assert names[0].startswith("linux-image-6.1.0-") and names[1] == "busybox-static"
    assert qemu_image.kernel.read_bytes()[0x202:0x206] == b"HdrS"  # a bzImage boot header
    members = {name: (mode, body) for name, mode, body, _ in
               read_newc(gzip.decompress(qemu_image.initrd.read_bytes()))}
    assert "init" not in members  # each boot appends the current one (test_guest.py)
    assert stat.S_ISREG(members["bin/busybox"][0]) and members["bin/busybox"][0] & 0o111
    assert members["bin/sh"] == (stat.S_IFLNK | 0o777, b"busybox")
    listed = members["modules.list"][1].decode().split()
    assert listed == list(qemu_image.modules)
    assert set(GUEST_MODULES) <= set(listed)
    assert listed.index("dca") < listed.index("igb") and listed.index("garp") < listed.index(
        "8021q")
    assert all(members[f"modules/{m}.ko"][1][:4] == b"\x7fELF" for m in listed)


def test_image_show_names_what_was_downloaded(
        qemu_image: Image, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qemu", "image", "show", "--cache-dir", str(qemu_image.directory.parent)]) == 0
    out = capsys.readouterr().out
    for package in qemu_image.packages:
        assert f"package {package.name}" in out and package.version in out
    assert f"{len(qemu_image.modules)}: dca" in out
