"""Vendor and device names of PCI ids, as ``pci.ids`` has them: what ``lspci`` prints.

Only the SR-IOV NICs this project knows (the chapter's 82576 and the others the simulator can
build); real discovery and the simulator name devices from this one table.
"""

from __future__ import annotations

__all__ = ["VENDOR_NAMES", "DEVICE_NAMES", "pci_names"]

VENDOR_NAMES: dict[str, str] = {"8086": "Intel Corporation", "15b3": "Mellanox Technologies"}

# (vendor id, device id) -> device name; PFs and their VFs.
DEVICE_NAMES: dict[tuple[str, str], str] = {
    ("8086", "10c9"): "82576 Gigabit Network Connection",
    ("8086", "10ca"): "82576 Virtual Function",
    ("8086", "1528"): "Ethernet Controller 10-Gigabit X540-AT2",
    ("8086", "1515"): "X540 Ethernet Controller Virtual Function",
    ("8086", "1572"): "Ethernet Controller X710 for 10GbE SFP+",
    ("8086", "154c"): "Ethernet Virtual Function 700 Series",
    ("15b3", "1003"): "MT27500 Family [ConnectX-3]",
    ("15b3", "1004"): "MT27500/MT27520 Family [ConnectX-3/ConnectX-3 Pro Virtual Function]",
    ("15b3", "1015"): "MT27710 Family [ConnectX-4 Lx]",
    ("15b3", "1016"): "MT27710 Family [ConnectX-4 Lx Virtual Function]",
}


def pci_names(vendor_id: str, device_id: str) -> tuple[str | None, str | None]:
    """(vendor name, device name) of the ids (4 lowercase hex digits each); None where unknown."""
    return VENDOR_NAMES.get(vendor_id), DEVICE_NAMES.get((vendor_id, device_id))
