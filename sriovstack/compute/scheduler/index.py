"""The scheduler's in-memory index of host states and per-pool free counts, kept fresh from
the database by each host's generation so a decision reads one narrow row per host and
reloads only the hosts that changed (never every device)."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sriovstack.compute.scheduler.host_state import HostCapabilities, HostState, pci_totals
from sriovstack.db import Database
from sriovstack.db.models.hosts import HostRow, PciDeviceRow
from sriovstack.pci.address import PciAddress
from sriovstack.pci.device import DevType
from sriovstack.pci.pools import Pool, PoolKey

__all__ = ["HostIndex"]

_CHUNK = 500  # keeps IN lists well under every driver's parameter limit


def _epoch(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite hands back naive datetimes; we store UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


class HostIndex:
    """Host states by host id; ``snapshot()`` refreshes what changed and returns them all."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._hosts: dict[str, HostState] = {}
        self._lock = threading.Lock()
        self._addresses: dict[str, PciAddress] = {}

    def snapshot(self) -> tuple[HostState, ...]:
        """Every host, with states reloaded for hosts whose generation moved."""
        with self._lock, self._db.transaction() as session:
            rows = session.execute(
                select(HostRow.id, HostRow.generation, HostRow.last_heartbeat)).all()
            stale = [r.id for r in rows
                     if r.id not in self._hosts or self._hosts[r.id].generation != r.generation]
            for ids in _chunks(stale):
                self._load(session, ids)
            fresh: dict[str, HostState] = {}
            for r in rows:
                state = self._hosts.get(r.id)
                if state is None:
                    continue
                beat = _epoch(r.last_heartbeat)
                if beat != state.heartbeat_at:  # heartbeats do not bump the generation
                    state = replace(state, heartbeat_at=beat)
                fresh[r.id] = state
            self._hosts = fresh
            return tuple(fresh.values())

    def forget(self, host_id: str) -> None:
        """Drop one host so the next snapshot reloads it (after a lost claim)."""
        with self._lock:
            self._hosts.pop(host_id, None)

    def _load(self, session: Session, ids: Sequence[str]) -> None:
        pools = self._pools(session, ids)
        for row in session.scalars(select(HostRow).where(HostRow.id.in_(ids))):
            host_pools = tuple(sorted(pools.get(row.id, ()), key=lambda p: p.key))
            numa = tuple((int(c["id"]), int(c["socket"])) for c in row.numa_topology or ()
                         if c.get("socket") is not None) or None
            self._hosts[row.id] = HostState(
                id=row.id, name=row.name, enabled=row.enabled,
                availability_zone=row.availability_zone, vcpus=row.vcpus,
                vcpus_used=row.vcpus_used, memory_mb=row.memory_mb,
                memory_mb_used=row.memory_mb_used, disk_gb=row.disk_gb,
                disk_gb_used=row.disk_gb_used,
                capabilities=HostCapabilities.from_json(row.capabilities or {}),
                pools=host_pools, pci_totals=pci_totals(host_pools),
                heartbeat_at=_epoch(row.last_heartbeat), generation=row.generation,
                numa_sockets=numa)

    def _pools(self, session: Session, ids: Sequence[str]) -> dict[str, list[Pool]]:
        d = PciDeviceRow
        query = (select(d.host_id, d.vendor_id, d.product_id, d.dev_type, d.physnet,
                        d.numa_node, d.pool_pf, func.count())
                 .where(d.host_id.in_(ids), d.status == "available")
                 .group_by(d.host_id, d.vendor_id, d.product_id, d.dev_type, d.physnet,
                           d.numa_node, d.pool_pf))
        pools: dict[str, list[Pool]] = defaultdict(list)
        for host_id, vendor, product, dev_type, physnet, numa, pool_pf, n in session.execute(query):
            key = PoolKey(vendor, product, DevType(dev_type), physnet, numa, self._address(pool_pf))
            pools[host_id].append(Pool(key, n))
        return pools

    def _address(self, text: str) -> PciAddress:
        address = self._addresses.get(text)
        if address is None:
            address = self._addresses[text] = PciAddress.parse(text)
        return address

