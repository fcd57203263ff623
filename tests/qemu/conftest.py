"""The real-kernel tier: one guest image per machine (cached), built through the CLI when
missing; skipped, with the reason, where QEMU 10 with igb and intel-iommu is not installed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from sriovstack.cli.main import main
from sriovstack.cli.qemu import DEFAULT_CACHE
from sriovstack.errors import NotFound
from sriovstack.qemu import Guest, Image, find_guest, installed_qemu, load_image, stop


def qemu_missing() -> str | None:
    """Why the tier cannot run here, or None."""
    info = installed_qemu()
    if info is None:
        return "qemu-system-x86_64 is not installed (sriovstack qemu install; .ci/run does it)"
    if not info.usable:
        return f"QEMU {info.version} lacks igb or intel-iommu (needs QEMU 10 from backports)"
    if shutil.which("apt-get") is None:
        return "no apt-get to download Debian's kernel"
    return None


@pytest.fixture(scope="session")
def qemu_image() -> Image:
    """The cached guest image, built with `sriovstack qemu image build` when missing."""
    reason = qemu_missing()
    if reason is not None:
        pytest.skip(reason)
    try:
        return load_image(DEFAULT_CACHE / "image")
    except NotFound:
        assert main(["qemu", "image", "build", "--cache-dir", str(DEFAULT_CACHE)]) == 0
        return load_image(DEFAULT_CACHE / "image")


@pytest.fixture(scope="package")
def qemu_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("qemu-guests")


GUEST = "qtest0"


@pytest.fixture(scope="package")
def qemu_guest(qemu_image: Image, qemu_run_dir: Path) -> Iterator[Guest]:
    """ONE guest for the tier (booting takes 20-60 s under TCG): two emulated 82576 ports,
    the IOMMU on, booted through `sriovstack qemu boot`; stopped once the tier's last test ran
    (a package fixture: the worker goes on with other tests, and an idle TCG guest still costs
    a few per cent of a core and 1 GB)."""
    assert main(["qemu", "boot", "--name", GUEST, "--ports", "2", "--cache-dir",
                 str(qemu_image.directory.parent), "--guests-dir", str(qemu_run_dir)]) == 0
    guest = find_guest(qemu_run_dir, GUEST)
    yield guest
    stop(qemu_run_dir, guest)
