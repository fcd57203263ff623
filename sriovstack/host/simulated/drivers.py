"""Driver binding in the simulated kernel: probe, bind, unbind, driver_override (linux_host.md §1.6, §6.3.4).

Binding a net driver creates the netdev (a VF's is named ``<pf>v<N>``, as udev renames it);
binding vfio-pci needs an IOMMU group and creates ``/dev/vfio/<group>``; unbinding removes the
netdev.  Errors are OSErrors with the kernel's errnos.
"""

from __future__ import annotations

import errno
import os

from sriovstack.host.simulated.catalogue import DRIVERS, MODELS
from sriovstack.host.simulated.state import SimState
from sriovstack.host.simulated.tree import PCI_DRIVERS, Tree
from sriovstack.mac import MacAddress
from sriovstack.pci import PciAddress

__all__ = ["Drivers", "VFIO_PCI", "vf_index", "vf_mac"]

VFIO_PCI = "vfio-pci"


def vf_mac(address: PciAddress) -> str:
    """A stable, locally administered MAC for a VF netdev at ``address``."""
    return (f"02:{address.domain & 0xFF:02x}:{address.bus:02x}:{address.slot:02x}:"
            f"{address.function:02x}:00")


def vf_index(tree: Tree, vf_dev: str) -> tuple[str, int] | None:
    """(PF device dir, N) for a VF device dir via its physfn and the PF's virtfnN; None for a PF."""
    if not tree.exists(f"{vf_dev}/physfn"):
        return None
    pf_dev = tree.resolve(f"{vf_dev}/physfn")
    for name in tree.listdir(pf_dev):
        if name.startswith("virtfn") and tree.resolve(f"{pf_dev}/{name}") == vf_dev:
            return pf_dev, int(name[len("virtfn"):])
    return None


class Drivers:
    """Binds and unbinds simulated PCI functions to drivers."""

    def __init__(self, tree: Tree, state: SimState) -> None:
        self._tree = tree
        self._state = state

    def native_driver(self, dev: str) -> str | None:
        """The driver whose id table matches ``dev`` (the PF driver, or the host VF driver)."""
        vendor = self._tree.read(f"{dev}/vendor").removeprefix("0x")
        device = self._tree.read(f"{dev}/device").removeprefix("0x")
        for m in MODELS.values():
            if m.vendor_id == vendor and m.device_id == device:
                return m.driver
            if m.vendor_id == vendor and m.vf_device_id == device:
                return DRIVERS[m.driver].vf_driver
        return None

    def override(self, dev: str) -> str | None:
        text = self._tree.read(f"{dev}/driver_override")
        return None if text in ("(null)", "") else text

    def probe(self, dev: str) -> None:
        """What the kernel does for an unbound device on add or ``drivers_probe``."""
        if self._tree.driver_of(dev) is not None:
            return
        driver = self.override(dev) or self.native_driver(dev)
        if driver is None or not self._tree.exists(f"{PCI_DRIVERS}/{driver}"):
            return
        self.attach(dev, driver)

    def attach(self, dev: str, driver: str) -> None:
        """Bind ``driver`` to ``dev``: links, then a netdev or the vfio group node."""
        if driver == VFIO_PCI:
            group = self._tree.iommu_group_of(dev)
            if group is None:
                # vfio_pci_core: no IOMMU group -> the probe fails.
                raise OSError(errno.EINVAL, "vfio-pci: no iommu_group for device", dev)
            self._tree.bind(dev, driver)
            self._tree.write(f"/dev/vfio/{group}", "")
            return
        self._tree.bind(dev, driver)
        self._add_netdev(dev)

    def detach(self, dev: str) -> str | None:
        """Unbind whatever driver ``dev`` has; returns its name (None when it was unbound)."""
        group = self._tree.iommu_group_of(dev)
        driver = self._tree.unbind(dev)
        if driver == VFIO_PCI and group is not None:
            self._tree.remove(f"/dev/vfio/{group}")
        return driver

    def _add_netdev(self, dev: str) -> None:
        found = vf_index(self._tree, dev)
        if found is not None:
            pf_dev, index = found
            pf_names = self._pf_netdevs(pf_dev)
            base = pf_names[0] if pf_names else f"pf{os.path.basename(pf_dev)}"
            address = PciAddress.parse(os.path.basename(dev))
            self._tree.add_netdev(dev, f"{base}v{index}", vf_mac(address), "down")
            return
        pfs = self._state.load("pfs").get(os.path.basename(dev), {})
        for name in pfs.get("netdevs", []):
            self._tree.add_netdev(dev, name, pfs.get("mac", str(MacAddress.ZERO)), "up")

    def _pf_netdevs(self, pf_dev: str) -> list[str]:
        live = self._tree.listdir(f"{pf_dev}/net")
        if live:
            return live
        names: list[str] = self._state.load("pfs").get(os.path.basename(pf_dev), {}).get(
            "netdevs", [])
        return names
