"""The instance action log (nova's os-instance-actions): one action per request that changed a
server, each with its events (started, finished, result), written in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import CTE, ColumnElement, Update, bindparam, insert, select, update
from sqlalchemy.orm import Session

from sriovstack.compute.types import InstanceAction, InstanceActionEvent
from sriovstack.db.models import InstanceActionEventRow, InstanceActionRow, ServerRow
from sriovstack.errors import ErrorKind, NotFound

__all__ = ["InstanceActionLog", "EventRecord", "STARTED_CTE", "finished_after", "started_values"]

A, E = InstanceActionRow, InstanceActionEventRow


@dataclass(frozen=True, slots=True)
class EventRecord:
    """Who noticed what, where and when, for an action recorded whole (``record``):
    the request that carried the news, its user, the host, the result and its details."""

    request_id: str
    user_id: str
    host: str | None
    now: datetime
    result: str  # Success or Error, as nova's events
    details: str = ""


# The statements of ``finish`` (every agent report ends an event), built once on the Core
# tables (an ORM-enabled UPDATE costs about twice the CPU; these change no row the session
# holds).
_AT, _ET = A.__table__, E.__table__
_NEWEST_PENDING = (select(_ET.c.id).join(_AT, _AT.c.id == _ET.c.action_id)
                   .where(_AT.c.server_id == bindparam("server"), _ET.c.finish_time.is_(None))
                   .order_by(_ET.c.start_time.desc(), _ET.c.id.desc()).limit(1)
                   .scalar_subquery())
_FINISH_EVENT = (update(_ET).where(_ET.c.id == _NEWEST_PENDING)
                 .values(finish_time=bindparam("finished"), result=bindparam("outcome"),
                         traceback=bindparam("trace"))
                 .returning(_ET.c.action_id))
_TOUCH_ACTION = (update(_AT).where(_AT.c.id == bindparam("action_row"))
                 .values(updated_at=bindparam("touched")))
_FAIL_ACTION = _TOUCH_ACTION.values(message="Error")
# PostgreSQL runs the two as one statement: the event's UPDATE in a WITH, its action's after
# it (the action row is locked once the event's is, as with two statements).
def _action_touched(finished: CTE, **extra: str) -> Update:
    """The UPDATE of the action whose event ``finished`` (a CTE of ``_FINISH_EVENT``) ended."""
    return (update(_AT).where(_AT.c.id == finished.c.action_id)
            .values(updated_at=bindparam("touched"), **extra))


_FINISH_PG = {result: _action_touched(_FINISH_EVENT.cte("finished"), **extra)
              for result, extra in (("Success", {}), ("Error", {"message": "Error"}))}


def finished_after(gate: ColumnElement[bool]) -> CTE:
    """``finish`` with Success as CTEs of a caller's PostgreSQL statement, run only where
    ``gate`` holds: the event's UPDATE, then its action's (the CTE returned, its id)."""
    finished = _FINISH_EVENT.where(gate).cte("finished")
    return _action_touched(finished).returning(_AT.c.id).cte("touched")


# ``start``'s writes (every create and action starts one): Core INSERTs, no ORM objects.
_INSERT_ACTION = insert(A.__table__)
_INSERT_EVENT = insert(E.__table__)
# PostgreSQL inserts the action and its event in one statement: the action's INSERT in a WITH,
# the event's reading the action's id from it (its foreign key is checked at the statement's
# end, when the action row exists).
_STARTED = (insert(A.__table__).values({c: bindparam(c) for c in (
    "server_id", "request_id", "action", "project_id", "user_id", "start_time",
    "updated_at")}).returning(A.id).cte("started"))
_START_PG = insert(E.__table__).from_select(
    ["action_id", "event", "host", "start_time"],
    select(_STARTED.c.id, bindparam("event", type_=E.event.type),
           bindparam("host", type_=E.host.type), bindparam("start_time", type_=E.start_time.type)))
# ``start`` with an event as a CTE of a caller's PostgreSQL statement (a create's one INSERT of
# its server, its ports and this), written wherever that statement names it; its parameters
# are ``started_values``'.
STARTED_CTE = _START_PG.returning(E.action_id).cte("logged")


def _action_values(server_id: str, action: str, request_id: str, user_id: str, now: datetime,
                   project_id: str) -> dict[str, object]:
    """The row of an action started now (``_INSERT_ACTION``'s parameters)."""
    return {"server_id": server_id, "request_id": request_id, "action": action,
            "project_id": project_id, "user_id": user_id, "start_time": now,
            "updated_at": now}


def started_values(server_id: str, action: str, event: str, request_id: str, user_id: str,
                   host: str | None, now: datetime, project_id: str) -> dict[str, object]:
    """The parameters of an action started now with its ``event`` (``_START_PG``,
    ``STARTED_CTE``)."""
    return {**_action_values(server_id, action, request_id, user_id, now, project_id),
            "event": event, "host": host}


class InstanceActionLog:
    """Records and reads instance actions; every method works inside a given session."""

    def start(self, session: Session, server_id: str, action: str, event: str | None,
              request_id: str, user_id: str, host: str | None, now: datetime, *,
              project_id: str | None = None) -> None:
        """Record ``action`` by ``request_id`` with its ``event`` (if any) started now
        (``project_id``: the server's, when the caller knows it; read otherwise). One INSERT
        on PostgreSQL, two on SQLite (an action with no event is one anywhere)."""
        project = project_id if project_id is not None else session.scalar(
            select(ServerRow.project_id).where(ServerRow.id == server_id))
        session.flush()  # the caller's pending changes first, as they were before the action
        if event is not None and session.get_bind().dialect.name == "postgresql":
            session.execute(_START_PG, started_values(server_id, action, event, request_id,
                                                      user_id, host, now, project or ""))
            return
        action_id = session.execute(_INSERT_ACTION, _action_values(
            server_id, action, request_id, user_id, now, project or "")).inserted_primary_key[0]
        if event is not None:
            session.execute(_INSERT_EVENT, {"action_id": action_id, "event": event,
                                            "host": host, "start_time": now})

    def record(self, session: Session, server_id: str, action: str, event: str,
               happened: EventRecord) -> None:
        """Record ``action`` with one ``event`` that started and finished at ``happened.now``
        (something that happened to the server rather than a request that runs: its VF's
        health changed). A failed ``result`` marks the action's message Error, as nova does."""
        project = session.scalar(select(ServerRow.project_id).where(ServerRow.id == server_id))
        row = A(server_id=server_id, request_id=happened.request_id, action=action,
                project_id=project or "", user_id=happened.user_id, start_time=happened.now,
                updated_at=happened.now,
                message=None if happened.result == "Success" else "Error")
        session.add(row)
        session.flush()
        session.add(E(action_id=row.id, event=event, host=happened.host,
                      start_time=happened.now, finish_time=happened.now,
                      result=happened.result, traceback=happened.details or None))

    def finish(self, session: Session, server_id: str, result: str, traceback: str,
               now: datetime) -> None:
        """Finish the server's newest unfinished event with ``result`` (Success or Error).

        Two UPDATEs and no read: the event, found by a subquery, names its action (one
        statement on PostgreSQL)."""
        if session.get_bind().dialect.name == "postgresql":
            session.execute(_FINISH_PG["Success" if result == "Success" else "Error"], {
                "server": server_id, "finished": now, "outcome": result,
                "trace": traceback or None, "touched": now})
            return
        action_id = session.execute(_FINISH_EVENT, {
            "server": server_id, "finished": now, "outcome": result,
            "trace": traceback or None}).scalar()
        if action_id is not None:
            session.execute(_TOUCH_ACTION if result == "Success" else _FAIL_ACTION,
                            {"action_row": action_id, "touched": now})

    def list(self, session: Session, server_id: str) -> tuple[InstanceAction, ...]:
        """The server's actions, newest first, without events."""
        rows = session.scalars(select(A).where(A.server_id == server_id)
                               .order_by(A.start_time.desc(), A.id.desc())).all()
        return tuple(_action(r, ()) for r in rows)

    def get(self, session: Session, server_id: str, request_id: str) -> InstanceAction:
        """One action with its events; NotFound (nova's InstanceActionNotFound) otherwise."""
        row = session.scalars(select(A).where(A.server_id == server_id,
                                              A.request_id == request_id)
                              .order_by(A.id.desc()).limit(1)).first()
        if row is None:
            raise NotFound(f"Action for request_id {request_id} on instance {server_id} not "
                           "found", kind=ErrorKind.INSTANCE_ACTION_NOT_FOUND, value=request_id)
        events = session.scalars(select(E).where(E.action_id == row.id)
                                 .order_by(E.start_time, E.id)).all()
        return _action(row, tuple(InstanceActionEvent(
            e.event, e.start_time, e.finish_time, e.result, e.traceback, e.host)
            for e in events))


def _action(row: InstanceActionRow, events: tuple[InstanceActionEvent, ...]) -> InstanceAction:
    return InstanceAction(action=row.action, server_id=row.server_id,
                          request_id=row.request_id, user_id=row.user_id,
                          project_id=row.project_id, start_time=row.start_time,
                          updated_at=row.updated_at, message=row.message, events=events)
