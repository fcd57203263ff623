"""Domain and interface XML: content (linux_host.md §5.1), escaping, libvirt's own RNG schema."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.virt.virt_host import new_server_id

from sriovstack.errors import VirtError
from sriovstack.mac import MacAddress
from sriovstack.pci.address import PciAddress
from sriovstack.virt import Guest, GuestSpec, VfInterface
from sriovstack.virt.domain_xml import domain_xml, interface_xml, parse_guest

SID = "6695eb01-f6a4-8304-79aa-97f2502e1900"
# The chapter's VF 0b:10.1 on physnet1 VLAN 15 (20.3 network_vlan_ranges physnet1:15:20).
CHAPTER_VF = VfInterface(PciAddress.parse("0000:0b:10.1"), MacAddress("fa:16:3e:5a:2b:01"), 15,
                         "port-1")
FLAT_VF = VfInterface(PciAddress.parse("0000:0b:11.5"), MacAddress("fa:16:3e:5a:2b:02"), 0,
                      "port-2")
NASTY_NAME = "web<01> & \"q\" 'a' ]]> ünï"


def _at(el: ET.Element, path: str) -> ET.Element:
    found = el.find(path)
    assert found is not None, f"no {path} in <{el.tag}>"
    return found


def _guest(*vfs: VfInterface, name: str = "webserver01") -> GuestSpec:
    return GuestSpec(server_id=SID, name=name, vcpus=2, memory_mb=512, interfaces=vfs)


def test_interface_is_a_managed_hostdev_with_the_vf_address_mac_vlan_and_alias() -> None:
    iface = ET.fromstring(interface_xml(CHAPTER_VF))
    assert iface.tag == "interface" and iface.attrib == {"type": "hostdev", "managed": "yes"}
    assert _at(iface, "source/address").attrib == {
        "type": "pci", "domain": "0x0000", "bus": "0x0b", "slot": "0x10", "function": "0x1"}
    assert _at(iface, "mac").attrib == {"address": "fa:16:3e:5a:2b:01"}
    assert [t.attrib for t in iface.iterfind("vlan/tag")] == [{"id": "15"}]
    assert _at(iface, "alias").attrib == {"name": "ua-sriov-port-1"}
    assert _at(iface, "driver").attrib == {"name": "vfio"}


def test_alias_devices_are_plain_hostdevs_without_mac_or_vlan() -> None:
    spec = GuestSpec(server_id=SID, name="aliased", vcpus=1, memory_mb=512,
                     hostdevs=(PciAddress.parse("0000:0b:10.3"),))
    dom = ET.fromstring(domain_xml(spec))
    [dev] = dom.findall("devices/hostdev")
    assert dev.attrib == {"mode": "subsystem", "type": "pci", "managed": "yes"}
    assert _at(dev, "source/address").attrib == {"domain": "0x0000", "bus": "0x0b",
                                                 "slot": "0x10", "function": "0x3"}
    assert dev.find("mac") is None and dev.find("vlan") is None
    assert dom.findall("devices/interface") == []


def test_flat_interface_has_no_vlan_element() -> None:
    # libvirt writes VLAN 0 itself when <vlan> is absent, clearing a stale tag (§5.3).
    assert ET.fromstring(interface_xml(FLAT_VF)).find("vlan") is None


@pytest.mark.parametrize(("text", "field"), [
    ("0000:00:00.0", ("0x0000", "0x00", "0x00", "0x0")),
    ("0000:0b:10.1", ("0x0000", "0x0b", "0x10", "0x1")),
    ("0001:af:1f.7", ("0x0001", "0xaf", "0x1f", "0x7")),
    ("ffff:ff:1f.7", ("0xffff", "0xff", "0x1f", "0x7")),
])
def test_source_address_is_hex_per_field(text: str, field: tuple[str, ...]) -> None:
    vf = VfInterface(PciAddress.parse(text), MacAddress("fa:16:3e:00:00:01"), 0, "p")
    addr = _at(ET.fromstring(interface_xml(vf)), "source/address")
    assert tuple(addr.get(k) for k in ("domain", "bus", "slot", "function")) == field


def test_domain_names_the_server_and_carries_its_size_and_vfs_in_order() -> None:
    dom = ET.fromstring(domain_xml(_guest(CHAPTER_VF, FLAT_VF), domain_type="kvm",
                                   disk_path=PurePosixPath("/srv/disk.qcow2")))
    assert dom.get("type") == "kvm"
    assert dom.findtext("name") == f"sriovstack-{SID}"
    assert dom.findtext("uuid") == SID
    assert dom.findtext("title") == "webserver01"
    assert (_at(dom, "memory").get("unit"), dom.findtext("memory")) == ("MiB", "512")
    assert dom.findtext("vcpu") == "2"
    assert _at(dom, "devices/disk/source").get("file") == "/srv/disk.qcow2"
    assert _at(dom, "devices/console/target").attrib == {"type": "serial", "port": "0"}
    aliases = [_at(i, "alias").get("name") for i in dom.iterfind("devices/interface")]
    assert aliases == ["ua-sriov-port-1", "ua-sriov-port-2"]


def test_names_are_escaped_not_pasted() -> None:
    text = domain_xml(_guest(name=NASTY_NAME))
    assert NASTY_NAME not in text
    assert "&lt;01&gt; &amp;" in text
    assert ET.fromstring(text).findtext("title") == NASTY_NAME


def test_parse_guest_reads_back_what_was_built() -> None:
    assert parse_guest(domain_xml(_guest(CHAPTER_VF, FLAT_VF)), running=False) == \
        Guest(SID, False, (CHAPTER_VF, FLAT_VF))


def test_parse_guest_ignores_foreign_domains_and_foreign_interfaces() -> None:
    assert parse_guest("<domain><name>test</name></domain>", running=True) is None
    root = ET.fromstring(domain_xml(_guest(CHAPTER_VF)))
    stranger = ET.fromstring(interface_xml(FLAT_VF))
    stranger.remove(_at(stranger, "alias"))
    _at(root, "devices").append(stranger)
    guest = parse_guest(ET.tostring(root, encoding="unicode"), running=True)
    assert guest is not None and guest.interfaces == (CHAPTER_VF,)


@pytest.mark.parametrize(("old", "new", "says"), [
    ("bus=\"0x0b\"", "bus=\"0xzz\"", "unreadable PCI address"),
    ("fa:16:3e:5a:2b:01", "01:00:5e:00:00:01", "multicast"),
    ('type="pci"', 'type="usb"', "without a PCI source address"),
    ('<tag id="15" />', '<tag id="4095" />', "vlan 4095"),
])
def test_parse_guest_refuses_a_malformed_interface_of_ours(old: str, new: str,
                                                           says: str) -> None:
    text = domain_xml(_guest(CHAPTER_VF)).replace(old, new)
    with pytest.raises(VirtError, match=f"sriovstack-{SID}: interface ua-sriov-port-1.*{says}"):
        parse_guest(text, running=True)


def test_parse_guest_refuses_text_that_is_not_xml() -> None:
    with pytest.raises(VirtError, match="unreadable domain XML"):
        parse_guest("<domain>", running=True)


_macs = st.tuples(st.integers(0, 127).map(lambda b: b * 2), *[st.integers(0, 255)] * 5) \
    .filter(any).map(lambda o: MacAddress(":".join(f"{b:02x}" for b in o)))
_addresses = st.builds(PciAddress, st.integers(0, 0xFFFF), st.integers(0, 0xFF),
                       st.integers(0, 0x1F), st.integers(0, 7))
_vfs = st.builds(VfInterface, _addresses, _macs, st.integers(0, 4094),
                 st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True))
_names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=60)


@settings(max_examples=150)
@given(name=_names, vfs=st.lists(_vfs, max_size=4))
def test_any_guest_round_trips_through_its_xml(name: str, vfs: list[VfInterface]) -> None:
    text = domain_xml(GuestSpec(SID, name, 1, 64, tuple(vfs)))
    assert ET.fromstring(text).findtext("title") == name
    assert parse_guest(text, running=True) == Guest(SID, True, tuple(vfs))


# --- libvirt's own RNG schema (Debian: libvirt-clients ships virt-xml-validate, libvirt0 the
# schemas, libxml2-utils the xmllint it runs) -------------------------------------------------

def _validate(tmp_path: Path, text: str) -> None:
    tool = shutil.which("virt-xml-validate")
    if tool is None or shutil.which("xmllint") is None:
        pytest.skip("virt-xml-validate/xmllint not installed (apt-get install libvirt-clients "
                    "libxml2-utils)")
    path = tmp_path / "domain.xml"
    path.write_text(text, encoding="utf-8")
    run = subprocess.run([tool, str(path), "domain"], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


def _in_minimal_domain(device: str) -> str:
    """A device XML inside the smallest valid domain: the schema has no root for a device."""
    root = ET.fromstring(domain_xml(_guest()))
    _at(root, "devices").append(ET.fromstring(device))
    return ET.tostring(root, encoding="unicode")


_SCHEMA_GUESTS = {
    "no-vfs": _guest(),
    "chapter-vlan-15": _guest(CHAPTER_VF),
    "flat": _guest(FLAT_VF),
    "vlans-15-to-20": _guest(*(VfInterface(PciAddress(0, 0x0b, 0x10, i),
                                           MacAddress(f"fa:16:3e:00:00:1{i}"), 15 + i,
                                           f"port-{i}") for i in range(6))),
    "escaped-name": _guest(CHAPTER_VF, name=NASTY_NAME),
    "max-values": GuestSpec(new_server_id(), "x" * 255, 64, 1 << 20, (
        VfInterface(PciAddress(0xFFFF, 0xFF, 0x1F, 7), MacAddress("fe:ff:ff:ff:ff:ff"), 4094,
                    "z" * 64),)),
}


@pytest.mark.parametrize("guest", _SCHEMA_GUESTS.values(), ids=_SCHEMA_GUESTS.keys())
@pytest.mark.parametrize("domain_type", ["kvm", "test"])
def test_domain_xml_is_valid_for_libvirt(tmp_path: Path, guest: GuestSpec,
                                         domain_type: str) -> None:
    _validate(tmp_path, domain_xml(guest, domain_type=domain_type))


@pytest.mark.parametrize("vf", [CHAPTER_VF, FLAT_VF, *_SCHEMA_GUESTS["max-values"].interfaces],
                         ids=["vlan-15", "flat", "max-values"])
def test_interface_xml_is_valid_for_libvirt(tmp_path: Path, vf: VfInterface) -> None:
    _validate(tmp_path, _in_minimal_domain(interface_xml(vf)))


def test_the_schema_check_catches_a_broken_interface(tmp_path: Path) -> None:
    # Proof the validation bites: two <vlan> tags without trunk='yes' are not valid.
    broken = interface_xml(CHAPTER_VF).replace('<tag id="15" />', '<tag id="15" /><tag id="x" />')
    with pytest.raises(AssertionError, match="fails to validate|Relax-NG"):
        _validate(tmp_path, _in_minimal_domain(broken))
