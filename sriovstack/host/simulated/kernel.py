"""The simulated kernel: a ``SysfsIO`` over a fixture tree whose control-file writes follow Linux.

Reads behave like ``RealSysfs`` (plus EOPNOTSUPP for ``phys_port_name`` on non-switchdev
netdevs).  Writes to ``sriov_numvfs`` follow ``drivers/pci/iov.c`` in order (linux_host.md §1.7,
§6.3): base-0 u16 parse (EINVAL), above ``sriov_totalvfs`` (ERANGE), equal count is a no-op,
no driver or no ``sriov_configure`` (ENOENT), disable refused while a VF is assigned (EPERM,
or EBUSY standing in for vfio's blocking), nonzero to nonzero (EBUSY), injected enable
failures, partial enable.  Enabling lays out the VFs at offset/stride addresses with
``virtfnN``/``physfn`` links, IOMMU groups and (autoprobe) host VF netdevs; disabling removes
all of it and wipes the netlink VF state.  Writes to read-only attributes give EACCES; paths
outside /sys and /proc (``/etc``...) are plain files.  All changes happen under the host lock.
A data plane handed in (``hooks.py``) hears when a PF's VFs come or go.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

from sriovstack.host.simulated.catalogue import DisableInUse, driver_caps
from sriovstack.host.simulated.drivers import VFIO_PCI, Drivers
from sriovstack.host.simulated.hooks import DataplaneHooks
from sriovstack.host.simulated.state import SimState
from sriovstack.host.simulated.tree import PCI_DEVICES, PCI_DRIVERS, Tree
from sriovstack.host.sysfs import RealSysfs
from sriovstack.errors import NotFound
from sriovstack.pci import PciAddress

__all__ = ["SimulatedKernel", "inject_enable_failure", "parse_u16"]

_U16 = re.compile(r"^\+?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)\n?\Z")
_DRIVER_FILES = ("bind", "unbind", "new_id", "remove_id")


def parse_u16(text: str) -> int:
    """Parse like ``kstrtou16(buf, 0, ...)``: decimal, 0x-hex or 0-octal; EINVAL otherwise."""
    m = _U16.match(text)
    if not m:
        raise OSError(errno.EINVAL, f"not an unsigned number: {text!r}")
    digits = m.group(1)
    if digits[:2].lower() == "0x":
        value = int(digits[2:], 16)
    else:
        value = int(digits, 8 if digits.startswith("0") else 10)
    if value > 0xFFFF:
        raise OSError(errno.EINVAL, f"{value} does not fit in 16 bits")
    return value


def _parse_bool(text: str) -> bool:
    """Parse like ``kstrtobool``: 1/y/Y/on true, 0/n/N/off false; EINVAL otherwise."""
    t = text.strip().lower()
    if t[:1] in ("1", "y") or t[:2] == "on":
        return True
    if t[:1] in ("0", "n") or t[:3] == "off":
        return False
    raise OSError(errno.EINVAL, f"not a boolean: {text!r}")


def inject_enable_failure(root: str | Path, pf: PciAddress, err: int | None) -> None:
    """Make the next enables of ``pf`` fail with ``err`` (ENOMEM, EIO...); None clears it."""
    state = SimState(root)
    with state.locked():
        faults = state.load("faults")
        if err is None:
            faults.pop(str(pf), None)
        else:
            faults[str(pf)] = err
        state.save("faults", faults)


class SimulatedKernel:
    """SysfsIO for a simulated host: reads the tree, applies kernel rules to writes.

    ``state`` is the host's lock and state (share one with the host's VF netlink, so one
    thread can hold the lock across both); ``dataplane`` hears of VFs created and removed.
    """

    def __init__(self, root: str | Path, *, state: SimState | None = None,
                 dataplane: DataplaneHooks | None = None) -> None:
        self.root = Path(root)
        self._fs = RealSysfs(root)
        self._tree = Tree(root)
        self._state = state if state is not None else SimState(root)
        self._drivers = Drivers(self._tree, self._state)
        self._dataplane = dataplane

    # --- reads ---------------------------------------------------------------------------

    def read(self, path: str) -> str:
        if path.startswith("/sys/") and os.path.basename(path) == "phys_port_name":
            self._fs.read(path)  # ENOENT when it is not there at all
            raise OSError(errno.EOPNOTSUPP, "Operation not supported", path)
        return self._fs.read(path)

    def readlink(self, path: str) -> str:
        return self._fs.readlink(path)

    def listdir(self, path: str) -> list[str]:
        return self._fs.listdir(path)

    def exists(self, path: str) -> bool:
        return self._fs.exists(path)

    # --- writes --------------------------------------------------------------------------

    def write(self, path: str, text: str) -> None:
        with self._state.locked():
            if path.startswith("/sys/"):
                self._sysfs_write(path, text)
            elif path.startswith("/proc/"):
                code = errno.EACCES if self._fs.exists(path) else errno.ENOENT
                raise OSError(code, os.strerror(code), path)
            else:
                self._fs.write(path, text)

    def _sysfs_write(self, path: str, text: str) -> None:
        if not self._fs.exists(path):
            # sysfs directories have no create(): EACCES; a missing directory: ENOENT.
            code = errno.EACCES if self._fs.exists(os.path.dirname(path)) else errno.ENOENT
            raise OSError(code, os.strerror(code), path)
        real = self._tree.resolve(path)
        name, parent = os.path.basename(real), os.path.dirname(real)
        if name == "sriov_numvfs":
            self._write_numvfs(parent, text)
        elif name == "sriov_drivers_autoprobe":
            self._tree.write(real, "1" if _parse_bool(text) else "0")
        elif name == "driver_override":
            value = text.rstrip("\n")
            self._tree.write(real, value if value else "(null)")
        elif name in _DRIVER_FILES and parent.startswith(PCI_DRIVERS + "/"):
            self._write_driver_file(os.path.basename(parent), name, text.strip())
        elif real == "/sys/bus/pci/drivers_probe":
            self._drivers.probe(self._device(text.strip()))
        elif real in ("/sys/bus/pci/drivers_autoprobe", "/sys/bus/pci/rescan"):
            _parse_bool(text)
        elif name == "allow_unsafe_interrupts":
            self._tree.write(real, "Y" if _parse_bool(text) else "N")
        else:
            # kernfs refuses to open a read-only attribute for writing, even for root.
            raise OSError(errno.EACCES, "Permission denied (read-only attribute)", path)

    def _device(self, bdf: str) -> str:
        if not bdf or not self._tree.exists(f"{PCI_DEVICES}/{bdf}"):
            raise OSError(errno.ENODEV, f"no PCI device {bdf!r}", bdf)
        return self._tree.device_dir(bdf)

    def _write_driver_file(self, driver: str, name: str, bdf: str) -> None:
        if name in ("new_id", "remove_id"):
            return  # accepted; the simulated drivers match by the catalogue's ids
        dev = self._device(bdf)
        bound = self._tree.driver_of(dev)
        if name == "unbind":
            if bound != driver:
                raise OSError(errno.ENODEV, f"{bdf} is not bound to {driver}", bdf)
            self._unbind(dev)
            return
        if bound is not None:
            raise OSError(errno.EBUSY, f"{bdf} is already bound to {bound}", bdf)
        wanted = self._drivers.override(dev) or self._drivers.native_driver(dev)
        if driver != wanted:
            raise OSError(errno.ENODEV, f"{driver} does not match {bdf}", bdf)
        self._drivers.attach(dev, driver)

    def _unbind(self, dev: str) -> None:
        if self._tree.exists(f"{dev}/sriov_numvfs") and self._numvfs(dev):
            self._disable(dev)  # a PF driver's remove() tears its VFs down
        self._drivers.detach(dev)

    # --- sriov_numvfs --------------------------------------------------------------------

    def _numvfs(self, pf_dev: str) -> int:
        return int(self._tree.read(f"{pf_dev}/sriov_numvfs"))

    def _write_numvfs(self, pf_dev: str, text: str) -> None:
        n = parse_u16(text)
        total = int(self._tree.read(f"{pf_dev}/sriov_totalvfs"))
        if n > total:
            raise OSError(errno.ERANGE, f"{n} VFs requested; only {total} supported", pf_dev)
        current = self._numvfs(pf_dev)
        if n == current:
            return
        driver = self._tree.driver_of(pf_dev)
        if driver is None:
            raise OSError(errno.ENOENT, "no driver bound to device; cannot configure SR-IOV",
                          pf_dev)
        caps = driver_caps(driver)
        if caps is None or not caps.sriov_configure:
            raise OSError(errno.ENOENT,
                          "driver does not support SR-IOV configuration via sysfs", pf_dev)
        if n == 0:
            self._refuse_if_assigned(pf_dev, caps.disable_in_use)
            self._disable(pf_dev)
            return
        if current != 0:
            raise OSError(errno.EBUSY, f"{current} VFs already enabled. Disable before "
                          f"enabling {n} VFs", pf_dev)
        self._enable(pf_dev, n)

    def _refuse_if_assigned(self, pf_dev: str, mode: DisableInUse) -> None:
        for vf_dev in self._vf_dirs(pf_dev):
            if self._tree.driver_of(vf_dev) == VFIO_PCI:
                if mode is DisableInUse.EPERM:
                    raise OSError(errno.EPERM, "VFs are assigned - VFs will not be "
                                  "deallocated", pf_dev)
                raise OSError(errno.EBUSY, "a VF is bound to vfio-pci: the kernel would "
                              "block until it is released", pf_dev)

    def _vf_dirs(self, pf_dev: str) -> list[str]:
        links = [n for n in self._tree.listdir(pf_dev) if re.fullmatch(r"virtfn\d+", n)]
        links.sort(key=lambda n: int(n[len("virtfn"):]))
        return [self._tree.resolve(f"{pf_dev}/{n}") for n in links]

    def _enable(self, pf_dev: str, n: int) -> None:
        bdf = os.path.basename(pf_dev)
        fault = self._state.load("faults").get(bdf)
        if fault:
            raise OSError(int(fault), f"injected enable failure: {os.strerror(int(fault))}",
                          pf_dev)
        limit = self._state.load("pfs").get(bdf, {}).get("max_enabled")
        # A driver may enable fewer VFs than asked; the write still succeeds (§1.7.8).
        self.enable_vfs(PciAddress.parse(bdf), min(n, limit) if limit else n)

    def enable_vfs(self, pf: PciAddress, count: int) -> None:
        """Create ``count`` VFs on ``pf`` as ``pci_enable_sriov`` does (also what a driver's
        ``max_vfs``/``num_vfs`` module option does at load); ENOMEM when they overflow the bus."""
        with self._state.locked():
            pf_dev = self._tree.device_dir(str(pf))
            offset = int(self._tree.read(f"{pf_dev}/sriov_offset"))
            stride = int(self._tree.read(f"{pf_dev}/sriov_stride"))
            last = pf.routing_id + offset + stride * (count - 1)
            if last >> 8 > 0xFF:
                raise OSError(errno.ENOMEM, f"can't enable {count} VFs (bus out of range)",
                              pf_dev)
            autoprobe = self._tree.read(f"{pf_dev}/sriov_drivers_autoprobe") == "1"
            for index in range(count):
                rid = pf.routing_id + offset + stride * index
                self._create_vf(pf_dev, index, PciAddress.from_routing_id(pf.domain, rid))
            self._tree.write(f"{pf_dev}/sriov_numvfs", str(count))
            self._reset_netlink(str(pf))
            if autoprobe:
                for vf_dev in self._vf_dirs(pf_dev):
                    self._drivers.probe(vf_dev)
            # After the probe, so the data plane finds the VF netdevs (and their MACs) there.
            self._vfs_changed(pf)

    def set_carrier(self, pf: PciAddress, up: bool) -> str:
        """Pull (``up`` False) or put back the cable of PF ``pf``: its netdev's ``carrier`` and
        ``operstate`` follow, and the data plane hears of it; returns the netdev's name.
        NotFound when ``pf`` has no netdev (no net driver bound)."""
        with self._state.locked():
            pf_dev = self._tree.device_dir(str(pf))
            names = self._tree.listdir(f"{pf_dev}/net") if self._tree.exists(
                f"{pf_dev}/net") else []
            if not names:
                raise NotFound(f"PF {pf} has no netdev (no net driver bound): no link to "
                               "pull", field="pf", value=str(pf))
            for name in names:
                self._tree.write(f"{pf_dev}/net/{name}/carrier", "1" if up else "0")
                self._tree.write(f"{pf_dev}/net/{name}/operstate", "up" if up else "down")
            if self._dataplane is not None:
                self._dataplane.link_changed(pf)
            return names[0]

    def _create_vf(self, pf_dev: str, index: int, address: PciAddress) -> None:
        vf_dev = f"{os.path.dirname(pf_dev)}/{address}"
        vf_device = self._tree.read(f"{pf_dev}/sriov_vf_device")
        vendor = self._tree.read(f"{pf_dev}/vendor")
        attrs = {name: self._tree.read(f"{pf_dev}/{name}") for name in (
            "vendor", "subsystem_vendor", "subsystem_device", "class", "revision",
            "numa_node", "local_cpulist")}
        attrs.update(device=f"0x{vf_device}", driver_override="(null)", enable="1", irq="0",
                     modalias=f"pci:v0000{vendor[2:].upper()}d0000{vf_device.upper()}"
                              f"sv*sd*bc02sc00i00")
        self._tree.add_device(vf_dev, attrs)
        self._tree.link(f"{vf_dev}/physfn", pf_dev)
        self._tree.link(f"{pf_dev}/virtfn{index}", vf_dev)
        if self._tree.iommu_active():
            self._tree.add_iommu_group(vf_dev, self._tree.next_iommu_group())

    def _disable(self, pf_dev: str) -> None:
        for index, vf_dev in enumerate(self._vf_dirs(pf_dev)):
            self._drivers.detach(vf_dev)
            self._tree.remove_iommu_group(vf_dev)
            self._tree.remove_device(vf_dev)
            self._tree.remove(f"{pf_dev}/virtfn{index}")
        self._tree.write(f"{pf_dev}/sriov_numvfs", "0")
        self._reset_netlink(os.path.basename(pf_dev))
        self._vfs_changed(PciAddress.parse(os.path.basename(pf_dev)))

    def _vfs_changed(self, pf: PciAddress) -> None:
        if self._dataplane is not None:
            self._dataplane.vfs_changed(pf)

    def _reset_netlink(self, bdf: str) -> None:
        # VF config (MAC, VLAN, trust...) does not survive a VF count change (§1.7).
        doc = self._state.load("netlink")
        if doc.pop(bdf, None) is not None:
            self._state.save("netlink", doc)
