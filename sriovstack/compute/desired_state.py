"""What one host should run (servers, ports, VF settings), its revision, and waiting for changes.

The revision lives in the database (``host_revisions``), so every API process agrees on it.
A waiter sleeps on a per-host event and re-reads the revision when woken: a bump in this
process sets it directly; on PostgreSQL every bump also sends ``NOTIFY sriovstack_hosts``
with the host in its transaction, and each process's one ``Listener`` sets the events of the
host it names, so a change committed by any API process wakes the waiters of every process
at commit. A waiter still re-reads every ``poll_interval`` seconds while no listener is live
(SQLite, whose processes share no channel, or a PostgreSQL listener reconnecting), and every
``LISTENING_RECHECK`` seconds while one is, in case a notification was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from sqlalchemy import (CTE, ColumnElement, Executable, Row, Select, String, bindparam, func,
                        literal, select)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from sriovstack.compute.operations import stopped_moves, target_of
from sriovstack.db import Database, Listener, check_payload, one_of, upsert_into
from sriovstack.db.models import (FlavorRow, HostRevisionRow, PciDeviceRow, ServerPortRow,
                                  ServerRow)
from sriovstack.network import PortWiring, port_wirings
from sriovstack.pci import PciAddress
from sriovstack.wire import DesiredPort, DesiredServer, DesiredState, ServerStatus, VnicType

__all__ = ["HostChangeNotifier", "HostRevisions", "DesiredStateService", "revision_of",
           "HOSTS_CHANNEL", "LISTENING_RECHECK", "bumped_after"]

HOSTS_CHANNEL = "sriovstack_hosts"  # NOTIFY channel: the payload is the host whose revision moved
LISTENING_RECHECK = 30.0  # seconds between re-reads of a waiter while notifications arrive


def revision_of(session: Session, host: str) -> int:
    """The host's revision as ``session`` sees it (0 when nothing was ever recorded)."""
    return int(session.scalar(_REVISION_OF, {"host": host}) or 0)


class HostChangeNotifier:
    """Wakes coroutines waiting on a host when this process changes that host's state.

    ``notify`` may be called from any thread (builds run in a worker thread).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    def notify(self, host: str) -> None:
        """Set every event registered for ``host``."""
        with self._lock:
            waiters = list(self._waiters.get(host, ()))
        self._set(waiters)

    def notify_all(self) -> None:
        """Set every registered event (changes may have been missed: everyone re-reads)."""
        with self._lock:
            waiters = [w for entries in self._waiters.values() for w in entries]
        self._set(waiters)

    @staticmethod
    def _set(waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]) -> None:
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # the waiter's loop has closed
                loop.call_soon_threadsafe(event.set)

    @contextlib.asynccontextmanager
    async def listening(self, host: str) -> AsyncIterator[asyncio.Event]:
        """An event set on the next ``notify(host)`` while the block runs."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.setdefault(host, set()).add(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                self._waiters.get(host, set()).discard(entry)


class HostRevisions:
    """The per-host revision counter: ``bump`` after every committed change an agent must see."""

    def __init__(self, db: Database, notifier: HostChangeNotifier) -> None:
        self._db = db
        self.notifier = notifier
        self._bump = _bump(db.dialect)
        self._bump_many = _bump_many() if db.dialect == "postgresql" else None
        self._listener = (Listener(db.url, HOSTS_CHANNEL, notifier.notify, notifier.notify_all)
                          if db.dialect == "postgresql" else None)

    @property
    def listening(self) -> bool:
        """True while this process hears every other process's bumps (PostgreSQL)."""
        return self._listener is not None and self._listener.live

    def listen(self) -> None:
        """Start hearing other processes' bumps (PostgreSQL; once; SQLite: nothing to hear)."""
        if self._listener is not None:
            self._listener.start()

    def close(self) -> None:
        """Stop listening (tests and shutdown)."""
        if self._listener is not None:
            self._listener.stop()

    def current(self, host: str) -> int:
        """The host's revision (0 when nothing was ever recorded for it)."""
        with self._db.autocommit() as session:
            return revision_of(session, host)

    def bump(self, host: str) -> int:
        """Increment the host's revision (one statement), wake waiters; return the new value."""
        with self._db.transaction() as session:
            value = self.bump_in(session, host)
        self.notifier.notify(host)
        return value

    def bump_in(self, session: Session, host: str) -> int:
        """In ``session``'s transaction: increment the host's revision, creating its row at 1,
        in one statement (an upsert returning the value; on PostgreSQL the NOTIFY to other
        processes rides in it, delivered at commit).  The caller wakes this process's waiters
        with ``notifier.notify(host)`` once the transaction committed."""
        if self._db.dialect == "postgresql":
            check_payload(host)
        return int(session.execute(self._bump, {"revised_host": host}).scalar_one())

    def bump_many_in(self, session: Session, hosts: Iterable[str]) -> None:
        """``bump_in`` for each of ``hosts`` once, in host order (the lock order of the
        revision rows): on PostgreSQL in one statement (a batch of builds places servers on
        many hosts), elsewhere one statement per host."""
        ordered = sorted(set(hosts))
        if self._bump_many is None or len(ordered) < 2:
            for host in ordered:
                self.bump_in(session, host)
            return
        for host in ordered:
            check_payload(host)
        session.execute(self._bump_many, {"revised_hosts": ordered}).all()


