"""Discovery: reads one host's sysfs through the seam into an Inventory of PFs and their VFs.

Rules from linux_host.md §1.4: a PF is a PCI function with ``sriov_totalvfs``, a network class
(0x02xxxx) and no ``physfn``; its VFs are the ``virtfnN`` links sorted by N as a number (never
as text: virtfn10 sorts after virtfn2); links are read by their last component, never by
counting ``../``.  Missing optional facts (no driver, no IOMMU, no netdev) become None.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from sriovstack.errors import HostError
from sriovstack.host.records import Inventory, PhysicalFunction, VirtualFunction
from sriovstack.host.sysfs import SysfsIO
from sriovstack.host.sysfs import read_required as _read
from sriovstack.pci import DevType, PciAddress, PciDevice, pci_names

__all__ = ["discover"]

PCI_DEVICES = "/sys/bus/pci/devices"
_VIRTFN = re.compile(r"^virtfn(\d+)$")


def discover(sysfs: SysfsIO) -> Inventory:
    """Every SR-IOV network PF of the host behind ``sysfs``, in address order, with its VFs.

    Raises HostError naming the file when a mandatory attribute cannot be read or parsed.
    """
    if not sysfs.exists(PCI_DEVICES):
        return Inventory(())
    pfs = []
    for bdf in sorted(sysfs.listdir(PCI_DEVICES)):
        dev = f"{PCI_DEVICES}/{bdf}"
        if (sysfs.exists(f"{dev}/sriov_totalvfs") and not sysfs.exists(f"{dev}/physfn")
                and _read(sysfs, f"{dev}/class").startswith("0x02")):
            pfs.append(_pf(sysfs, bdf))
    pfs.sort(key=lambda pf: pf.address)
    return Inventory(tuple(pfs))


def _int(sysfs: SysfsIO, path: str, base: int = 10) -> int:
    text = _read(sysfs, path)
    try:
        return int(text, base)
    except ValueError:
        raise HostError(f"{path} holds {text!r}, expected a number", path=path) from None


def _optional(sysfs: SysfsIO, path: str) -> str | None:
    if not sysfs.exists(path):
        return None
    try:
        return sysfs.read(path)
    except OSError:
        return None


def _link_name(sysfs: SysfsIO, path: str) -> str | None:
    return posixpath.basename(sysfs.readlink(path)) if sysfs.exists(path) else None


def _netdev(sysfs: SysfsIO, dev: str) -> str | None:
    """The function's netdev; with several (mlx4 ports, representors) the lowest dev_port."""
    if not sysfs.exists(f"{dev}/net"):
        return None
    names = sorted(sysfs.listdir(f"{dev}/net"))
    if not names:
        return None
    return min(names, key=lambda n: (int(_optional(sysfs, f"{dev}/net/{n}/dev_port") or 0), n))


@dataclass(frozen=True, slots=True)
class _Facts:
    """What PFs and VFs share: ids, NUMA, IOMMU group, driver, netdev, names."""

    vendor: str
    product: str
    numa: int | None
    group: int | None
    driver: str | None
    netdev: str | None
    mac: str | None
    pci_class: int
    revision: int
    vendor_name: str | None
    device_name: str | None


def _common(sysfs: SysfsIO, dev: str) -> _Facts:
    vendor = _read(sysfs, f"{dev}/vendor").removeprefix("0x").lower()
    product = _read(sysfs, f"{dev}/device").removeprefix("0x").lower()
    group = _link_name(sysfs, f"{dev}/iommu_group")
    numa = _optional(sysfs, f"{dev}/numa_node")
    netdev = _netdev(sysfs, dev)
    vendor_name, device_name = pci_names(vendor, product)
    return _Facts(
        vendor=vendor, product=product,
        numa=int(numa) if numa not in (None, "-1") else None,
        group=int(group) if group is not None and group.isdigit() else None,
        driver=_link_name(sysfs, f"{dev}/driver"), netdev=netdev,
        mac=_optional(sysfs, f"{dev}/net/{netdev}/address") if netdev else None,
        pci_class=_int(sysfs, f"{dev}/class", 16),
        revision=int(_optional(sysfs, f"{dev}/revision") or "0", 16),
        vendor_name=vendor_name, device_name=device_name)


def _pf(sysfs: SysfsIO, bdf: str) -> PhysicalFunction:
    dev = f"{PCI_DEVICES}/{bdf}"
    address = PciAddress.parse(bdf)
    c = _common(sysfs, dev)
    return PhysicalFunction(
        device=PciDevice(address, c.vendor, c.product, DevType.PF, numa_node=c.numa),
        netdev=c.netdev, driver=c.driver,
        totalvfs=_int(sysfs, f"{dev}/sriov_totalvfs"), numvfs=_int(sysfs, f"{dev}/sriov_numvfs"),
        vf_device=_read(sysfs, f"{dev}/sriov_vf_device").removeprefix("0x").lower().zfill(4),
        numa_node=c.numa, iommu_group=c.group, mac=c.mac,
        operstate=_optional(sysfs, f"{dev}/net/{c.netdev}/operstate") if c.netdev else None,
        vfs=_vfs(sysfs, dev, address), pci_class=c.pci_class, revision=c.revision,
        vendor_name=c.vendor_name, device_name=c.device_name)


def _vfs(sysfs: SysfsIO, pf_dev: str, pf: PciAddress) -> tuple[VirtualFunction, ...]:
    indexed = []
    for name in sysfs.listdir(pf_dev):
        m = _VIRTFN.match(name)
        if m:
            target = posixpath.basename(sysfs.readlink(f"{pf_dev}/{name}"))
            indexed.append((int(m.group(1)), target))
    indexed.sort()
    return tuple(_vf(sysfs, index, bdf, pf) for index, bdf in indexed)


def _vf(sysfs: SysfsIO, index: int, bdf: str, pf: PciAddress) -> VirtualFunction:
    c = _common(sysfs, f"{PCI_DEVICES}/{bdf}")
    device = PciDevice(PciAddress.parse(bdf), c.vendor, c.product, DevType.VF,
                       parent_addr=pf, numa_node=c.numa)
    return VirtualFunction(
        device=device, index=index, netdev=c.netdev, driver=c.driver, iommu_group=c.group,
        mac=c.mac, pci_class=c.pci_class, revision=c.revision, vendor_name=c.vendor_name,
        device_name=c.device_name)
