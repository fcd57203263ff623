"""The simulated sysfs tree's layout: device dirs, netdevs, IOMMU groups and driver links.

Paths are host paths (``/sys/...``) joined under the root; every symlink is relative, laid out
exactly as sysfs lays it out (linux_host.md §1.1), so ``readlink``/``realpath`` behave as on a
real host and never escape the root.  The fixture builder and the simulated kernel share it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["Tree"]

PCI_DEVICES = "/sys/bus/pci/devices"
PCI_DRIVERS = "/sys/bus/pci/drivers"
CLASS_NET = "/sys/class/net"
IOMMU_GROUPS = "/sys/kernel/iommu_groups"


class Tree:
    """File operations on one simulated host tree under ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(os.path.realpath(root))

    def p(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def write(self, path: str, text: str) -> None:
        """Create or replace a file holding ``text`` plus the kernel's trailing newline."""
        full = self.p(path)
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(text + "\n", encoding="utf-8")

    def read(self, path: str) -> str:
        return self.p(path).read_text(encoding="utf-8").strip()

    def link(self, path: str, target: str, via: str | None = None) -> None:
        """A relative symlink at ``path`` pointing to host path ``target``.

        ``via`` spells the link through that directory (``../../../0000:0b:00.0`` rather than
        ``../..``), as the kernel writes ``net/<if>/device``.
        """
        full = self.p(path)
        full.parent.mkdir(parents=True, exist_ok=True)
        rel = os.path.relpath(target, os.path.dirname(path))
        if via is not None:
            rel = os.path.join(os.path.relpath(via, os.path.dirname(path)),
                               os.path.relpath(target, via))
        if full.is_symlink():
            full.unlink()
        os.symlink(rel, full)

    def remove(self, path: str) -> None:
        """Remove a file, link or directory tree at ``path`` if it is there."""
        full = self.p(path)
        if full.is_symlink() or full.is_file():
            full.unlink()
        elif full.is_dir():
            shutil.rmtree(full)

    def exists(self, path: str) -> bool:
        return os.path.lexists(self.p(path))

    def resolve(self, path: str) -> str:
        """The host path ``path`` resolves to (symlinks followed, staying inside the root)."""
        real = os.path.realpath(self.p(path))
        return "/" + os.path.relpath(real, self.root)

    def listdir(self, path: str) -> list[str]:
        full = self.p(path)
        return sorted(os.listdir(full)) if full.is_dir() else []

    # --- devices -------------------------------------------------------------------------

    def device_dir(self, bdf: str) -> str:
        """The real device directory of PCI function ``bdf``."""
        return self.resolve(f"{PCI_DEVICES}/{bdf}")

    def add_device(self, dev: str, attrs: dict[str, str]) -> None:
        """A PCI function directory with attribute files, and its /sys/bus/pci/devices link."""
        for name, value in attrs.items():
            self.write(f"{dev}/{name}", value)
        self.link(f"{PCI_DEVICES}/{os.path.basename(dev)}", dev)

    def remove_device(self, dev: str) -> None:
        self.remove(f"{PCI_DEVICES}/{os.path.basename(dev)}")
        self.remove(dev)

    def driver_of(self, dev: str) -> str | None:
        """The bound driver's name, or None when unbound."""
        link = self.p(f"{dev}/driver")
        return os.path.basename(os.readlink(link)) if link.is_symlink() else None

    def add_netdev(self, dev: str, name: str, mac: str, operstate: str) -> None:
        """A net device under ``dev/net`` with the /sys/class/net link (§1.1, §1.5)."""
        nd = f"{dev}/net/{name}"
        for attr, value in (("address", mac), ("operstate", operstate), ("dev_port", "0"),
                            ("mtu", "1500"), ("carrier", "1" if operstate == "up" else "0"),
                            ("type", "1"), ("phys_port_name", "")):
            self.write(f"{nd}/{attr}", value)
        # The kernel's own form: up to the parent bridge, then down to the function.
        parent = os.path.dirname(dev)
        self.link(f"{nd}/device", dev, via=parent)
        self.link(f"{CLASS_NET}/{name}", nd)

    def remove_netdevs(self, dev: str) -> None:
        for name in self.listdir(f"{dev}/net"):
            self.remove(f"{CLASS_NET}/{name}")
        self.remove(f"{dev}/net")

    def bind(self, dev: str, driver: str) -> None:
        """Link ``dev`` and driver ``driver`` both ways (the driver dir must exist)."""
        bdf = os.path.basename(dev)
        self.link(f"{dev}/driver", f"{PCI_DRIVERS}/{driver}")
        self.link(f"{PCI_DRIVERS}/{driver}/{bdf}", dev)

    def unbind(self, dev: str) -> str | None:
        """Remove the driver links and any netdevs; return the driver that was bound."""
        driver = self.driver_of(dev)
        if driver is None:
            return None
        self.remove(f"{PCI_DRIVERS}/{driver}/{os.path.basename(dev)}")
        self.remove(f"{dev}/driver")
        self.remove_netdevs(dev)
        return driver

    # --- IOMMU groups --------------------------------------------------------------------

    def iommu_active(self) -> bool:
        return self.p(IOMMU_GROUPS).is_dir()

    def iommu_group_of(self, dev: str) -> int | None:
        link = self.p(f"{dev}/iommu_group")
        return int(os.path.basename(os.readlink(link))) if link.is_symlink() else None

    def next_iommu_group(self) -> int:
        used = [int(n) for n in self.listdir(IOMMU_GROUPS) if n.isdigit()]
        return max(used, default=-1) + 1

    def add_iommu_group(self, dev: str, group: int) -> None:
        gdir = f"{IOMMU_GROUPS}/{group}"
        if not self.exists(f"{gdir}/type"):
            self.write(f"{gdir}/type", "DMA")
            self.write(f"{gdir}/reserved_regions", "0x00000000fee00000 0x00000000feefffff msi")
        self.link(f"{gdir}/devices/{os.path.basename(dev)}", dev)
        self.link(f"{dev}/iommu_group", gdir)

    def remove_iommu_group(self, dev: str) -> None:
        group = self.iommu_group_of(dev)
        if group is None:
            return
        gdir = f"{IOMMU_GROUPS}/{group}"
        self.remove(f"{gdir}/devices/{os.path.basename(dev)}")
        if not self.listdir(f"{gdir}/devices"):
            self.remove(gdir)
        self.remove(f"/dev/vfio/{group}")
