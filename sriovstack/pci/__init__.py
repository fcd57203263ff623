"""PCI vocabulary (addresses, device records), device specs and pools. Pure: no I/O except
reading the sysfs files a devname or PF-address spec names."""

from sriovstack.pci.address import PciAddress
from sriovstack.pci.addrspec import GlobAddress, RegexAddress
from sriovstack.pci.device import DevType, PciDevice
from sriovstack.pci.devspec import DeviceSpec, DeviceSpecs, parse_device_specs

__all__ = [
    "PciAddress",
    "DevType",
    "PciDevice",
    "GlobAddress",
    "RegexAddress",
    "DeviceSpec",
    "DeviceSpecs",
    "parse_device_specs",
]
