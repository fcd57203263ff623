"""The build lease on a server row: which API worker builds it and until when, each change a
conditional UPDATE so exactly one worker builds a server at a time.

Life of a lease: ``create`` records the server with the *queued* owner (this worker's id) and a
deadline; the background build ``start``s it under a fresh per-build token and ``renew``s it
between steps; placing the server (or failing it) clears it.  A worker that dies leaves the
lease to expire; a sweep then finds the server (``expired``) and ``take_over`` moves it to the
sweeper's own token, once, however many sweepers race.

A delete takes the same lease (``fence_delete``): one conditional UPDATE marks the row DELETED
under the deleting worker's token, so from then on the build's renew, claim and settle all
fail (the build finds the server GONE and undoes its own claims) and no sweep builds it again.
A delete whose worker died is finished by a sweep once its lease expires (``expired_deletes``).
"""

from __future__ import annotations

import enum
import functools
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, String, Update, bindparam, case, or_, select, update
from sqlalchemy.orm import Session

from sriovstack.clock import Clock
from sriovstack.db import Database
from sriovstack.db.models import ServerRow
from sriovstack.wire import ServerStatus

__all__ = ["BuildLease", "BuildLeases", "LeaseState", "DEFAULT_LEASE_SECONDS", "LEASE_FENCE",
           "hold_lease"]

DEFAULT_LEASE_SECONDS = 30.0  # builds take well under a second; renewed between steps
_BUILD = ServerStatus.BUILD.value  # as the status column stores it
_DELETED = ServerStatus.DELETED.value
S = ServerRow


class LeaseState(enum.Enum):
    """What ``renew`` found: still ours, taken over by another worker, or the server deleted."""

    HELD = "held"
    LOST = "lost"
    GONE = "gone"


@dataclass(frozen=True, slots=True)
class BuildLease:
    """The right to build one server, held under ``token`` until it is renewed or expires."""

    server_id: str
    token: str


@dataclass(frozen=True, slots=True)
class Orphan:
    """A server in BUILD, not placed, whose lease has expired (``owner`` as last seen)."""

    server_id: str
    owner: str | None


# The statements of a build's steps, built once (every boot runs them) with bind parameters.
# Those that open their transaction are on the Core table: no ORM execution around them (no
# session state to flush first, nothing to synchronize); ``hold_lease``'s stays an ORM
# statement, as its callers may have rows pending that it flushes first.
_T = ServerRow.__table__.c
_START_MANY = (update(ServerRow.__table__)
               .where(_T.id.in_(bindparam("servers", expanding=True)), _T.status == _BUILD,
                      _T.host.is_(None), _T.build_owner == bindparam("worker"))
               .values(build_owner=bindparam("token"), build_lease_until=bindparam("until"))
               .returning(_T.id))
_RENEW = (update(ServerRow.__table__)
          .where(_T.id == bindparam("server"), _T.build_owner == bindparam("token"))
          .values(build_lease_until=bindparam("until")))
_HOLD = (update(S).where(S.id == bindparam("server"), S.build_owner == bindparam("token"))
         .values(build_owner=bindparam("token")).execution_options(synchronize_session=False))
# ``hold_lease``'s fence as a Core UPDATE returning the server's id, for a claim made in one
# statement (compute/claims.py): its other parts run only once this returned the row.
LEASE_FENCE = (update(ServerRow.__table__)
               .where(_T.id == bindparam("server"), _T.build_owner == bindparam("token"))
               .values(build_owner=bindparam("token")).returning(_T.id))


@functools.lru_cache(maxsize=64)
def _settle_on_hosts(count: int, columns: tuple[str, ...]) -> Update:
    """``settle_on_hosts``'s UPDATE of ``count`` servers (``:server0``.. each placed on
    ``:host0``.., under ``:token``), setting ``columns`` too (each from ``:set_<column>``):
    built once per shape, as a batch has few sizes."""
    hosts = case(*((bindparam(f"server{i}", type_=String), bindparam(f"host{i}", type_=String))
                   for i in range(count)), value=_T.id)
    return (update(ServerRow.__table__)
            .where(_T.id.in_(bindparam("servers", expanding=True)),
                   _T.build_owner == bindparam("token"))
            .values(host=hosts, build_owner=None, build_lease_until=None,
                    **{column: bindparam(f"set_{column}") for column in columns})
            .returning(_T.id))


def _worker_id() -> str:
    return f"{socket.gethostname()[:180]}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


def _unplaced(server_id: str) -> tuple[ColumnElement[bool], ...]:
    return (S.id == server_id, S.status == _BUILD, S.host.is_(None))


