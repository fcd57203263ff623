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

from sqlalchemy import BigInteger, Text, bindparam, cast, func, insert, select, update
from sqlalchemy.orm import Session

from sriovstack.db.models import HostRow, SchedulerRevisionRow

__all__ = ["touch_hosts", "own_stamp", "read_changed", "Changed", "TRANSACTION_STAMP"]

_ROW = 1


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


@dataclass(frozen=True, slots=True)
class Changed:
    """(id, generation) of the hosts stamped since the last read, and where the next starts."""

    hosts: tuple[tuple[str, int], ...]
    next_since: int


def read_changed(session: Session, since: int) -> Changed:
    """The hosts with ``revision >= since`` (all of them for since < 0), in one statement."""
    if _postgresql(session):
        # The snapshot's xmin and the hosts come from one statement, so from one snapshot.
        rows = session.execute(_CHANGED_PG, {"since": since}).all()
        return Changed(tuple((r.id, r.generation) for r in rows if r.id is not None),
                       int(rows[0].xmin))
    rows = session.execute(_CHANGED, {"since": since}).all()
    return Changed(tuple((r.id, r.generation) for r in rows),
                   max([since, *(r.revision + 1 for r in rows)]))


# ``read_changed``'s statements, built once (every scheduler decision reads them first).
_H = HostRow.__table__.c
_XMIN = select(_xid(func.pg_snapshot_xmin(func.pg_current_snapshot())).label("xmin")).subquery()
_CHANGED_PG = (select(_XMIN.c.xmin, _H.id, _H.generation).select_from(_XMIN)
               .outerjoin(HostRow.__table__, _H.revision >= bindparam("since")))
_CHANGED = select(_H.id, _H.generation, _H.revision).where(_H.revision >= bindparam("since"))
