"""LibvirtDriver on libvirt's test:///default: real libvirt calls, errors translated at the seam."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.virt.virt_host import VFS, new_server_id

from sriovstack.errors import NotFound, VirtError
from sriovstack.host.sysfs import RealSysfs
from sriovstack.mac import MacAddress
from sriovstack.virt import GuestSpec, VfInterface

libvirt = pytest.importorskip("libvirt",
                              reason="libvirt-python not installed (sriovstack[libvirt])")

from sriovstack.virt import LibvirtDriver  # noqa: E402


@pytest.fixture
def lv(host: RealSysfs) -> Iterator[LibvirtDriver]:
    driver = LibvirtDriver(host, "test:///default", domain_type="test")
    yield driver
    for guest in driver.list_guests():
        driver.destroy(guest.server_id)
    driver.close()


def _spec(sid: str, *vfs: VfInterface) -> GuestSpec:
    return GuestSpec(sid, "webserver01", 1, 512, vfs)


def test_domains_not_named_by_us_are_left_out(lv: LibvirtDriver) -> None:
    # test:///default always has a domain called "test"; it is not a server of ours.
    conn = libvirt.open("test:///default")
    try:
        assert "test" in [d.name() for d in conn.listAllDomains(0)]
    finally:
        conn.close()
    assert lv.list_guests() == ()


def test_the_guest_is_a_running_persistent_domain_with_the_hostdev(lv: LibvirtDriver) -> None:
    sid = new_server_id()
    lv.spawn(_spec(sid, VfInterface(VFS[0], MacAddress("fa:16:3e:00:00:01"), 15, "port-a")))
    conn = libvirt.open("test:///default")
    try:
        dom = conn.lookupByUUIDString(sid)
        assert dom.name() == f"sriovstack-{sid}"
        assert dom.isActive() and dom.isPersistent()
        assert "ua-sriov-port-a" in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    finally:
        conn.close()


def test_destroy_stops_and_undefines(lv: LibvirtDriver) -> None:
    sid = new_server_id()
    lv.spawn(_spec(sid))
    lv.destroy(sid)
    conn = libvirt.open("test:///default")
    try:
        with pytest.raises(libvirt.libvirtError):
            conn.lookupByUUIDString(sid)
    finally:
        conn.close()


def test_a_libvirt_refusal_becomes_a_virt_error_and_defines_nothing(host: RealSysfs) -> None:
    driver = LibvirtDriver(host, "test:///default", domain_type="no-such-hypervisor")
    sid = new_server_id()
    try:
        with pytest.raises(VirtError, match=f"libvirt could not define sriovstack-{sid}") as err:
            driver.spawn(_spec(sid))
        assert err.value.operation == "define" and err.value.libvirt_code
        assert not isinstance(err.value.__cause__, VirtError)
        with pytest.raises(NotFound):
            driver.get_guest(sid)
    finally:
        driver.close()


def test_hot_plug_works_or_is_a_virt_error_naming_the_vf_and_domain(lv: LibvirtDriver) -> None:
    sid = new_server_id()
    lv.spawn(_spec(sid))
    vf = VfInterface(VFS[1], MacAddress("fa:16:3e:00:00:02"), 16, "port-b")
    try:
        lv.attach_vf(sid, vf)
    except VirtError as exc:
        # libvirt 9's test driver has no virDomainAttachDeviceFlags.
        assert f"attach VF {VFS[1]} (port port-b) to sriovstack-{sid}" in str(exc)
        assert exc.libvirt_code == libvirt.VIR_ERR_NO_SUPPORT
    else:
        assert lv.get_guest(sid).interfaces == (vf,)


def test_a_bad_connection_uri_is_a_virt_error(host: RealSysfs) -> None:
    with pytest.raises(VirtError, match="libvirt could not connect to test:///no/such/file.xml"):
        LibvirtDriver(host, "test:///no/such/file.xml")