class BuildLeases:
    """The lease operations of one worker (one API process) over the servers table."""

    def __init__(self, db: Database, clock: Clock,
                 seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        if seconds <= 0:
            raise ValueError(f"a build lease must last a positive time, not {seconds}")
        self._db = db
        self._clock = clock
        self._ttl = timedelta(seconds=seconds)
        self.worker = _worker_id()

    def deadline(self) -> datetime:
        """When a lease taken or renewed now expires."""
        return self._clock.now() + self._ttl

    def start(self, server_id: str, session: Session | None = None) -> BuildLease | None:
        """Turn this worker's queued lease into a build under a fresh token (in ``session``'s
        transaction when given); None when the server is gone, placed, or was taken over by
        a sweep (this worker was too slow)."""
        return self._swap(server_id, S.build_owner == self.worker, session=session)

    def start_many(self, server_ids: Sequence[str], session: Session) -> dict[str, BuildLease]:
        """``start`` for a batch of this worker's queued builds, in one statement of
        ``session``'s transaction: the leases taken, by server id.  They share one token;
        every lease operation names its server too, so each server stays fenced on its own."""
        if not server_ids:
            return {}
        token = f"{self.worker}#{uuid.uuid4().hex[:8]}"
        taken = session.scalars(_START_MANY, {
            "servers": list(server_ids), "worker": self.worker, "token": token,
            "until": self.deadline()}).all()
        return {server_id: BuildLease(server_id, token) for server_id in taken}

    def take_over(self, orphan: Orphan) -> BuildLease | None:
        """Take an expired lease; None when another sweeper (or the owner) got there first."""
        owner = S.build_owner.is_(None) if orphan.owner is None else \
            S.build_owner == orphan.owner
        return self._swap(orphan.server_id, owner, self._expired_clause())

    def _swap(self, server_id: str, *conditions: ColumnElement[bool],
              session: Session | None = None) -> BuildLease | None:
        lease = BuildLease(server_id, f"{self.worker}#{uuid.uuid4().hex[:8]}")
        swap = (update(S).where(*_unplaced(server_id), *conditions)
                .values(build_owner=lease.token, build_lease_until=self.deadline())
                .execution_options(synchronize_session=False))
        with self._db.transaction(session) as s:
            return lease if s.execute(swap).rowcount == 1 else None

    def fence_delete(self, server_id: str) -> BuildLease | None:
        """Mark the server DELETED under a lease of this worker's, whatever it was doing:
        every build step after this finds it GONE.  None when it is gone already or another
        live delete holds it."""
        lease = BuildLease(server_id, f"{self.worker}#delete-{uuid.uuid4().hex[:8]}")
        with self._db.transaction() as s:
            result = s.execute(update(S).where(
                S.id == server_id, or_(S.status != _DELETED, self._expired_clause()))
                .values(status=_DELETED, task_state="deleting", build_owner=lease.token,
                        build_lease_until=self.deadline())
                .execution_options(synchronize_session=False))
            return lease if result.rowcount == 1 else None

    def expired_deletes(self) -> tuple[str, ...]:
        """Servers whose delete was fenced but never finished (its worker died)."""
        with self._db.transaction() as s:
            return tuple(s.scalars(select(S.id).where(S.status == _DELETED,
                                                      self._expired_clause())
                                   .order_by(S.created_at, S.id)))

    def renew(self, lease: BuildLease) -> LeaseState:
        """Extend the lease if it is still ours; say why not otherwise."""
        with self._db.transaction() as s:
            result = s.execute(_RENEW, {"server": lease.server_id, "token": lease.token,
                                        "until": self.deadline()})
            if result.rowcount == 1:
                return LeaseState.HELD
            return _lost_or_gone(s, lease.server_id)

    def settle(self, s: Session, lease: BuildLease, **values: object) -> LeaseState:
        """In ``s``: write ``values`` on the server and clear the lease, only if still ours."""
        result = s.execute(update(S).where(S.id == lease.server_id,
                                           S.build_owner == lease.token)
                           .values(build_owner=None, build_lease_until=None, **values)
                           .execution_options(synchronize_session=False))
        if result.rowcount == 1:
            return LeaseState.HELD
        return _lost_or_gone(s, lease.server_id)

    def settle_on_hosts(self, s: Session, placed: Sequence[tuple[BuildLease, str]],
                        **values: object) -> list[LeaseState]:
        """``settle`` for each (lease, host): the server placed on its host with ``values``,
        in one UPDATE per lease token (a batch's leases share one), each server only if its
        lease is still ours; each lease's state, in order."""
        held: set[str] = set()
        tokens = sorted({lease.token for lease, _host in placed})
        columns = tuple(sorted(values))
        for token in tokens:
            hosts = {lease.server_id: host for lease, host in placed if lease.token == token}
            params: dict[str, object] = {"servers": sorted(hosts), "token": token}
            for i, (server_id, host) in enumerate(hosts.items()):
                params[f"server{i}"], params[f"host{i}"] = server_id, host
            params.update((f"set_{column}", values[column]) for column in columns)
            held.update(s.scalars(_settle_on_hosts(len(hosts), columns), params).all())
        return [LeaseState.HELD if lease.server_id in held else _lost_or_gone(s, lease.server_id)
                for lease, _host in placed]

    def expired(self) -> tuple[Orphan, ...]:
        """Servers in BUILD, not yet placed on a host, whose lease has run out (or never
        existed: rows from before the lease), oldest first."""
        with self._db.transaction() as s:
            rows = s.execute(select(S.id, S.build_owner).where(
                S.status == _BUILD, S.host.is_(None), self._expired_clause())
                .order_by(S.created_at, S.id)).all()
            return tuple(Orphan(r.id, r.build_owner) for r in rows)

    def _expired_clause(self) -> ColumnElement[bool]:
        return or_(S.build_lease_until.is_(None), S.build_lease_until < self._clock.now())


def _lost_or_gone(s: Session, server_id: str) -> LeaseState:
    status = s.scalar(select(S.status).where(S.id == server_id))
    return LeaseState.LOST if status not in (None, _DELETED) else LeaseState.GONE


def hold_lease(s: Session, lease_token: str, server_id: str) -> bool:
    """In ``s``: lock the server row if ``lease_token`` still holds it (a claim's fence)."""
    return s.execute(_HOLD, {"server": server_id, "token": lease_token}).rowcount == 1
