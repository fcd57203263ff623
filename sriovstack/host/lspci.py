"""The ``lspci -nn`` style listing of a host's SR-IOV PFs and VFs (chapter 20.2 steps 3, 7, 8)."""

from __future__ import annotations

from sriovstack.host.records import Inventory
from sriovstack.pci import PciAddress

__all__ = ["class_name", "format_listing", "format_line"]

_CLASSES = {0x0200: "Ethernet controller", 0x0207: "Infiniband controller",
            0x0280: "Network controller"}


def class_name(pci_class: int) -> str:
    """lspci's name for a 24-bit class code's class/subclass (0x020000 → Ethernet controller)."""
    return _CLASSES.get(pci_class >> 8, f"Class {pci_class >> 8:04x}")


def format_line(address: PciAddress, pci_class: int, vendor_id: str, product_id: str,
                vendor_name: str | None, device_name: str | None, revision: int) -> str:
    """One ``lspci -nn`` line: ``0b:10.0 Ethernet controller [0200]: Intel Corporation 82576
    Virtual Function [8086:10ca] (rev 01)``; ``(rev ..)`` only when nonzero, as lspci does."""
    where = address.short if address.domain == 0 else str(address)
    vendor = vendor_name or f"Vendor {vendor_id}"
    device = device_name or f"Device {product_id}"
    rev = f" (rev {revision:02x})" if revision else ""
    return (f"{where} {class_name(pci_class)} [{pci_class >> 8:04x}]: {vendor} {device} "
            f"[{vendor_id}:{product_id}]{rev}")


def format_listing(inventory: Inventory) -> list[str]:
    """Lines for every PF, then every VF, each group in address order."""
    pfs = sorted(inventory.pfs, key=lambda pf: pf.address)
    vfs = sorted((vf for pf in pfs for vf in pf.vfs), key=lambda vf: vf.address)
    lines = [format_line(pf.address, pf.pci_class, pf.device.vendor_id, pf.device.product_id,
                         pf.vendor_name, pf.device_name, pf.revision) for pf in pfs]
    lines += [format_line(vf.address, vf.pci_class, vf.device.vendor_id, vf.device.product_id,
                          vf.vendor_name, vf.device_name, vf.revision) for vf in vfs]
    return lines
