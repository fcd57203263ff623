"""The VirtDriver contract: on the fake always, on libvirt's test:///default when installed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest
from tests.virt.virt_host import MISSING_VF, PF, VFS, new_server_id

from sriovstack.errors import Conflict, NotFound, NotSupported, SriovstackError, VirtError
from sriovstack.mac import MacAddress
from sriovstack.pci.address import PciAddress
from sriovstack.virt import Guest, GuestSpec, VfInterface, VirtDriver

_T = TypeVar("_T")
_VIR_ERR_NO_SUPPORT = 3  # libvirt's virErrorNumber for "not supported by the connection driver"


def vf(address: PciAddress, port: str, vlan: int = 15,
       mac: str = "fa:16:3e:11:22:33") -> VfInterface:
    return VfInterface(pci_address=address, mac=MacAddress(mac), vlan=vlan, port_id=port)


def spec(server_id: str, *vfs: VfInterface) -> GuestSpec:
    return GuestSpec(server_id=server_id, name="webserver01", vcpus=1, memory_mb=512,
                     interfaces=vfs)


def hotplug(call: Callable[[], _T]) -> _T:
    """Run a hot-plug call; skip when the driver (libvirt's test driver) cannot hot-plug."""
    try:
        return call()
    except VirtError as exc:
        if exc.libvirt_code == _VIR_ERR_NO_SUPPORT:
            pytest.skip("libvirt's test:///default driver does not implement device hot-plug")
        raise


def test_driver_satisfies_the_protocol(driver: VirtDriver) -> None:
    assert isinstance(driver, VirtDriver)


def test_spawn_starts_the_guest_with_its_vfs_as_asked(driver: VirtDriver) -> None:
    sid = new_server_id()
    vfs = (vf(VFS[0], "port-a", vlan=15, mac="fa:16:3e:00:00:0a"),
           vf(VFS[1], "port-b", vlan=0, mac="fa:16:3e:00:00:0b"))
    guest = driver.spawn(spec(sid, *vfs))
    assert guest == Guest(server_id=sid, running=True, interfaces=vfs)
    assert driver.get_guest(sid) == guest
    assert guest.domain_name == f"sriovstack-{sid}"


def test_list_guests_shows_only_ours_sorted(driver: VirtDriver) -> None:
    ids = sorted(new_server_id() for _ in range(3))
    for i, sid in enumerate(reversed(ids)):
        driver.spawn(spec(sid, vf(VFS[i], f"port-{i}")))
    assert [g.server_id for g in driver.list_guests()] == ids


def test_a_server_gets_one_guest(driver: VirtDriver) -> None:
    sid = new_server_id()
    driver.spawn(spec(sid, vf(VFS[0], "port-a")))
    with pytest.raises(Conflict, match=sid):
        driver.spawn(spec(sid, vf(VFS[1], "port-b")))
    assert driver.get_guest(sid).interfaces == (vf(VFS[0], "port-a"),)


def test_a_vf_held_by_one_guest_cannot_boot_another(driver: VirtDriver) -> None:
    first, second = new_server_id(), new_server_id()
    driver.spawn(spec(first, vf(VFS[2], "port-a")))
    with pytest.raises(Conflict, match=f"{VFS[2]} is already attached to server {first}"):
        driver.spawn(spec(second, vf(VFS[3], "port-b"), vf(VFS[2], "port-c")))
    with pytest.raises(NotFound):
        driver.get_guest(second)


@pytest.mark.parametrize("twice", [
    pytest.param((vf(VFS[0], "port-a"), vf(VFS[0], "port-b")), id="same-vf"),
    pytest.param((vf(VFS[0], "port-a"), vf(VFS[1], "port-a")), id="same-port"),
])
def test_a_spec_naming_a_vf_or_port_twice_is_refused(driver: VirtDriver,
                                                    twice: tuple[VfInterface, ...]) -> None:
    sid = new_server_id()
    with pytest.raises(Conflict, match="asked for twice"):
        driver.spawn(spec(sid, *twice))
    assert driver.list_guests() == ()


@pytest.mark.parametrize(("address", "error", "says"), [
    (MISSING_VF, NotFound, "does not exist on this host"),
    (PF, NotSupported, "is not an SR-IOV VF"),
])
def test_spawn_needs_a_vf_that_exists_on_the_host(driver: VirtDriver, address: PciAddress,
                                                  error: type[SriovstackError], says: str) -> None:
    sid = new_server_id()
    with pytest.raises(error, match=says):
        driver.spawn(spec(sid, vf(address, "port-a")))
    with pytest.raises(NotFound):
        driver.get_guest(sid)


def test_destroy_returns_the_vfs_and_frees_them(driver: VirtDriver) -> None:
    first, second = new_server_id(), new_server_id()
    held = vf(VFS[4], "port-a", vlan=20)
    driver.spawn(spec(first, held))
    assert driver.destroy(first) == (held,)
    with pytest.raises(NotFound, match=first):
        driver.get_guest(first)
    assert driver.spawn(spec(second, vf(VFS[4], "port-b"))).running


@pytest.mark.parametrize("call", [
    pytest.param(lambda d, sid: d.destroy(sid), id="destroy"),
    pytest.param(lambda d, sid: d.get_guest(sid), id="get_guest"),
    pytest.param(lambda d, sid: d.attach_vf(sid, vf(VFS[0], "port-a")), id="attach_vf"),
    pytest.param(lambda d, sid: d.detach_vf(sid, "port-a"), id="detach_vf"),
])
def test_an_unknown_server_is_not_found(driver: VirtDriver,
                                        call: Callable[[VirtDriver, str], object]) -> None:
    sid = new_server_id()
    with pytest.raises(NotFound, match=f"no guest for server {sid}"):
        call(driver, sid)


def test_attach_adds_the_vf_to_the_guest(driver: VirtDriver) -> None:
    sid = new_server_id()
    driver.spawn(spec(sid, vf(VFS[0], "port-a")))
    hotplug(lambda: driver.attach_vf(sid, vf(VFS[5], "port-b", vlan=16)))
    assert driver.get_guest(sid).interfaces == (vf(VFS[0], "port-a"), vf(VFS[5], "port-b", vlan=16))


def test_attach_of_a_vf_another_guest_holds_is_refused(driver: VirtDriver) -> None:
    first, second = new_server_id(), new_server_id()
    driver.spawn(spec(first, vf(VFS[6], "port-a")))
    driver.spawn(spec(second))
    with pytest.raises(Conflict, match=f"already attached to server {first}"):
        driver.attach_vf(second, vf(VFS[6], "port-b"))
    assert driver.get_guest(second).interfaces == ()


def test_attach_of_a_port_already_attached_is_refused(driver: VirtDriver) -> None:
    sid = new_server_id()
    driver.spawn(spec(sid, vf(VFS[0], "port-a")))
    with pytest.raises(Conflict, match="port port-a is already attached"):
        driver.attach_vf(sid, vf(VFS[1], "port-a"))


@pytest.mark.parametrize(("address", "error"), [(MISSING_VF, NotFound), (PF, NotSupported)])
def test_attach_needs_a_vf_that_exists_on_the_host(driver: VirtDriver, address: PciAddress,
                                                   error: type[SriovstackError]) -> None:
    sid = new_server_id()
    driver.spawn(spec(sid))
    with pytest.raises(error, match=str(address)):
        driver.attach_vf(sid, vf(address, "port-a"))
    assert driver.get_guest(sid).interfaces == ()


def test_detach_returns_the_vf_and_removes_it(driver: VirtDriver) -> None:
    sid = new_server_id()
    a, b = vf(VFS[7], "port-a", vlan=17), vf(VFS[8], "port-b", vlan=0)
    driver.spawn(spec(sid, a, b))
    assert hotplug(lambda: driver.detach_vf(sid, "port-a")) == a
    assert driver.get_guest(sid).interfaces == (b,)


def test_detach_of_a_port_not_attached_is_not_found(driver: VirtDriver) -> None:
    sid = new_server_id()
    driver.spawn(spec(sid, vf(VFS[0], "port-a")))
    with pytest.raises(NotFound, match=r"port port-x is not attached .*attached ports: port-a"):
        driver.detach_vf(sid, "port-x")
    assert driver.get_guest(sid).interfaces == (vf(VFS[0], "port-a"),)
