"""Read-only views of the compute hosts: os-hypervisors, availability zones, placement providers.

Placement (openstack_api_compat.md §4.6): one root provider per host (VCPU, MEMORY_MB,
DISK_GB) and one child per PF holding ``SRIOV_NET_VF`` (its whitelisted VFs; used = VFs held
by servers). VF pools are never added to os-hypervisors (tempest's schemas forbid extra keys).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sriovstack.clock import Clock
from sriovstack.compute.types import Hypervisor, Inventory, ResourceProvider
from sriovstack.db import Database
from sriovstack.db.models import HostRow, PciDeviceRow, ServerRow
from sriovstack.errors import ErrorKind, Invalid, NotFound

__all__ = ["HypervisorService", "SRIOV_NET_VF"]

SRIOV_NET_VF = "SRIOV_NET_VF"
_PF_NAMESPACE = uuid.UUID("5d6f1c1e-9a52-4c57-8f2b-3c1e7a0b9d41")
_HELD = ("claimed", "allocated")
_GONE = ("removed",)


def pf_provider_uuid(host_id: str, pf_address: str) -> str:
    """The stable uuid of the child provider for one PF of one host."""
    return str(uuid.uuid5(_PF_NAMESPACE, f"{host_id}/{pf_address}"))


class HypervisorService:
    """Hosts as hypervisors and as placement resource providers."""

    def __init__(self, db: Database, clock: Clock, service_down_time: float = 60.0) -> None:
        self._db = db
        self._clock = clock
        self._down_after = timedelta(seconds=service_down_time)

    def list(self) -> tuple[Hypervisor, ...]:
        """Every host, by name."""
        with self._db.transaction() as session:
            rows = session.scalars(select(HostRow).order_by(HostRow.name)).all()
            running = self._running(session)
            return tuple(self._hypervisor(r, running.get(r.name, 0)) for r in rows)

    def get(self, hypervisor_id: str) -> Hypervisor:
        """The host with this id; NotFound (also for a host name, as nova at 2.1 does)."""
        with self._db.transaction() as session:
            row = session.get(HostRow, hypervisor_id)
            if row is None:
                raise NotFound(f"Hypervisor with ID '{hypervisor_id}' could not be found.",
                               kind=ErrorKind.COMPUTE_HOST_NOT_FOUND, value=hypervisor_id)
            return self._hypervisor(row, self._running(session).get(row.name, 0))

    def page(self, limit: int | None = None, marker: str | None = None) -> tuple[Hypervisor, ...]:
        """Hosts by name, after the host whose id is ``marker``, at most ``limit`` of them;
        Invalid (nova: 400) for an unknown marker."""
        hosts = self.list()
        if marker is not None:
            ids = [h.id for h in hosts]
            if marker not in ids:
                raise Invalid(f"marker [{marker}] not found", field="marker", value=marker)
            hosts = hosts[ids.index(marker) + 1:]
        return hosts if limit is None else hosts[:limit]

    def search(self, pattern: str) -> tuple[Hypervisor, ...]:
        """Hosts whose name contains ``pattern``; NotFound when none does (nova's /search)."""
        found = tuple(h for h in self.list() if pattern in h.hostname)
        if not found:
            raise NotFound(f"No hypervisor matching '{pattern}' could be found.",
                           kind=ErrorKind.COMPUTE_HOST_NOT_FOUND, value=pattern)
        return found

    def availability_zones(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """``(zone, hosts)`` for every zone a host is in ("nova" when there are no hosts)."""
        with self._db.transaction() as session:
            rows = session.execute(select(HostRow.availability_zone, HostRow.name)
                                   .order_by(HostRow.availability_zone, HostRow.name)).all()
        zones: dict[str, list[str]] = defaultdict(list)
        for zone, name in rows:
            zones[zone].append(name)
        return tuple((z, tuple(h)) for z, h in zones.items()) or (("nova", ()),)

    def providers(self) -> tuple[ResourceProvider, ...]:
        """Every host's root provider followed by its PF children."""
        with self._db.transaction() as session:
            hosts = session.scalars(select(HostRow).order_by(HostRow.name)).all()
            devices = session.scalars(select(PciDeviceRow).where(
                PciDeviceRow.status.not_in(_GONE))).all()
        by_host: dict[str, list[PciDeviceRow]] = defaultdict(list)
        for dev in devices:
            by_host[dev.host_id].append(dev)
        out: list[ResourceProvider] = []
        for host in hosts:
            out.append(_root_provider(host))
            out.extend(_pf_providers(host, by_host[host.id]))
        return tuple(out)

    def provider(self, provider_uuid: str) -> ResourceProvider:
        """One provider; NotFound naming the uuid otherwise."""
        for rp in self.providers():
            if rp.uuid == provider_uuid:
                return rp
        raise NotFound(f"No resource provider with uuid {provider_uuid} found",
                       kind=ErrorKind.PLACEMENT_UNDEFINED_CODE, value=provider_uuid)

    def _running(self, session: Session) -> dict[str, int]:
        rows = session.execute(select(ServerRow.host, func.count()).where(
            ServerRow.host.is_not(None)).group_by(ServerRow.host)).all()
        return {str(host): int(n) for host, n in rows}

    def _hypervisor(self, row: HostRow, running: int) -> Hypervisor:
        beat = row.last_heartbeat
        up = (not row.forced_down and beat is not None
              and self._clock.now() - _aware(beat) <= self._down_after)
        caps = row.capabilities
        return Hypervisor(
            id=row.id, hostname=row.name, host_ip=str(caps["host_ip"]) if caps.get("host_ip") else None,
            enabled=row.enabled, disabled_reason=row.disabled_reason, up=up,
            vcpus=row.vcpus, memory_mb=row.memory_mb, local_gb=row.disk_gb,
            vcpus_used=row.vcpus_used, memory_mb_used=row.memory_mb_used,
            local_gb_used=row.disk_gb_used, running_vms=running,
            hypervisor_type=str(caps.get("hypervisor_type") or "QEMU"),
            hypervisor_version=int(caps.get("hypervisor_version") or 0))


def _aware(value: datetime) -> datetime:
    # hosts.last_heartbeat is a plain DateTime: SQLite hands it back naive (it is UTC).
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _root_provider(host: HostRow) -> ResourceProvider:
    inventories = (
        Inventory("VCPU", host.vcpus, host.vcpus_used),
        Inventory("MEMORY_MB", host.memory_mb, host.memory_mb_used),
        Inventory("DISK_GB", host.disk_gb, host.disk_gb_used),
    )
    return ResourceProvider(uuid=host.id, name=host.name, generation=host.generation,
                            parent_uuid=None, root_uuid=host.id,
                            inventories=tuple(i for i in inventories if i.total > 0))


def _pf_providers(host: HostRow, devices: list[PciDeviceRow]) -> list[ResourceProvider]:
    vfs: dict[str, list[PciDeviceRow]] = defaultdict(list)
    for dev in devices:
        if dev.dev_type == "type-VF" and dev.parent_addr:
            vfs[dev.parent_addr].append(dev)
    out = []
    for pf in sorted(vfs):
        members = vfs[pf]
        used = sum(1 for d in members if d.status in _HELD)
        out.append(ResourceProvider(
            uuid=pf_provider_uuid(host.id, pf), name=f"{host.name}:{pf}",
            generation=host.generation, parent_uuid=host.id, root_uuid=host.id,
            inventories=(Inventory(SRIOV_NET_VF, len(members), used),)))
    return out
