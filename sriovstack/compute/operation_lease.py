"""The operation lease: the build lease generalised to a placed server's multi-step operations
(interface attach and detach, shelve, ...), on the same two columns of the server row.

A multi-step operation first takes the lease (one conditional UPDATE: the server is placed,
in a status the operation starts from, no task runs and no live lease is held), then does its
steps, each claim fenced by the lease token (``hold_lease``), and ``release``s it with its
final values in one conditional UPDATE. A worker killed at any step leaves the lease to
expire; the sweep (``expired``, ``take_over``: once, however many sweepers race) then hands
the server to the operation's rollback, which undoes what the dead worker left (each undo
idempotent and fenced). A delete overrides the lease as it overrides a build's
(``BuildLeases.fence_delete``), so every later step of the operation finds the server GONE.

The build lease's own sweep looks only at unplaced servers in BUILD, this one only at placed
servers (or shelved ones, which have no host): the two never take the same row.
"""

from __future__ import annotations

import uuid
import logging
from collections.abc import Callable, Iterable, Mapping

from sqlalchemy import ColumnElement, or_, select, update

from sriovstack.clock import Clock
from sriovstack.compute.build_lease import BuildLease, BuildLeases, LeaseState, Orphan
from sriovstack.db import Database
from sriovstack.db.models import ServerRow
from sriovstack.wire import ServerStatus

__all__ = ["OperationLeases", "OperationRecovery"]

_LOG = logging.getLogger(__name__)
S = ServerRow
_NOT_OPERABLE = (ServerStatus.BUILD.value, ServerStatus.DELETED.value)


class OperationLeases:
    """Operation leases of one worker, sharing the build leases' clock, TTL and worker id."""

    def __init__(self, db: Database, builds: BuildLeases, clock: Clock) -> None:
        self._db = db
        self._builds = builds
        self._clock = clock

    def take(self, server_id: str, kind: str, statuses: Iterable[ServerStatus], *,
             placed: bool = True, **values: object) -> BuildLease | None:
        """The lease for ``kind`` (an operation name) on ``server_id`` when it is in one of
        ``statuses``, placed on a host (or not, ``placed=False``: a shelved server), with no
        task running and no live lease, writing ``values`` (a task_state) in the same UPDATE;
        None otherwise (the caller reads why)."""
        lease = BuildLease(server_id, f"{self._builds.worker}#{kind}-{uuid.uuid4().hex[:8]}")
        where = [S.id == server_id, S.status.in_([s.value for s in statuses]),
                 S.task_state.is_(None), self._free()]
        where.append(S.host.is_not(None) if placed else S.host.is_(None))
        with self._db.transaction() as s:
            done = s.execute(update(S).where(*where).values(
                build_owner=lease.token, build_lease_until=self._builds.deadline(), **values)
                .execution_options(synchronize_session=False))
            return lease if done.rowcount == 1 else None

    def renew(self, lease: BuildLease) -> LeaseState:
        """Extend the lease if it is still ours (see BuildLeases.renew)."""
        return self._builds.renew(lease)

    def release(self, lease: BuildLease, **values: object) -> LeaseState:
        """Write ``values`` on the server and drop the lease, only if still ours."""
        with self._db.transaction() as s:
            return self._builds.settle(s, lease, **values)

    def expired(self) -> tuple[Orphan, ...]:
        """Servers past BUILD (not being deleted) whose operation lease ran out: the worker
        that held it died at some step."""
        with self._db.transaction() as s:
            rows = s.execute(select(S.id, S.build_owner).where(
                S.status.not_in(_NOT_OPERABLE), S.build_owner.is_not(None),
                S.build_lease_until < self._clock.now())
                .order_by(S.created_at, S.id)).all()
            return tuple(Orphan(r.id, r.build_owner) for r in rows)

    def take_over(self, orphan: Orphan) -> BuildLease | None:
        """Take an expired operation lease for the rollback; None when another sweeper (or
        the owner, renewing late) got there first."""
        lease = BuildLease(orphan.server_id,
                           f"{self._builds.worker}#sweep-{uuid.uuid4().hex[:8]}")
        with self._db.transaction() as s:
            done = s.execute(update(S).where(
                S.id == orphan.server_id, S.status.not_in(_NOT_OPERABLE),
                S.build_owner == orphan.owner,
                S.build_lease_until < self._clock.now())
                .values(build_owner=lease.token, build_lease_until=self._builds.deadline())
                .execution_options(synchronize_session=False))
            return lease if done.rowcount == 1 else None

    def _free(self) -> ColumnElement[bool]:
        return or_(S.build_owner.is_(None),
                   S.build_lease_until < self._clock.now())


class OperationRecovery:
    """The sweep of expired operation leases: each server whose operation's worker died goes,
    under a lease taken over once, to the handler of its task_state (``None``: the default,
    an operation that sets no task, such as an interface attach or detach)."""

    def __init__(self, db: Database, leases: OperationLeases,
                 handlers: Mapping[str | None, Callable[[BuildLease], None]]) -> None:
        self._db = db
        self._leases = leases
        self._handlers = dict(handlers)

    def recover(self) -> tuple[str, ...]:
        """Finish or roll back every operation whose lease expired; the servers handled."""
        done: list[str] = []
        for orphan in self._leases.expired():
            lease = self._leases.take_over(orphan)
            if lease is None:
                continue
            with self._db.transaction() as s:
                task = s.scalar(select(S.task_state).where(S.id == orphan.server_id))
            handler = self._handlers.get(task, self._handlers[None])
            _LOG.warning("server %s: the operation lease of %s expired (task %s); recovering",
                         orphan.server_id, orphan.owner, task)
            handler(lease)
            done.append(orphan.server_id)
        return tuple(done)
