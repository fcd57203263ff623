"""The typed PCI device record that discovery produces and device specs match."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sriovstack.pci.address import PciAddress

__all__ = ["DevType", "PciDevice"]


class DevType(enum.Enum):
    """Nova's device types: an SR-IOV physical function, a virtual function, or neither."""

    PF = "type-PF"
    VF = "type-VF"
    PCI = "type-PCI"


@dataclass(frozen=True, slots=True)
class PciDevice:
    """What matching and pools need to know of one PCI function.

    ``vendor_id``/``product_id`` are 4 lowercase hex digits; ``parent_addr`` is the PF of a
    VF (None otherwise); ``numa_node`` is None where the platform reports -1.
    """

    address: PciAddress
    vendor_id: str
    product_id: str
    dev_type: DevType
    parent_addr: PciAddress | None = None
    numa_node: int | None = None
