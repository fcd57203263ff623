"""VfInterface and GuestSpec take only values libvirt and the kernel accept; errors say why."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from sriovstack.errors import Invalid
from sriovstack.mac import MacAddress
from sriovstack.pci.address import PciAddress
from sriovstack.virt import GuestSpec, VfInterface
from sriovstack.virt.types import domain_name, server_id_of

ADDR = PciAddress.parse("0000:0b:10.1")
SID = "721d555e-c2e8-4988-a66f-f7cbe493afdb"
MAC = MacAddress("fa:16:3e:00:00:01")


def test_a_mac_given_as_text_is_refused() -> None:
    # Text is parsed once at the edge (MacAddress.parse); the VF takes only the value.
    with pytest.raises(Invalid, match="not a MacAddress") as err:
        VfInterface(ADDR, "fa:16:3e:ab:cd:ef", 15, "p")  # type: ignore[arg-type]
    assert err.value.field == "mac"


@pytest.mark.parametrize(("mac", "says"), [
    ("01:00:5e:00:00:01", "multicast"),       # IPv4 multicast: a VF needs unicast
    ("ff:ff:ff:ff:ff:ff", "multicast"),
    ("00:00:00:00:00:00", "reset value"),     # what the agent writes on release
])
def test_bad_macs_are_refused(mac: str, says: str) -> None:
    with pytest.raises(Invalid, match=says) as err:
        VfInterface(ADDR, MacAddress(mac), 15, "p")
    assert (err.value.field, err.value.value) == ("mac", mac)


@pytest.mark.parametrize("vlan", [0, 1, 15, 20, 4094])
def test_vlans_of_802_1q_are_taken(vlan: int) -> None:
    assert VfInterface(ADDR, MAC, vlan, "p").vlan == vlan


@pytest.mark.parametrize("vlan", [-1, 4095, 5000, True, "15"])
def test_vlans_outside_802_1q_are_refused(vlan: Any) -> None:
    with pytest.raises(Invalid, match="expected 0 for flat, or a VLAN id 1-4094") as err:
        VfInterface(ADDR, MAC, vlan, "p")
    assert err.value.field == "vlan"


@pytest.mark.parametrize("port_id", ["", "a b", "x" * 65, "a'b", "p/1", "p<1>"])
def test_port_ids_that_cannot_name_an_alias_are_refused(port_id: str) -> None:
    with pytest.raises(Invalid, match="cannot name a libvirt alias"):
        VfInterface(ADDR, MAC, 0, port_id)


def test_alias_is_stable_per_port() -> None:
    assert VfInterface(ADDR, MAC, 0, SID).alias == f"ua-sriov-{SID}"


@pytest.mark.parametrize(("field", "value", "says"), [
    ("server_id", "srv1", "not a lower-case UUID"),
    ("server_id", SID.upper(), "not a lower-case UUID"),
    ("server_id", SID.replace("-", ""), "not a lower-case UUID"),
    ("name", "", "1-255 printable"),
    ("name", "web\nserver", "1-255 printable"),
    ("name", "x" * 256, "1-255 printable"),
    ("vcpus", 0, "positive integer"),
    ("memory_mb", -512, "positive integer"),
    ("memory_mb", 1.5, "positive integer"),
])
def test_bad_guest_specs_are_refused(field: str, value: Any, says: str) -> None:
    fields: dict[str, Any] = {"server_id": SID, "name": "webserver01", "vcpus": 1,
                              "memory_mb": 512, field: value}
    with pytest.raises(Invalid, match=says) as err:
        GuestSpec(**fields)
    assert err.value.field == field


def test_domain_names_round_trip_and_foreign_names_are_not_ours() -> None:
    assert domain_name(SID) == f"sriovstack-{SID}"
    assert server_id_of(domain_name(SID)) == SID
    assert server_id_of("test") is None
    assert server_id_of("sriovstack-not-a-uuid") is None
    assert server_id_of(f"instance-{SID}") is None


def test_libvirt_driver_without_libvirt_python_says_how_to_install(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from sriovstack.errors import NotSupported
    from sriovstack.host.sysfs import RealSysfs
    from sriovstack.virt import LibvirtDriver

    monkeypatch.setitem(sys.modules, "libvirt", None)  # as if it were not installed
    with pytest.raises(NotSupported, match="needs libvirt-python") as err:
        LibvirtDriver(RealSysfs(tmp_path))
    assert "pip install 'sriovstack[libvirt]'" in (err.value.fix or "")
