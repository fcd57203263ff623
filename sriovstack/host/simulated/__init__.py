"""The simulated host: NIC catalogue, topology files, fixture builder, fake kernel and netlink.

``open_simulated_host(root, dataplane=...)`` is the way in: a ``Host`` whose sysfs seam is the
fake kernel and whose netlink seam is the simulated VF netlink, sharing one host lock, both
telling the data plane handed in (``hooks.DataplaneHooks``) what changed.  Production code
outside the simulator, the all-in-one and the CLI never imports this package: whoever wants a
simulated host builds it here and hands the ``Host`` on.
"""

from __future__ import annotations

from pathlib import Path

from sriovstack.errors import NotFound
from sriovstack.host import Host
from sriovstack.host.simulated.catalogue import NicModel
from sriovstack.host.simulated.hooks import DataplaneHooks
from sriovstack.host.simulated.kernel import SimulatedKernel
from sriovstack.host.simulated.netlink import SimulatedVfNetlink
from sriovstack.host.simulated.state import MARKER, SimState, is_simulated
from sriovstack.host.simulated.topology import (TOPOLOGIES_DIR, Role, Topology, TopologyHost,
                                                bundled_topology, load_topology)
from sriovstack.host.simulated.fixture import build_host

__all__ = [
    "open_simulated_host", "is_simulated", "SimState", "DataplaneHooks", "MARKER", "Role",
    "TOPOLOGIES_DIR", "Topology", "TopologyHost", "build_host", "bundled_topology",
    "load_topology", "SimulatedKernel", "NicModel",
]


def open_simulated_host(root: str | Path, *, state: SimState | None = None,
                        dataplane: DataplaneHooks | None = None) -> Host:
    """The simulated host under ``root``; its kernel and VF netlink share ``state`` (a new
    host lock when None) and tell ``dataplane`` (when given) of every change.

    Raises NotFound when ``root`` holds no simulated host (no ``.sriovstack-sim/``).
    """
    rootp = Path(root)
    if not is_simulated(rootp):
        raise NotFound(f"{rootp} does not hold a simulated host (no {MARKER}/)",
                       fix="build one with `sriovstack host simulate` or the fixture builder",
                       path=str(rootp))
    shared = state if state is not None else SimState(rootp)
    return Host(rootp, SimulatedKernel(rootp, state=shared, dataplane=dataplane),
                SimulatedVfNetlink(rootp, state=shared, dataplane=dataplane), True)
