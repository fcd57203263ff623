"""The scheduler revision: one counter bumped by every transaction that changes what the
scheduler sees of a host, with the hosts' ``revision`` set to it, so the index reloads only
the hosts with ``revision > seen``.

Call ``touch_hosts`` last in the transaction (after the host and device rows are locked): the
counter row's lock is then the last one taken, so it cannot deadlock, and revisions commit in
the order they were handed out (a reader never sees revision n+1 before n).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from sriovstack.db.models import HostRow, SchedulerRevisionRow

__all__ = ["touch_hosts"]

_ROW = 1


def touch_hosts(session: Session, host_ids: Iterable[str]) -> int:
    """Bump the scheduler revision and stamp it on ``host_ids``; the new revision."""
    ids = sorted(set(host_ids))
    r = SchedulerRevisionRow
    value = session.scalar(update(r).where(r.id == _ROW).values(value=r.value + 1)
                           .returning(r.value).execution_options(synchronize_session=False))
    if value is None:  # a schema not made by the migrations: start the counter
        value = 1
        session.execute(insert(r).values(id=_ROW, value=value))
    if ids:
        session.execute(update(HostRow).where(HostRow.id.in_(ids)).values(revision=value)
                        .execution_options(synchronize_session=False))
    return int(value)
