"""How a process opens the host it works on: the real one, or a simulated one wired to its
netns data plane.

The seams below never decide this: ``sriovstack.host`` opens real hosts only, the simulator
(``host/simulated``) builds simulated ones, and the data plane (``dataplane/``) does not know
the simulator.  This edge joins them.  A root holding the simulator's marker dir
(``.sriovstack-sim/``) is simulated, and every simulated host opened here gets the host's
netns data plane as its NIC's hooks, sharing the host lock.  So any process that changes the
host keeps the packets in step with the VF state: an agent started on its own
(``sriovstack agent compute --root SIMROOT --virt netns``), the SR-IOV NIC agent, ``sriovstack
host set-vfs``.  Whether the plane is on is recorded in the host's own state (under the host
lock), so the hooks do nothing until ``enable_dataplane`` turns it on (the all-in-one's
``--dataplane netns``) and a process needs no flag to find it.
"""

from __future__ import annotations

from pathlib import Path

from sriovstack.dataplane import HostDataplane
from sriovstack.errors import NotSupported
from sriovstack.host import Host, discover, open_real_host
from sriovstack.host.simulated import SimState, SimulatedKernel, is_simulated, open_simulated_host
from sriovstack.pci import PciAddress

__all__ = ["open_host", "open_simulated", "open_with_plane", "set_pf_link"]


def open_simulated(root: str | Path) -> tuple[Host, HostDataplane]:
    """The simulated host under ``root`` with its netns data plane as its NIC's hooks, and
    that plane (on or off).  Raises NotFound when ``root`` holds no simulated host."""
    state = SimState(root)
    # The plane reads the host through a view without its own hooks; one state, one lock.
    plane = HostDataplane(open_simulated_host(root, state=state), state)
    return open_simulated_host(root, state=state, dataplane=plane), plane


def open_with_plane(root: str | Path = "/") -> tuple[Host, HostDataplane | None]:
    """The host under ``root`` and its netns data plane: simulated when ``root`` holds a
    simulated host, else the real host and None."""
    if is_simulated(root):
        return open_simulated(root)
    return open_real_host(root), None


def open_host(root: str | Path = "/") -> Host:
    """The host under ``root``: simulated (wired to its data plane) or real."""
    return open_with_plane(root)[0]


def set_pf_link(root: str | Path, pf: str, up: bool) -> tuple[PciAddress, str]:
    """Pull (``up`` False) or put back the cable of PF ``pf`` (netdev name or PCI address) of
    the simulated host under ``root``: carrier follows, and so does the netns data plane
    when it is on. Returns the PF's address and netdev. NotSupported on a real host."""
    host, _plane = open_with_plane(root)
    if not isinstance(host.sysfs, SimulatedKernel):
        raise NotSupported(f"{root} is a real host: pull its cable by hand",
                           path=str(root), fix="use the root of a simulated host")
    found = discover(host.sysfs).find_pf(pf)
    return found.address, host.sysfs.set_carrier(found.address, up)
