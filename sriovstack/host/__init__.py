"""One Linux host: sysfs discovery under a root prefix, VF creation and settings,
readiness checks, persistence.  ``simulated/`` is the fake kernel and fixture trees.

A ``Host`` carries the seams of one host.  ``open_real_host(root)`` gives the real ones (plain
files under ``root``, pyroute2 netlink); a simulated host is built by the simulator's
``open_simulated_host`` (``simulated/``), and the edges (cli/, allinone/) choose which one a
process works on.  ``SysfsDeviceProbe`` answers the host facts a device spec needs
(``pci.devspec.DeviceProbe``) through a host's sysfs seam.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sriovstack.host.netlink import (LinkState, RealVfNetlink, VfLinkState, VfMac, VfNetlink,
                                     VfRate, VfSetting, VfSpoofCheck, VfState, VfTrust, VfVlan)
from sriovstack.host.probe import SysfsDeviceProbe, device_probe
from sriovstack.host.sysfs import RealSysfs, SysfsIO
from sriovstack.host.records import Inventory, PhysicalFunction
from sriovstack.host.persistence import (PersistMethod, PersistPlan, PersistTarget,
                                         apply_persistence, pf_device_path, plan_persistence)
from sriovstack.host.readiness import Report, Verdict, check_host
from sriovstack.host.vfs import VfPlan, apply, plan_vf_count
from sriovstack.host.discovery import discover
from sriovstack.host.resources import memory_mb, online_cpus
from sriovstack.host.lspci import format_listing

__all__ = [
    "Host", "open_real_host", "SysfsDeviceProbe", "device_probe", "Inventory", "LinkState",
    "PersistMethod", "PersistPlan", "PersistTarget", "PhysicalFunction", "Report", "SysfsIO",
    "Verdict", "VfLinkState", "VfMac", "VfNetlink", "VfPlan", "VfRate", "VfSetting",
    "VfSpoofCheck", "VfState", "VfTrust", "VfVlan", "apply", "apply_persistence", "check_host",
    "discover", "memory_mb", "online_cpus", "pf_device_path", "plan_persistence", "plan_vf_count",
    "format_listing",
]


@dataclass(frozen=True, slots=True)
class Host:
    """The seams of one host: sysfs/procfs under ``root`` and VF netlink."""

    root: Path
    sysfs: SysfsIO
    netlink: VfNetlink
    simulated: bool


def open_real_host(root: str | Path = "/") -> Host:
    """The real host under ``root`` (``/``, or a copy of a host's files for reading)."""
    rootp = Path(root)
    return Host(rootp, RealSysfs(rootp), RealVfNetlink(), False)
