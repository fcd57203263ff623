"""PCI vocabulary (addresses, device records), device specs and pools. Pure: no I/O except
reading the sysfs files a devname or PF-address spec names."""

from sriovstack.pci.address import PciAddress
from sriovstack.pci.device import DevType, PciDevice

__all__ = ["PciAddress", "DevType", "PciDevice"]
