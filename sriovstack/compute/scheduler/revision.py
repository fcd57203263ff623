"""Host revisions: every transaction that changes what the scheduler sees of a host stamps the
host's ``revision``, so the index reloads only the hosts stamped since its last read.

On PostgreSQL the stamp is the writing transaction's own id (``pg_current_xact_id()``) and a
reader remembers the oldest transaction still running when it read (``pg_snapshot_xmin`` of
its snapshot, see ``read_changed``): every transaction with a smaller id had finished, so its
stamps were in that read, and the next read takes ``revision >= xmin``. No row is shared by
all writers, so claims on different hosts never queue on each other. A stamp can be re-read
while an older transaction runs; the index reloads a host only when its generation moved.

SQLite runs one writer at a time, so a counter row (``scheduler_revision``) bumped by every
such transaction gives stamps that commit in order; a reader takes ``revision >= last + 1``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import (BigInteger, Text, and_, bindparam, cast, func, insert, literal, select,
                        update)
from sqlalchemy.orm import Session

from sriovstack.db.models import HostRow, SchedulerRevisionRow

__all__ = ["touch_hosts", "own_stamp", "read_changed", "note_removed", "Changed",
           "TRANSACTION_STAMP"]

_ROW = 1  # SQLite's counter of scheduler-visible changes
_REMOVED = 2  # both dialects: hosts removed (os-services delete), so readers look for gone rows


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _xid(expression):  # type: ignore[no-untyped-def]
    return cast(cast(expression, Text), BigInteger)  # xid8 has no cast to bigint


# A PostgreSQL writer's stamp: its transaction's id (built once; statements built once set it).
TRANSACTION_STAMP = _xid(func.pg_current_xact_id())


def own_stamp(session: Session):  # type: ignore[no-untyped-def]
    """The stamp a writer can set in an UPDATE of the hosts rows it locks anyway (so no
    ``touch_hosts`` statement is needed): the transaction's id (``TRANSACTION_STAMP``) on
    PostgreSQL; None on SQLite, whose counter must be bumped by ``touch_hosts``."""
    return TRANSACTION_STAMP if _postgresql(session) else None


def touch_hosts(session: Session, host_ids: Iterable[str]) -> None:
    """Stamp ``host_ids`` with a new revision (call it after their rows are locked)."""
    ids = sorted(set(host_ids))
    if not ids:
        return
    h = HostRow
    if _postgresql(session):
        stamp = TRANSACTION_STAMP
    else:
        r = SchedulerRevisionRow
        stamp = session.scalar(update(r).where(r.id == _ROW).values(value=r.value + 1)
                               .returning(r.value).execution_options(synchronize_session=False))
        if stamp is None:  # a schema not made by the migrations: start the counter
            stamp = 1
            session.execute(insert(r).values(id=_ROW, value=stamp))
    session.execute(update(h).where(h.id.in_(ids)).values(revision=stamp)
                    .execution_options(synchronize_session=False))


def note_removed(session: Session) -> None:
    """Count a host row deleted in ``session``'s transaction: a deleted row carries no stamp,
    so the index learns of it from this counter (``Changed.removed``), not by counting hosts
    at every read."""
    r = SchedulerRevisionRow
    counted = session.execute(update(r).where(r.id == _REMOVED).values(value=r.value + 1)
                              .execution_options(synchronize_session=False)).rowcount
    if not counted:  # a schema not made by the migrations: start the counter
        session.execute(insert(r).values(id=_REMOVED, value=1))


@dataclass(frozen=True, slots=True)
class Changed:
    """(id, generation) of the hosts stamped since the last read, where the next starts, and
    how many hosts were ever removed (``note_removed``) as of the same read."""

    hosts: tuple[tuple[str, int], ...]
    next_since: int
    removed: int


def read_changed(session: Session, since: int) -> Changed:
    """The hosts with ``revision >= since`` (all of them for since < 0), in one statement."""
    # One statement: a one-row head (the snapshot's xmin on PostgreSQL, the removed count)
    # joined to the changed hosts, so all of it comes from one snapshot.
    if _postgresql(session):
        rows = session.execute(_CHANGED_PG, {"since": since}).all()
        next_since = int(rows[0].xmin)
    else:
        rows = session.execute(_CHANGED, {"since": since}).all()
        next_since = max([since, *(r.revision + 1 for r in rows if r.id is not None)])
    return Changed(tuple((r.id, r.generation) for r in rows if r.id is not None), next_since,
                   int(rows[0].removed))


# ``read_changed``'s statements, built once (every scheduler decision reads them first).
_H = HostRow.__table__.c
_REMOVED_COUNT = func.coalesce(select(SchedulerRevisionRow.value).where(
    SchedulerRevisionRow.id == _REMOVED).scalar_subquery(), 0).label("removed")
_HEAD_PG = select(_xid(func.pg_snapshot_xmin(func.pg_current_snapshot())).label("xmin"),
                  _REMOVED_COUNT).subquery()
_HEAD = select(_REMOVED_COUNT).subquery()
# ``since`` and an upper bound that always holds: PostgreSQL estimates a range with both ends
# at 0.5 % of the rows even before ANALYZE and reads ix_hosts_revision, where a lone ``>=``
# is estimated at a third of the hosts and read as a scan of every host (1.5 ms at 5,000).
_STAMPED_SINCE = and_(_H.revision >= bindparam("since"),
                      _H.revision <= literal(2**63 - 1, BigInteger))
_CHANGED_PG = (select(_HEAD_PG.c.xmin, _HEAD_PG.c.removed, _H.id, _H.generation)
               .select_from(_HEAD_PG).outerjoin(HostRow.__table__, _STAMPED_SINCE))
_CHANGED = (select(_HEAD.c.removed, _H.id, _H.generation, _H.revision).select_from(_HEAD)
            .outerjoin(HostRow.__table__, _STAMPED_SINCE))