def _bump(dialect: str) -> Executable:
    """The statement ``bump_in`` runs (built once: it is in every change a host sees)."""
    table = HostRevisionRow.__table__
    host = bindparam("revised_host", type_=String)
    upsert = upsert_into(table, dialect).values(host=host, revision=1).on_conflict_do_update(
        index_elements=[table.c.host], set_={"revision": table.c.revision + 1}
    ).returning(table.c.revision)
    if dialect != "postgresql":
        return upsert
    bumped = upsert.cte("bumped")
    return select(bumped.c.revision, func.pg_notify(HOSTS_CHANNEL, host))


def _bump_many() -> Executable:
    """``bump_many_in``'s statement on PostgreSQL (built once): ``_bump``'s upsert and NOTIFY
    for every host of an array, upserted in host order by code point (COLLATE "C", as Python's
    ``sorted``): the order every transaction locks revision rows in."""
    hosts = func.unnest(bindparam("revised_hosts", type_=ARRAY(String))).table_valued(
        "host").render_derived()
    bumped = _upserted(select(hosts.c.host, literal(1)).order_by(hosts.c.host.collate("C")))
    return select(func.pg_notify(HOSTS_CHANNEL, bumped.c.host))


def bumped_after(gate: ColumnElement[bool]) -> CTE:
    """``bump_in`` of the host ``:revised_host`` as a CTE of a caller's PostgreSQL statement,
    run only where ``gate`` holds (returning the host; the caller selects its NOTIFY)."""
    return _upserted(select(bindparam("revised_host", type_=String), literal(1)).where(gate))


def _upserted(rows: Select[Any]) -> CTE:
    """PostgreSQL: the revision of each host of ``rows`` (host, 1) bumped, or made at 1."""
    table = HostRevisionRow.__table__
    upsert = upsert_into(table, "postgresql").from_select(["host", "revision"], rows)
    return (upsert.on_conflict_do_update(index_elements=[table.c.host],
                                         set_={"revision": table.c.revision + 1})
            .returning(table.c.host).cte("bumped"))


class DesiredStateService:
    """Builds the desired state of one host and long-polls for a newer revision."""

    def __init__(self, db: Database, revisions: HostRevisions,
                 poll_interval: float = 1.0) -> None:
        self._db = db
        self._revisions = revisions
        self._poll = poll_interval

    def desired_state(self, host: str) -> DesiredState:
        """The servers placed on ``host`` (not yet deleted) with each port's VF settings, read
        in ``Database.autocommit`` (on PostgreSQL each statement sees its own snapshot, as in
        a READ COMMITTED transaction): the revision in the same statement as the servers,
        so the state is at least that new (two statements with servers: these, the ports'
        wiring, and a third for the devices held for no port when a server holds any; three
        without: none, the revision, none again)."""
        with self._db.autocommit() as session:
            rows = session.execute(_PLACED_ON, {"host": host}).all()
            if rows:
                revision = int(rows[0].revision or 0)
            else:  # the revision first, then the servers again: one placed in between is
                # then listed, not hidden behind a revision read after it
                revision = revision_of(session, host)
                rows = session.execute(_PLACED_ON, {"host": host}).all()
            wirings = port_wirings(session, [r.port_id for r in rows if r.port_id is not None])
            placed = list({r.id: r for r in rows}.values())
            hostdevs = _alias_devices(session, sorted(r.id for r in placed if r.holds_alias))
            stopped = stopped_moves(session, placed)
        ports: dict[str, list[DesiredPort]] = {r.id: [] for r in placed}
        for row in rows:
            if row.port_id is not None:
                ports[row.id].append(_port(row, wirings.get(row.port_id)))
        return DesiredState(host=host, revision=revision, servers=tuple(
            _server(srv, tuple(ports[srv.id]), hostdevs.get(srv.id, ()), srv.id in stopped)
            for srv in placed))

    async def wait_for_change(self, host: str, since: int | None, wait: float) -> DesiredState:
        """The desired state once its revision exceeds ``since``, or after ``wait`` seconds.

        Returns at once when ``since`` is None or already older than the current revision.
        """
        if since is not None:  # without it there is nothing to wait for: one transaction
            await self.wait_for_revision(host, since, wait)
        return await asyncio.to_thread(self.desired_state, host)

    async def wait_for_revision(self, host: str, since: int | None, wait: float) -> int:
        """The host's revision once it exceeds ``since``, or after ``wait`` seconds (then the
        same revision); at once when ``since`` is None or already older. Woken by a bump in
        this process or, on PostgreSQL, by any process's NOTIFY; re-reads otherwise only every
        ``poll_interval`` (no live listener) or ``LISTENING_RECHECK`` seconds."""
        self._revisions.listen()
        deadline = time.monotonic() + max(0.0, wait)
        async with self._revisions.notifier.listening(host) as changed:
            while True:
                current = await asyncio.to_thread(self._revisions.current, host)
                remaining = deadline - time.monotonic()
                if since is None or current > since or remaining <= 0:
                    return current
                recheck = LISTENING_RECHECK if self._revisions.listening else self._poll
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), min(remaining, recheck))
                changed.clear()


