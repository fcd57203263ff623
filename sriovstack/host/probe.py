"""The host facts a device spec asks for (``pci.devspec.DeviceProbe``), read through the sysfs
seam: whether a PCI function is an SR-IOV PF, and which device is behind a network interface."""

from __future__ import annotations

import posixpath
from pathlib import Path

from sriovstack.host.sysfs import RealSysfs, SysfsIO

__all__ = ["SysfsDeviceProbe", "device_probe"]


class SysfsDeviceProbe:
    """A DeviceProbe over one host's ``SysfsIO`` (real or simulated)."""

    def __init__(self, sysfs: SysfsIO) -> None:
        self._sysfs = sysfs

    def is_pf(self, function: str) -> bool:
        """``/sys/bus/pci/devices/<function>/sriov_totalvfs`` reads as a number above 0.

        A function that is not there, has no such file or an unreadable one is no PF: the
        spec then covers that address alone, as nova treats it.
        """
        try:
            return int(self._sysfs.read(f"/sys/bus/pci/devices/{function}/sriov_totalvfs")) > 0
        except (OSError, ValueError):
            return False

    def function_of(self, devname: str) -> str | None:
        """The last name of the ``/sys/class/net/<devname>/device`` link (``../../../0000:0b:00.1``
        gives ``0000:0b:00.1``); None when the interface or its device link is missing."""
        try:
            target = self._sysfs.readlink(f"/sys/class/net/{devname}/device")
        except OSError:
            return None
        return posixpath.basename(target.rstrip("/"))


def device_probe(root: str | Path = "/") -> SysfsDeviceProbe:
    """The probe of the files under ``root`` (``/``: this host), read as they are."""
    return SysfsDeviceProbe(RealSysfs(root))
