"""Matching devices against device specs: nova's rules (nova_pci.md §1.3, §1.4), through both
the nova-style dict path and the typed path, and the PF rule on a sysfs fixture tree."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sriovstack.errors import Invalid
from sriovstack.host import device_probe
from sriovstack.pci import (NO_HOST, DeviceProbe, DevType, PciAddress, PciDevice,
                            parse_device_specs)
from sriovstack.pci.addrspec import address_key

PF_A = "0000:0a:00.0"   # SR-IOV PF (sriov_totalvfs 8), netdev ens1f0
PF_B = "0000:0b:00.0"   # SR-IOV capable, sriov_totalvfs 0: not a PF
PLAIN = "0000:0c:00.0"  # no SR-IOV at all, netdev eno1


@pytest.fixture
def sysroot(tmp_path: Path) -> Path:
    """A small /sys: two SR-IOV capable functions, a plain NIC, and their netdevs."""
    devices = tmp_path / "sys/bus/pci/devices"
    for addr, total in ((PF_A, "8"), (PF_B, "0"), (PLAIN, None)):
        (devices / addr).mkdir(parents=True)
        if total is not None:
            (devices / addr / "sriov_totalvfs").write_text(total + "\n")
    for name, addr in (("ens1f0", PF_A), ("eno1", PLAIN)):
        link(tmp_path, name, addr)
    (tmp_path / "sys/class/net/lo").mkdir(parents=True)  # no device link, as for lo
    return tmp_path


def link(root: Path, name: str, addr: str) -> None:
    net = root / "sys/class/net" / name
    net.mkdir(parents=True, exist_ok=True)
    os.symlink(f"../../../bus/pci/devices/{addr}", net / "device")  # relative, as sysfs


def dev(address: str, product: str = "154c", parent: str | None = None,
        vendor: str = "8086") -> dict[str, str | None]:
    dev_type = "type-VF" if parent else "type-PCI"
    return {"address": address, "vendor_id": vendor, "product_id": product,
            "dev_type": dev_type, "parent_addr": parent}


def typed(d: dict[str, str | None]) -> PciDevice | None:
    """The same device as a PciDevice, when nova's device parser accepts its address."""
    text = str(d["address"])
    if address_key(text) < 0:
        return None
    parent = PciAddress.parse(d["parent_addr"]) if d["parent_addr"] else None
    return PciDevice(PciAddress.parse(text), str(d["vendor_id"]), str(d["product_id"]),
                     DevType(d["dev_type"]), parent)


def check(values: list[str], device: dict[str, str | None], expected: bool,
          host: DeviceProbe = NO_HOST) -> None:
    specs = parse_device_specs(values, host)
    assert (specs.match(device) is not None) is expected
    obj = typed(device)
    if obj is not None:
        assert (specs.find(obj) is not None) is expected
        assert any(s.matches(obj) for s in specs) is expected


def spec(**fields: object) -> str:
    return json.dumps(fields)


@pytest.mark.parametrize("address, device, expected", [
    # nova's surprising glob alignments
    ("0000:0a", "0000:00:0a.3", True),       # bus 00 slot 0a ...
    ("0000:0a", "0000:0a:00.0", False),      # ... not domain 0000 bus 0a
    ("5", "0000:00:05.0", True),             # slot 05 ...
    ("5", "0001:03:05.7", True),
    ("5", "0000:00:00.5", False),            # ... not function 5
    (".5", "0000:00:00.5", True),
    ("0:a:0.5", "0000:0a:00.5", True),       # normalised fields
    ("0000:0A:00.5", "0000:0a:00.5", True),
    ("*:0a:00.*", "0000:0a:00.3", True),
    ("*:0a:00.*", "0000:0a:01.3", False),
    ("*:0a:*.*", "0007:0a:1f.7", True),
    ("*:0a:*.*", "0007:0b:1f.7", False),
    ("0000:0a:00", "0000:0a:00.7", True),
    (":0a:00.", "0001:0a:00.2", True),
    ("", "0000:00:00.0", True),
    ("ffff:ff:1f.7", "ffff:ff:1f.7", True),
    ("0000:0a:00.1", "0000:0a:00.2", False),
])
def test_glob_addresses(address, device, expected):
    check([spec(address=address)], dev(device), expected)


