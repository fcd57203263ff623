"""One Linux host: sysfs discovery under a root prefix, VF creation and settings,
readiness checks, persistence. ``simulated/`` is the fake kernel and fixture trees.

``open_host(root)`` is the way in: it returns a ``Host`` whose ``sysfs`` and ``netlink`` seams
are the real ones, or the simulated kernel and VF netlink when ``root`` holds a simulated host
(the marker dir ``.sriovstack-sim/`` that the fixture builder writes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sriovstack.host.netlink import RealVfNetlink, VfNetlink
from sriovstack.host.simulated.kernel import SimulatedKernel
from sriovstack.host.simulated.netlink import SimulatedVfNetlink
from sriovstack.host.simulated.state import is_simulated
from sriovstack.host.sysfs import RealSysfs, SysfsIO

__all__ = ["Host", "open_host"]


@dataclass(frozen=True, slots=True)
class Host:
    """The seams of one host: sysfs/procfs under ``root`` and VF netlink."""

    root: Path
    sysfs: SysfsIO
    netlink: VfNetlink
    simulated: bool


def open_host(root: str | Path = "/") -> Host:
    """The host under ``root``: simulated when it holds ``.sriovstack-sim/``, real otherwise."""
    rootp = Path(root)
    if is_simulated(rootp):
        return Host(rootp, SimulatedKernel(rootp), SimulatedVfNetlink(rootp), True)
    return Host(rootp, RealSysfs(rootp), RealVfNetlink(), False)
