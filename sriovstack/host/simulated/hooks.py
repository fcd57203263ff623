"""What the simulated NIC tells a packet data plane behind it: the Protocol its hooks implement.

The fake kernel and the simulated VF netlink model the NIC's control side only (sysfs files,
netlink VF state).  A data plane that turns that state into packets (the netns one,
``sriovstack/dataplane/``) is handed in when the host is opened (``open_simulated_host``)
and hears of every change here; the simulator never imports it.  The hooks run under the
host lock, inside the change: an error they raise aborts the change, so the control state
and the packets never disagree.
"""

from __future__ import annotations

from typing import Protocol

from sriovstack.host.netlink import VfState
from sriovstack.pci import PciAddress

__all__ = ["DataplaneHooks"]


class DataplaneHooks(Protocol):
    """A data plane behind the simulated NIC (called under the host lock)."""

    def vfs_changed(self, pf: PciAddress) -> None:
        """PF ``pf``'s VFs were created or removed: their netdevs appeared or disappeared."""
        ...

    def vf_changed(self, pf: PciAddress, state: VfState) -> None:
        """VF ``state.vf`` of ``pf`` is about to hold the settings ``state`` (all of them)."""
        ...

    def link_changed(self, pf: PciAddress) -> None:
        """PF ``pf``'s carrier changed (its cable was pulled or put back)."""
        ...