@pytest.mark.parametrize("address, device, expected", [
    ({"bus": "0"}, "0000:0a:00.0", True),     # anchored at the start only
    ({"bus": "0A"}, "0000:0a:00.0", False),   # case-sensitive
    ({"bus": "0a$"}, "0000:0a:00.0", True),
    ({"slot": "1"}, "0000:00:1f.0", True),
    ({"slot": "1"}, "0000:00:01.0", False),   # the field is zero-padded: "01"
    ({"function": "9"}, "0000:00:00.7", False),  # accepted, never matches
    ({"domain": ".*", "bus": "02", "slot": "01", "function": "[2-7]"}, "0000:02:01.3", True),
    ({"domain": ".*", "bus": "02", "slot": "01", "function": "[2-7]"}, "0000:02:01.1", False),
    ({"domain": "000[0-3]"}, "0003:00:00.0", True),
    ({"domain": "000[0-3]"}, "0004:00:00.0", False),
    ({"domain": "ab"}, "abcd:00:00.0", True),
    ({"bus": "[0-9a-f]{2}", "slot": "0[2-9]"}, "0000:ff:09.0", True),
    ({"bus": "[0-9a-f]{2}", "slot": "0[2-9]"}, "0000:ff:10.0", False),
    ({}, "0000:00:00.0", True),
])
def test_regex_addresses(address, device, expected):
    check([spec(address=address)], dev(device), expected)


@pytest.mark.parametrize("fields, device, expected", [
    ({"vendor_id": "8086", "product_id": "154c"}, dev("0000:0a:02.1"), True),
    ({"vendor_id": "8086", "product_id": "10ca"}, dev("0000:0a:02.1"), False),
    ({"vendor_id": "15B3"}, dev("0000:0a:02.1", vendor="15b3"), True),
    ({"vendor_id": "15b3"}, dev("0000:0a:02.1"), False),
    ({"product_id": "*"}, dev("0000:0a:02.1"), True),
    ({"vendor_id": "86"}, dev("0000:0a:02.1", vendor="0086"), True),
    ({"vendor_id": "-1"}, dev("0000:0a:02.1", vendor="-1"), False),   # never matches
    ({}, dev("0000:0a:02.1"), True),                                   # {} matches everything
    ({"devname": ""}, dev("0000:0a:02.1"), True),                      # empty devname too
])
def test_ids(fields, device, expected):
    check([json.dumps(fields)], device, expected)


@pytest.mark.parametrize("address, expected", [
    ("0000:0A:02.1", True),      # the device side normalises too (nova's strict parser)
    ("0:a:2.1", True),
    ("10000:0a:02.1", False),    # 32-bit domain: matches nothing (bug 1897528)
    ("0000:0a:20.1", False),     # slot over 1f
    ("0000:0a:02.8", False),     # function over 7
    ("0a:02.1", False),          # nova's device parser wants all three ':' fields
    ("garbage", False),
    ("", False),
])
def test_device_addresses_that_do_not_parse_match_nothing(address, expected):
    specs = parse_device_specs(["{}"], NO_HOST)
    assert (specs.match(dev(address)) is not None) is expected


def test_empty_list_matches_nothing_and_no_specs_match_nothing():
    assert parse_device_specs(["[]"], NO_HOST).match(dev("0000:0a:02.1")) is None
    assert parse_device_specs([], NO_HOST).match(dev("0000:0a:02.1")) is None


def test_first_matching_spec_wins_and_its_tags_are_returned():
    specs = parse_device_specs([
        spec(vendor_id="8086", product_id="10ca", physical_network="physnet1"),
        spec(address="*:0a:*.*", physical_network="physnet2", trusted="true"),
        spec(vendor_id="8086", physical_network="physnet3"),
    ], NO_HOST)
    assert specs.match(dev("0000:0a:02.1", "10ca")) == {"physical_network": "physnet1"}
    assert specs.match(dev("0000:0a:02.1")) == {"physical_network": "physnet2",
                                                "trusted": "true"}
    assert specs.match(dev("0000:0b:02.1")) == {"physical_network": "physnet3"}
    assert specs.match(dev("0000:0b:02.1", vendor="15b3")) is None
    device = typed(dev("0000:0a:02.1"))
    assert device is not None
    assert specs.find(device) is specs.specs[1]
    assert specs.match_device(device) == {"physical_network": "physnet2", "trusted": "true"}


def test_returned_tags_are_a_copy():
    specs = parse_device_specs([spec(physical_network="physnet1")], NO_HOST)
    specs.match(dev("0000:0a:02.1"))["physical_network"] = "changed"  # type: ignore[index]
    assert specs.match(dev("0000:0a:02.1")) == {"physical_network": "physnet1"}


def test_a_device_record_without_ids_is_an_invalid_error():
    specs = parse_device_specs(["{}"], NO_HOST)
    with pytest.raises(Invalid, match="vendor_id"):
        specs.match({"address": "0000:0a:02.1", "product_id": "154c"})


