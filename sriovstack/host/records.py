"""Typed records of what discovery finds on one host: physical functions, their VFs, the inventory."""

from __future__ import annotations

from dataclasses import dataclass

from sriovstack.errors import Invalid, NotFound
from sriovstack.pci import PciAddress, PciDevice

__all__ = ["VirtualFunction", "PhysicalFunction", "Inventory"]


@dataclass(frozen=True, slots=True)
class VirtualFunction:
    """One VF: ``index`` is the N of the PF's ``virtfnN`` link (= ``ip link set PF vf N``).

    ``netdev``/``mac`` are None unless a host net driver is bound (not under vfio-pci);
    ``driver`` is None when unbound; ``iommu_group`` is None without an active IOMMU.
    """

    device: PciDevice
    index: int
    netdev: str | None
    driver: str | None
    iommu_group: int | None
    mac: str | None
    pci_class: int = 0x020000
    revision: int = 0
    vendor_name: str | None = None
    device_name: str | None = None

    @property
    def address(self) -> PciAddress:
        return self.device.address


@dataclass(frozen=True, slots=True)
class PhysicalFunction:
    """One SR-IOV capable network PF with its VFs in ``virtfnN`` order.

    ``vf_device`` is the VF product id (``sriov_vf_device``, 4 lowercase hex digits);
    ``netdev``/``mac``/``operstate`` are None when no net driver is bound.
    """

    device: PciDevice
    netdev: str | None
    driver: str | None
    totalvfs: int
    numvfs: int
    vf_device: str
    numa_node: int | None
    iommu_group: int | None
    mac: str | None
    operstate: str | None
    vfs: tuple[VirtualFunction, ...]
    pci_class: int = 0x020000
    revision: int = 0
    vendor_name: str | None = None
    device_name: str | None = None

    @property
    def address(self) -> PciAddress:
        return self.device.address

    def vf(self, index: int) -> VirtualFunction:
        """The VF with ``index``; NotFound naming the PF and its VF count otherwise."""
        for vf in self.vfs:
            if vf.index == index:
                return vf
        raise NotFound(f"PF {self.address} ({self.netdev or 'no netdev'}) has no VF {index}; "
                       f"it has {len(self.vfs)} VFs (0..{len(self.vfs) - 1})",
                       field="vf", value=index)


@dataclass(frozen=True, slots=True)
class Inventory:
    """Every SR-IOV network PF of one host (address order) with its VFs."""

    pfs: tuple[PhysicalFunction, ...]

    def find_pf(self, name_or_address: str) -> PhysicalFunction:
        """The PF whose netdev or PCI address is ``name_or_address`` (``0000:0b:00.0`` or
        ``0b:00.0``); NotFound naming the PFs that exist otherwise."""
        wanted = name_or_address.strip()
        for pf in self.pfs:
            if pf.netdev is not None and pf.netdev == wanted:
                return pf
        try:
            address: PciAddress | None = PciAddress.parse(wanted)
        except Invalid:  # not an address: it was a netdev name
            address = None
        for pf in self.pfs:
            if pf.address == address:
                return pf
        known = ", ".join(f"{pf.netdev or '-'} ({pf.address})" for pf in self.pfs) or "none"
        raise NotFound(f"no SR-IOV physical function {wanted!r} on this host; PFs: {known}",
                       field="pf", value=wanted)

    def find_vf(self, address: PciAddress) -> tuple[PhysicalFunction, VirtualFunction]:
        """The PF and VF at ``address``; NotFound otherwise."""
        for pf in self.pfs:
            for vf in pf.vfs:
                if vf.address == address:
                    return pf, vf
        raise NotFound(f"no virtual function at {address} on this host",
                       field="address", value=str(address))

    def devices(self) -> tuple[PciDevice, ...]:
        """Every PF and VF as a PciDevice: each PF followed by its VFs."""
        out: list[PciDevice] = []
        for pf in self.pfs:
            out.append(pf.device)
            out.extend(vf.device for vf in pf.vfs)
        return tuple(out)
