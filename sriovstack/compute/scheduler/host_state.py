"""What the scheduler knows of one host at decision time: resources, capabilities, PCI pools."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sriovstack.pci.device import DevType
from sriovstack.pci.pools import Pool

__all__ = ["SupportedInstance", "HostCapabilities", "HostState", "pci_totals"]


@dataclass(frozen=True, slots=True)
class SupportedInstance:
    """One (architecture, hypervisor type, vm mode) the host can run, as nova reports it."""

    architecture: str
    hypervisor_type: str
    vm_mode: str


@dataclass(frozen=True, slots=True)
class HostCapabilities:
    """The host's hypervisor facts and its other capabilities flattened to ``a:b`` = text."""

    hypervisor_type: str | None = None
    hypervisor_version: int | None = None
    supported_instances: tuple[SupportedInstance, ...] = ()
    flat: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "HostCapabilities":
        """Read the capabilities JSON an inventory report stored."""
        supported = tuple(SupportedInstance(str(a).lower(), str(h).lower(), str(m).lower())
                          for a, h, m in data.get("supported_instances", ()))
        version = data.get("hypervisor_version")
        hv_type = data.get("hypervisor_type")
        flat: dict[str, str] = {}
        _flatten("", data, flat)
        return cls(str(hv_type) if hv_type is not None else None,
                   int(version) if version is not None else None, supported,
                   tuple(sorted(flat.items())))

    def to_json(self) -> dict[str, Any]:
        """The JSON form ``from_json`` reads back."""
        data: dict[str, Any] = {}
        for key, value in self.flat:
            data[key] = value
        if self.hypervisor_type is not None:
            data["hypervisor_type"] = self.hypervisor_type
        if self.hypervisor_version is not None:
            data["hypervisor_version"] = self.hypervisor_version
        data["supported_instances"] = [[s.architecture, s.hypervisor_type, s.vm_mode]
                                       for s in self.supported_instances]
        return data

    def lookup(self, path: str) -> str | None:
        """The capability at ``a:b:c`` (nested keys joined by ``:``), or None."""
        return dict(self.flat).get(path)


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if key != "supported_instances":
                _flatten(f"{prefix}:{key}" if prefix else str(key), inner, out)
    elif prefix:
        out[prefix] = str(value)


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