# --- the PF rule: a single PF address (or a PF's devname) covers its VFs ---------------------

VF_OF_A = dev("0000:0a:02.1", parent=PF_A)
VF_OF_B = dev("0000:0b:02.1", parent=PF_B)
VF_ELSEWHERE = dev("0000:0d:10.1", parent="0000:0d:00.0")


@pytest.mark.parametrize("fields, device, expected", [
    ({"address": PF_A}, dev(PF_A, "1572"), True),          # the PF itself, reported w/o parent
    ({"address": PF_A}, VF_OF_A, True),                     # its VFs through parent_addr
    ({"address": "0:a:0.0"}, VF_OF_A, True),                # any spelling of the PF address
    ({"address": PF_A}, VF_ELSEWHERE, False),
    ({"address": PF_A}, dev("0000:0a:02.1"), False),        # same bus but no parent
    ({"address": "0000:0a:00.*"}, VF_OF_A, False),          # a wildcard never expands
    ({"address": PF_B}, VF_OF_B, False),                    # sriov_totalvfs 0: not a PF
    ({"address": PF_B}, dev(PF_B), True),
    ({"address": PLAIN}, dev("0000:0c:02.1", parent=PLAIN), False),   # no sriov_totalvfs
    ({"address": {"domain": "0000", "bus": "0a", "slot": "00", "function": "0"}},
     VF_OF_A, True),                                        # regex form, single address
    ({"address": {"domain": "0000", "bus": "0A", "slot": "00", "function": "0"}},
     VF_OF_A, False),                                       # names no sysfs entry
    # vendor/product are still compared with the VF's own ids (Red Hat's trick):
    ({"address": PF_A, "product_id": "1572"}, VF_OF_A, False),
    ({"address": PF_A, "product_id": "1572"}, dev(PF_A, "1572"), True),
    ({"address": PF_A, "product_id": "154c"}, VF_OF_A, True),
    ({"address": PF_A, "product_id": "154c"}, dev(PF_A, "1572"), False),
    # devname: resolved through sys/class/net/<name>/device
    ({"devname": "ens1f0"}, dev(PF_A, "1572"), True),
    ({"devname": "ens1f0"}, VF_OF_A, True),
    ({"devname": "ens1f0"}, VF_ELSEWHERE, False),
    ({"devname": "eno1"}, dev(PLAIN), True),
    ({"devname": "eno1"}, dev("0000:0c:02.1", parent=PLAIN), False),
    ({"devname": "ens9"}, dev(PF_A), False),                # missing interface: nothing
    ({"devname": "lo"}, dev("0000:00:00.0"), False),        # no PCI device behind it
])
def test_pf_rule(sysroot, fields, device, expected):
    check([json.dumps(fields)], device, expected, host=device_probe(sysroot))


def test_pf_status_comes_from_this_hosts_sysfs(sysroot):
    here = parse_device_specs([spec(address=PF_A)], device_probe(sysroot))
    elsewhere = parse_device_specs([spec(address=PF_A)], device_probe(sysroot / "none"))
    assert here.specs[0].pf and not elsewhere.specs[0].pf
    assert elsewhere.match(VF_OF_A) is None
    assert elsewhere.match(dev(PF_A)) is not None


def test_devname_is_cached_until_refresh(sysroot):
    specs = parse_device_specs([spec(devname="ens2f0", physical_network="physnet2")],
                               device_probe(sysroot))
    vf = dev("0000:0b:02.1", parent=PF_B)
    assert specs.match(vf) is None            # no such interface yet
    (sysroot / f"sys/bus/pci/devices/{PF_B}/sriov_totalvfs").write_text("4\n")
    link(sysroot, "ens2f0", PF_B)
    assert specs.match(vf) is None            # still the cached answer
    specs.refresh()
    assert specs.match(vf) == {"physical_network": "physnet2"}


def test_a_netdev_that_is_not_a_pci_function_matches_nothing(sysroot):
    net = sysroot / "sys/class/net/usb0"
    net.mkdir(parents=True)
    os.symlink("../../../bus/usb/devices/1-1:1.0", net / "device")
    specs = parse_device_specs([spec(devname="usb0")], device_probe(sysroot))
    assert specs.match(dev("0000:00:01.0")) is None


def test_specs_are_iterable_in_order():
    values = [spec(vendor_id="8086"), spec(vendor_id="15b3")]
    specs = parse_device_specs(values, NO_HOST)
    assert [s.vendor_id for s in specs] == ["8086", "15b3"]
    assert len(specs) == 2
