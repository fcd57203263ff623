"""PCI vocabulary (addresses, device records, lspci names), device specs and pools. Pure: no
I/O; the host facts a device spec needs come from the ``DeviceProbe`` its caller hands in."""

from sriovstack.pci.address import PciAddress
from sriovstack.pci.alias import PciAlias, alias_requests, parse_aliases
from sriovstack.pci.addrspec import GlobAddress, RegexAddress
from sriovstack.pci.device import DevType, PciDevice
from sriovstack.pci.devspec import (NO_HOST, DeviceProbe, DeviceSpec, DeviceSpecs,
                                    parse_device_specs)
from sriovstack.pci.pools import (Allocation, Fit, NumaContext, NumaPolicy, PciRequest, Pool,
                                  PoolKey, PoolSet, Shortfall, fit_prepared,
                                  fit_requests, shortfall_of)
from sriovstack.pci.names import pci_names

__all__ = [
    "PciAddress", "DevType", "PciDevice", "GlobAddress", "RegexAddress", "DeviceSpec",
    "DeviceSpecs", "DeviceProbe", "NO_HOST", "parse_device_specs", "Allocation", "Fit",
    "NumaContext", "NumaPolicy", "PciRequest", "Pool", "PoolKey", "Shortfall", "fit_requests",
    "PoolSet", "fit_prepared", "shortfall_of",
    "pci_names", "PciAlias", "alias_requests", "parse_aliases",
]
