"""Fixtures for the virt seam: a host with the chapter's VFs, and each VirtDriver implementation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.virt.virt_host import make_host

from sriovstack.host.sysfs import RealSysfs
from sriovstack.virt import FakeVirtDriver, VirtDriver


@pytest.fixture
def host(tmp_path: Path) -> RealSysfs:
    return make_host(tmp_path / "host")


@pytest.fixture
def fake_driver(tmp_path: Path, host: RealSysfs) -> FakeVirtDriver:
    return FakeVirtDriver(tmp_path / "state", host)


def _libvirt_driver(host: RealSysfs) -> Iterator[VirtDriver]:
    pytest.importorskip("libvirt", reason="libvirt-python not installed (sriovstack[libvirt])")
    from sriovstack.virt import LibvirtDriver

    driver = LibvirtDriver(host, "test:///default", domain_type="test")
    yield driver
    # test:///default keeps its domains while any connection to it is open: leave none of ours.
    for guest in driver.list_guests():
        driver.destroy(guest.server_id)
    driver.close()


@pytest.fixture(params=["fake", "libvirt-test"])
def driver(request: pytest.FixtureRequest, tmp_path: Path, host: RealSysfs) -> Iterator[VirtDriver]:
    """Each VirtDriver implementation: the fake always, libvirt on test:///default when present."""
    if request.param == "fake":
        yield FakeVirtDriver(tmp_path / "state", host)
    else:
        yield from _libvirt_driver(host)
