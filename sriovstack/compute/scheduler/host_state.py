"""What the scheduler knows of one host at decision time: resources, capabilities, PCI pools."""

from __future__ import annotations

from collections.abc import Mapping
from copy import copy
from dataclasses import dataclass, field

from sriovstack.pci import DevType, Pool, PoolSet
from sriovstack.wire import HostCapabilities, SupportedInstance

__all__ = ["SupportedInstance", "HostCapabilities", "HostState", "pci_totals"]


@dataclass(frozen=True, slots=True)
class HostState:
    """One host as the filters and weighers see it; ``pools`` hold free device counts.

    ``heartbeat_at`` is seconds since the epoch of the last heartbeat (None: never seen);
    ``generation`` is the hosts row generation this state was read at.
    """

    id: str
    name: str
    enabled: bool
    availability_zone: str
    vcpus: int
    vcpus_used: int
    memory_mb: int
    memory_mb_used: int
    disk_gb: int
    disk_gb_used: int
    capabilities: HostCapabilities
    pools: tuple[Pool, ...]
    heartbeat_at: float | None
    generation: int
    numa_sockets: tuple[tuple[int, int], ...] | None = None
    # Free devices per (type, lower-case physnet): the index's cheap answer for the common
    # single-request case; None when not computed (the filter then fits the pools).
    pci_totals: Mapping[tuple[DevType, str | None], int] | None = None
    # Free devices held back because their PF has no carrier, per lower-case physnet: the
    # PciPassthroughFilter says so when a host falls short.
    unhealthy: tuple[tuple[str | None, int], ...] = ()
    # os-services' forced down: down whatever the heartbeat says.
    forced_down: bool = False
    # ``pools`` prepared for fitting, made with the state (a replace() makes it afresh).
    pool_set: PoolSet = field(init=False, repr=False, compare=False)
    # The guest NUMA placements tried on this host, per request shape (filters.py fills it).
    numa_choices: dict[object, tuple[object, ...]] = field(init=False, repr=False,
                                                           compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pool_set", PoolSet(self.pools))
        object.__setattr__(self, "numa_choices", {})

    def beating_at(self, heartbeat_at: float | None) -> HostState:
        """This state with another heartbeat, sharing its prepared pools (a replace() would
        prepare them again: at 5,000 hosts beating every 10 s that was ~5 % of a worker)."""
        beat = copy(self)
        object.__setattr__(beat, "heartbeat_at", heartbeat_at)
        return beat

    def free_ram_mb(self, ratio: float) -> float:
        """RAM left under the allocation ratio (nova's RamFilter arithmetic)."""
        return self.memory_mb * ratio - self.memory_mb_used

    def free_vcpus(self, ratio: float) -> float:
        """vCPUs left under the allocation ratio (nova's CoreFilter arithmetic)."""
        return self.vcpus * ratio - self.vcpus_used

    @property
    def free_pci(self) -> int:
        """Free devices over every pool."""
        return sum(p.count for p in self.pools)



def pci_totals(pools: tuple[Pool, ...]) -> dict[tuple[DevType, str | None], int]:
    """Free devices per (type, lower-case physnet) over the pools."""
    totals: dict[tuple[DevType, str | None], int] = {}
    for p in pools:
        key = (p.key.dev_type, p.key.physnet.lower() if p.key.physnet else None)
        totals[key] = totals.get(key, 0) + p.count
    return totals
