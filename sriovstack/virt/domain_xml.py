"""libvirt XML for our guests: the domain of a server, its VF interfaces, and reading them back.

Built with ElementTree, so every value is escaped by the serializer and never pasted into text.
The interface is reference/linux_host.md §5.1: ``<interface type='hostdev' managed='yes'>`` with
the VF's PCI address, the port's MAC, one ``<vlan><tag>`` (omitted for flat, where libvirt writes
VLAN 0 to clear a stale tag, §5.3) and a user alias so detach finds it by port id.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import PurePosixPath

from sriovstack.errors import Invalid, VirtError
from sriovstack.mac import MacAddress
from sriovstack.pci import PciAddress
from sriovstack.virt.types import ALIAS_PREFIX, Guest, GuestSpec, VfInterface, server_id_of

__all__ = ["domain_xml", "interface_xml", "parse_guest"]


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def _interface(vf: VfInterface) -> ET.Element:
    iface = ET.Element("interface", {"type": "hostdev", "managed": "yes"})
    # vfio is the default on current libvirt; saying it keeps old hosts off legacy KVM assignment.
    _sub(iface, "driver", name="vfio")
    src = _sub(iface, "source")
    a = vf.pci_address
    _sub(src, "address", type="pci", domain=f"0x{a.domain:04x}", bus=f"0x{a.bus:02x}",
         slot=f"0x{a.slot:02x}", function=f"0x{a.function:x}")
    _sub(iface, "mac", address=str(vf.mac))
    if vf.vlan:
        # Exactly one tag: libvirt rejects trunking on SR-IOV devices (virnetdev.c).
        _sub(_sub(iface, "vlan"), "tag", id=str(vf.vlan))
    _sub(iface, "alias", name=vf.alias)
    return iface


def _hostdev(a: PciAddress) -> ET.Element:
    """A device passed through as it is (a flavor's PCI alias): no MAC, no VLAN."""
    dev = ET.Element("hostdev", {"mode": "subsystem", "type": "pci", "managed": "yes"})
    _sub(dev, "driver", name="vfio")
    _sub(_sub(dev, "source"), "address", domain=f"0x{a.domain:04x}", bus=f"0x{a.bus:02x}",
         slot=f"0x{a.slot:02x}", function=f"0x{a.function:x}")
    return dev


def _text(el: ET.Element) -> str:
    ET.indent(el)
    return ET.tostring(el, encoding="unicode")


def interface_xml(vf: VfInterface) -> str:
    """The device XML for hot-plugging ``vf`` (attachDeviceFlags)."""
    return _text(_interface(vf))


def domain_xml(guest: GuestSpec, *, domain_type: str = "kvm",
               disk_path: PurePosixPath | None = None) -> str:
    """The whole domain XML of ``guest``: name ``sriovstack-<id>``, uuid = server id, its VFs.

    ``disk_path`` is the root disk image (a placeholder path is fine until images land);
    ``domain_type`` is ``kvm`` on a real host, ``test`` for libvirt's test driver.
    """
    dom = ET.Element("domain", {"type": domain_type})
    _sub(dom, "name", guest.domain_name)
    _sub(dom, "uuid", guest.server_id)
    _sub(dom, "title", guest.name)
    _sub(dom, "memory", str(guest.memory_mb), unit="MiB")
    _sub(dom, "vcpu", str(guest.vcpus))
    os_el = _sub(dom, "os")
    _sub(os_el, "type", "hvm", arch="x86_64")
    _sub(os_el, "boot", dev="hd")
    devices = _sub(dom, "devices")
    disk = _sub(devices, "disk", type="file", device="disk")
    _sub(disk, "driver", name="qemu", type="qcow2")
    path = disk_path or PurePosixPath("/var/lib/sriovstack/instances") / guest.server_id / "disk"
    _sub(disk, "source", file=str(path))
    _sub(disk, "target", dev="vda", bus="virtio")
    for vf in guest.interfaces:
        devices.append(_interface(vf))
    for address in guest.hostdevs:
        devices.append(_hostdev(address))
    _sub(_sub(devices, "serial", type="pty"), "target", port="0")
    _sub(_sub(devices, "console", type="pty"), "target", type="serial", port="0")
    return _text(dom)


def _bad(name: str, what: str) -> VirtError:
    return VirtError(f"domain {name}: {what}", domain=name, operation="read XML")


def _address(src: ET.Element | None) -> PciAddress:
    addr = src.find("address") if src is not None else None
    if addr is None or addr.get("type", "pci") != "pci":
        raise ValueError("hostdev interface without a PCI source address")
    try:
        return PciAddress(*(int(addr.get(k, "0"), 16)
                            for k in ("domain", "bus", "slot", "function")))
    except (ValueError, Invalid) as exc:
        raise ValueError(f"unreadable PCI address {addr.attrib}") from exc


def _read_interface(iface: ET.Element, name: str) -> VfInterface | None:
    alias = iface.find("alias")
    alias_name = alias.get("name", "") if alias is not None else ""
    if not alias_name.startswith(ALIAS_PREFIX):
        return None  # not attached by us (no port to reconcile it against)
    mac = iface.find("mac")
    tag = iface.find("vlan/tag")
    try:
        return VfInterface(pci_address=_address(iface.find("source")),
                           mac=MacAddress.parse(mac.get("address", "") if mac is not None
                                                else ""),
                           vlan=int(tag.get("id", "0")) if tag is not None else 0,
                           port_id=alias_name[len(ALIAS_PREFIX):])
    except (Invalid, ValueError) as exc:
        raise _bad(name, f"interface {alias_name}: {exc}") from exc


def parse_guest(xml_text: str, *, running: bool) -> Guest | None:
    """The Guest a domain XML describes; None when the domain is not one of ours.

    Only hostdev interfaces carrying our ``ua-sriov-`` alias are read back; raises VirtError
    when one of them is malformed.
    """
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise VirtError(f"libvirt returned unreadable domain XML: {exc}",
                        operation="read XML") from exc
    name = root.findtext("name") or ""
    server_id = server_id_of(name)
    if server_id is None:
        return None
    vfs = []
    for iface in root.iterfind("devices/interface[@type='hostdev']"):
        vf = _read_interface(iface, name)
        if vf is not None:
            vfs.append(vf)
    return Guest(server_id=server_id, running=running, interfaces=tuple(vfs))
