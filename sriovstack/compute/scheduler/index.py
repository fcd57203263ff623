"""The scheduler's in-memory index of host states and per-pool free counts, kept fresh from
the database by the hosts' revision stamps (``revision.py``) and the heartbeat stamps, so a
decision reads only the hosts that changed since the last one (never every host, never every
device)."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, literal, select
from sqlalchemy.orm import Session

from sriovstack.compute.scheduler.host_state import HostCapabilities, HostState, pci_totals
from sriovstack.compute.scheduler.revision import read_changed
from sriovstack.db import Database, UtcDateTime
from sriovstack.db.models import HostRow, PciDeviceRow
from sriovstack.pci import DevType, PciAddress, Pool, PoolKey

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
    """Host states by host id; ``snapshot()`` refreshes what changed and returns them all.

    A refresh is two indexed range reads: hosts stamped since the last read (``revision.py``;
    those whose generation moved are reloaded with their pools) and hosts whose heartbeat is after the newest one
    seen. A heartbeat committed late with an older (or equal) stamp can be missed until the
    host's next one; that only makes the host look longer silent (never up when it is down), and
    heartbeats are assumed to move forward. A stale state is otherwise safe: claims are
    conditional UPDATEs, a lost one calls ``forget`` and retries.

    The index lock guards memory only, never a database read: ``forget`` and the filters,
    weighers and claims of concurrent builds go on while a read runs. Reads are coalesced
    (one at a time; a waiter takes the result of a read that began after it arrived), and a
    host keeps the state of the newest read that loaded it.
    """

    def __init__(self, db: Database,
                 listener: Callable[[Mapping[str, HostState | None]], None] | None = None
                 ) -> None:
        # listener: told of every merged change (host id → new state, None when gone), under
        # the index lock (the scheduler's ranking keeps its buckets with it).
        self._db = db
        self._listener = listener
        self._hosts: dict[str, HostState] = {}
        self._loaded_by: dict[str, int] = {}  # host id → the number of the read that loaded it
        self._lock = threading.Lock()  # guards memory only, never held across a read
        self._reading = threading.Lock()  # one database read at a time (see snapshot)
        self._started = 0  # reads begun
        self._merged = 0  # the number of the newest read merged
        self._addresses: dict[str, PciAddress] = {}
        self._revision_seen = -1
        self._removed_seen = 0  # ``Changed.removed`` as of the newest read merged
        self._beat_seen: datetime | None = None
        self._forced: set[str] = set()
        self._states: tuple[HostState, ...] | None = None

    def snapshot(self, refresh: bool = True) -> tuple[HostState, ...]:
        """Every host, with states reloaded for hosts that changed since the last call.

        One database read at a time per index: a caller that arrives while a read runs
        waits for the next one to begin after it and takes that read's result (the same
        freshness, without every concurrent build reloading the same hosts).  With
        ``refresh`` False the states in memory are returned without a read, unless a host
        must be reloaded (``forget``) or nothing was read yet (a batch of builds reads once)."""
        with self._lock:
            if not refresh and not self._forced and self._states is not None:
                return self._states
            arrival = self._started
        with self._reading:
            with self._lock:
                if self._merged > arrival and not self._forced and self._states is not None:
                    return self._states  # a read that began after we came is merged
                self._started += 1
                number = self._started
                since, beat_since, forced = self._revision_seen, self._beat_seen, set(self._forced)
                removed_seen = self._removed_seen
            read = self._read(number, since, beat_since, forced, removed_seen)
            with self._lock:
                self._forced -= forced
                applied = self._apply(read)
                self._merged = number
                if applied or self._states is None:
                    self._states = tuple(self._hosts.values())
                return self._states

    def _read(self, number: int, since: int, beat_since: datetime | None,
              forced: set[str], removed_seen: int) -> _Refresh:
        """What changed since ``since`` (and newer heartbeats), read without the index lock;
        every host id too when hosts were removed since the last read.  In
        ``Database.autocommit``: on PostgreSQL the statements see a snapshot each, as in a
        READ COMMITTED transaction (the revision read first, so a host changed meanwhile is
        read again next time, never missed)."""
        with self._db.autocommit() as session:
            read = _Refresh(number, beat_since)
            changed = read_changed(session, since)
            read.next_since, read.removed = changed.next_since, changed.removed
            stale = forced | {i for i, generation in changed.hosts
                              if self._is_stale(i, generation)}
            if since < 0 or len(stale) > max(_CHUNK, len(self._hosts) // 2):
                # the first read, or most hosts changed (they registered after it): every
                # host, without lists of ids to send
                read.states.update(self._load(session, None))
            else:
                for ids in _chunks(sorted(stale)):
                    read.states.update(self._load(session, ids))
            read.read_heartbeats(session)
            if since >= 0 and changed.removed != removed_seen:
                read.present = set(session.scalars(_HOST_IDS))
        return read

    def adjust(self, host_id: str, change: Callable[[HostState], HostState]) -> None:
        """Apply what this process just committed to one host (a claim's resources) to its
        state in memory, so decisions made before the next read see it.  The host's next
        read replaces it (the claim moved its generation)."""
        with self._lock:
            state = self._hosts.get(host_id)
            if state is None:
                return
            self._hosts[host_id] = changed = change(state)
            self._states = tuple(self._hosts.values())
            if self._listener is not None:
                self._listener({host_id: changed})

    def forget(self, host_id: str) -> None:
        """Make the next snapshot reload one host (after a lost claim)."""
        with self._lock:
            self._forced.add(host_id)

    def _is_stale(self, host_id: str, generation: int) -> bool:
        state = self._hosts.get(host_id)  # one dict read: atomic under the GIL, no lock
        return state is None or state.generation != generation

    def _apply(self, read: _Refresh) -> bool:
        """Merge one refresh into the index (under the lock); whether anything changed."""
        changes: dict[str, HostState | None] = {}
        self._revision_seen = max(self._revision_seen, read.next_since)
        self._removed_seen = max(self._removed_seen, read.removed)
        for host_id, state in read.states.items():
            if read.number < self._loaded_by.get(host_id, -1):
                continue  # a newer read already loaded it
            old = self._hosts.get(host_id)
            if old is not None and (old.heartbeat_at or 0) > (state.heartbeat_at or 0):
                state = state.beating_at(old.heartbeat_at)
            self._hosts[host_id], self._loaded_by[host_id] = state, read.number
            changes[host_id] = state
        if read.present is not None:  # hosts whose row is gone (os-services deleted them)
            for host_id in set(self._hosts) - read.present:
                if self._loaded_by.get(host_id, -1) <= read.number:
                    del self._hosts[host_id]
                    self._loaded_by.pop(host_id, None)
                    changes[host_id] = None
        for host_id, moment in read.beats:
            if self._beat_seen is None or moment > self._beat_seen:
                self._beat_seen = moment
            state = self._hosts.get(host_id)
            beat = _epoch(moment)
            if state is not None and beat is not None and (state.heartbeat_at or 0) < beat:
                self._hosts[host_id] = changes[host_id] = state.beating_at(beat)
        if changes and self._listener is not None:
            self._listener(changes)
        return bool(changes)

    def _load(self, session: Session,
              ids: Sequence[str] | None) -> dict[str, HostState]:
        """The states of ``ids`` (None: of every host)."""
        pools, unhealthy = self._devices(session, ids)
        out: dict[str, HostState] = {}
        for row in session.execute(*_of_hosts(_HOSTS, ids)):
            host_pools = tuple(sorted(pools.get(row.id, ()), key=lambda p: p.key))
            numa = tuple((int(c["id"]), int(c["socket"])) for c in row.numa_topology or ()
                         if c.get("socket") is not None) or None
            out[row.id] = HostState(
                id=row.id, name=row.name, enabled=row.enabled, forced_down=row.forced_down,
                availability_zone=row.availability_zone, vcpus=row.vcpus,
                vcpus_used=row.vcpus_used, memory_mb=row.memory_mb,
                memory_mb_used=row.memory_mb_used, disk_gb=row.disk_gb,
                disk_gb_used=row.disk_gb_used,
                capabilities=HostCapabilities.from_json(row.capabilities or {}),
                pools=host_pools, pci_totals=pci_totals(host_pools),
                heartbeat_at=_epoch(row.last_heartbeat), generation=row.generation,
                numa_sockets=numa, unhealthy=tuple(sorted(unhealthy.get(row.id, {}).items())))
        return out

    def _devices(self, session: Session, ids: Sequence[str] | None
                 ) -> tuple[dict[str, list[Pool]], dict[str, dict[str | None, int]]]:
        """In one read of the free devices: host id → its pools of healthy ones, and host id
        → lower-case physnet → how many are held back as unhealthy."""
        pools: dict[str, list[Pool]] = defaultdict(list)
        unhealthy: dict[str, dict[str | None, int]] = defaultdict(dict)
        for host_id, vendor, product, dev_type, physnet, numa, pool_pf, sick, n in \
                session.execute(*_of_hosts(_FREE_DEVICES, ids)):
            if sick:
                physnet_key = physnet.lower() if physnet else None
                held = unhealthy[host_id]
                held[physnet_key] = held.get(physnet_key, 0) + n
                continue
            key = PoolKey(vendor, product, DevType(dev_type), physnet, numa, self._address(pool_pf))
            pools[host_id].append(Pool(key, n))
        return pools, unhealthy

    def _address(self, text: str) -> PciAddress:
        address = self._addresses.get(text)
        if address is None:
            address = self._addresses.setdefault(text, PciAddress.parse(text))
        return address


class _Refresh:
    """What one snapshot read from the database, before it is merged under the lock."""

    def __init__(self, number: int, beat_since: datetime | None) -> None:
        self.number = number  # reads are numbered as they begin
        self._beat_since = beat_since
        self.next_since = -1  # where the next read of revision stamps starts
        self.removed = 0  # hosts ever removed, as of this read
        self.states: dict[str, HostState] = {}
        self.beats: list[tuple[str, datetime]] = []
        self.present: set[str] | None = None  # every host id, read only after removals

    def read_heartbeats(self, session: Session) -> None:
        beats = session.execute(_BEATS) if self._beat_since is None else \
            session.execute(_BEATS_SINCE, {"beat_since": self._beat_since})
        self.beats = [(host_id, moment) for host_id, moment in beats]


def _of_hosts(statements: tuple[Select[Any], Select[Any]],
              ids: Sequence[str] | None) -> tuple[Select[Any], dict[str, Any]]:
    """A read of every host (``ids`` None) or of ``ids``: ``session.execute``'s arguments."""
    return (statements[0], {}) if ids is None else (statements[1], {"hosts": list(ids)})


# The refresh's statements, built once (every scheduler decision may run them): each read of
# hosts or devices in two forms, of every host and of the hosts ``:hosts``.
def _all_and_some(query: Select[Any], host_id: Any,
                  *group_by: Any) -> tuple[Select[Any], Select[Any]]:
    some = query.where(host_id.in_(bindparam("hosts", expanding=True)))
    return query.group_by(*group_by), some.group_by(*group_by)


_D, _H = PciDeviceRow.__table__.c, HostRow.__table__.c
# The columns a host state holds (no ORM rows: a refresh may load every host).
_HOSTS = _all_and_some(select(_H.id, _H.name, _H.enabled, _H.forced_down,
                              _H.availability_zone, _H.vcpus, _H.vcpus_used, _H.memory_mb,
                              _H.memory_mb_used, _H.disk_gb, _H.disk_gb_used, _H.capabilities,
                              _H.numa_topology, _H.last_heartbeat, _H.generation), _H.id)
# The free devices by pool, healthy or not (``sick``: held back as unhealthy, counted by
# physnet only); one read gives a host's pools and its unhealthy counts.
_SICK = _D.unhealthy_reason.is_not(None)
_FREE_DEVICES = _all_and_some(
    select(_D.host_id, _D.vendor_id, _D.product_id, _D.dev_type, _D.physnet, _D.numa_node,
           _D.pool_pf, _SICK.label("sick"), func.count()).where(_D.status == "available"),
    _D.host_id, _D.host_id, _D.vendor_id, _D.product_id, _D.dev_type, _D.physnet,
    _D.numa_node, _D.pool_pf, _SICK)
_BEATS = select(_H.id, _H.last_heartbeat).where(_H.last_heartbeat.is_not(None))
# Newer heartbeats, with an upper bound that always holds (see revision.py's _STAMPED_SINCE:
# without it PostgreSQL scans every host before ANALYZE)
_BEATS_SINCE = _BEATS.where(_H.last_heartbeat > bindparam("beat_since"),
                            _H.last_heartbeat <= literal(datetime(9999, 12, 31, tzinfo=UTC),
                                                         UtcDateTime()))
_HOST_IDS = select(_H.id)