def _alias_devices(session: Session,
                   server_ids: list[str]) -> dict[str, tuple[PciAddress, ...]]:
    """The devices each server holds for no port: its flavor's pci_passthrough:alias."""
    found: dict[str, list[PciAddress]] = {}
    if server_ids:
        for owner, address in session.execute(_ALIAS_DEVICES, {"servers": server_ids}):
            found.setdefault(owner, []).append(PciAddress.parse(address))
    return {k: tuple(v) for k, v in found.items()}


def _placed_on() -> Select[Any]:
    """One row per (server on the host ``:host``, port), a server without ports once, in
    boot order, with only the columns the desired state reads, the host's revision and
    whether the server holds devices for no port (``_ALIAS_DEVICES`` is read only then)."""
    host = bindparam("host", type_=String)
    s, f, p, r = _SERVERS.c, _FLAVORS.c, _SERVER_PORTS.c, _REVISIONS.c
    revision = select(r.revision).where(r.host == host).scalar_subquery().label("revision")
    holds_alias = select(_DEVICES.c.address).where(_DEVICES.c.owner == s.id,
                                                   *_HELD_FOR_NO_PORT).exists()
    return (select(s.id, s.name, s.status, s.task_state, s.key_data, f.vcpus, f.ram,
                   p.port_id, p.vnic_type, p.pci_address, p.physnet, p.generation, revision,
                   holds_alias.label("holds_alias"))
            .select_from(_SERVERS.outerjoin(_FLAVORS, f.id == s.flavor_id)
                         .outerjoin(_SERVER_PORTS, p.server_id == s.id))
            .where(s.host == host)
            .order_by(s.created_at, s.id, p.position))


# The desired state's statements, built once (each agent reads it after every change, and
# its long poll the host's revision), on the Core tables: an ORM-enabled select costs a
# third more CPU, and these load no ORM rows.
_SERVERS, _FLAVORS = ServerRow.__table__, FlavorRow.__table__
_SERVER_PORTS, _REVISIONS, _DEVICES = (ServerPortRow.__table__, HostRevisionRow.__table__,
                                       PciDeviceRow.__table__)
_HELD_FOR_NO_PORT = (_DEVICES.c.request_id.is_(None),  # by a flavor's pci_passthrough:alias
                     one_of(_DEVICES.c.status, ("claimed", "allocated")))
_PLACED_ON = _placed_on()
_REVISION_OF = select(_REVISIONS.c.revision).where(
    _REVISIONS.c.host == bindparam("host", type_=String))
_ALIAS_DEVICES = (select(_DEVICES.c.owner, _DEVICES.c.address)
                  .where(_DEVICES.c.owner.in_(bindparam("servers", expanding=True)),
                         *_HELD_FOR_NO_PORT)
                  .order_by(_DEVICES.c.address))


def _server(srv: Row[Any], ports: tuple[DesiredPort, ...],
            hostdevs: tuple[PciAddress, ...] = (), stopped: bool = False) -> DesiredServer:
    """One server of a ``_placed_on`` row (its flavor's figures 0 when the flavor is gone)."""
    status = ServerStatus(srv.status)
    settled = target_of(status, srv.task_state, stopped)
    return DesiredServer(server_id=srv.id, name=srv.name, status=status,
                         vcpus=srv.vcpus or 0, memory_mb=srv.ram or 0, ports=ports,
                         target=settled.target, replug=settled.replug,
                         awaiting=settled.awaiting, authorized_keys=srv.key_data,
                         hostdevs=hostdevs)


def _port(row: Row[Any], wiring: PortWiring | None) -> DesiredPort:
    """One server port's settings (a ``_placed_on`` row): the VF's physnet is the claimed
    device's, a normal port's its segment's (20.1); the VLAN is always the segment's (0 on
    flat)."""
    pci = PciAddress.parse(row.pci_address) if row.pci_address else None
    if wiring is None:
        # The port was deleted under the server: the agent must tear its VF down.
        return DesiredPort(port_id=row.port_id, mac=None, vnic_type=VnicType(row.vnic_type),
                           vlan=0, pci_address=pci, physnet=row.physnet, admin_state_up=False,
                           generation=row.generation)
    physnet = row.physnet if pci is not None else wiring.segment.physnet
    return DesiredPort(port_id=row.port_id, mac=wiring.mac, vnic_type=wiring.vnic_type,
                       vlan=wiring.vlan, pci_address=pci, physnet=physnet,
                       admin_state_up=wiring.admin_state_up, generation=row.generation,
                       fixed_ip=wiring.fixed_ip,
                       propagate_uplink_status=wiring.propagate_uplink_status)
