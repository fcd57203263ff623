"""A placed server's power operations as nova runs them (stop/start, pause/unpause,
suspend/resume, reboot soft/hard, rebuild): the one table of states, how an operation starts
and how the agent's report completes it, each recorded as an instance action with its event.

An operation is a change of the desired state, not a process: ``begin`` is one conditional
UPDATE (status and task_state, only from the states nova allows, only when no other task runs)
plus the action record, in one transaction; the host's revision is then bumped and the
compute agent converges the guest to the ``target`` the task implies (a ``replug`` destroys and
spawns it again, its VFs re-plugged with MAC, VLAN, spoof check and link state re-applied)
and reports; ``complete`` moves the server to the final status in one transaction. A killed
API worker leaves either the old state or the task recorded; a killed agent converges again
when it restarts (the task stays until the report), so no lease is needed: the VF claim and
the port binding are never touched by these operations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import CTE, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from sriovstack.compute.instance_actions import InstanceActionLog
from sriovstack.compute.types import Operation, RebuildAction
from sriovstack.db import one_of
from sriovstack.db.models import FaultRow, MigrationRow, ServerRow
from sriovstack.errors import Conflict, ErrorKind
from sriovstack.wire import ServerOutcome, ServerStatus

__all__ = ["Step", "STEPS", "Settled", "target_of", "begin", "complete", "stopped_moves",
           "Placed", "apply_rebuild", "invalid_state", "Reported", "lock_reported",
           "complete_build", "built_cte", "Settling"]

St = ServerStatus


@dataclass(frozen=True, slots=True)
class Step:
    """One operation: where it may start, what nova shows meanwhile, where it ends."""

    action: str                     # the instance action's name (nova's)
    event: str                      # its event (nova's compute manager method)
    allowed: tuple[ServerStatus, ...]
    transient: ServerStatus | None  # the status while it runs (None: unchanged)
    task: str                       # the task_state while it runs
    final: ServerStatus
    target: ServerOutcome           # what the agent makes of the guest
    replug: bool                    # destroy and spawn the guest, VFs re-plugged


_ANY = (St.ACTIVE, St.SHUTOFF, St.PAUSED, St.SUSPENDED, St.ERROR)
_RUN, _STOP, _PAUSE = ServerOutcome.RUNNING, ServerOutcome.STOPPED, ServerOutcome.PAUSED
# nova/compute/api.py's check_instance_state per action, and its task states.
STEPS: dict[Operation, Step] = {
    Operation.STOP: Step("stop", "compute_stop_instance", (St.ACTIVE, St.ERROR), None,
                         "powering-off", St.SHUTOFF, _STOP, False),
    Operation.START: Step("start", "compute_start_instance", (St.SHUTOFF,), None,
                          "powering-on", St.ACTIVE, _RUN, True),
    Operation.PAUSE: Step("pause", "compute_pause_instance", (St.ACTIVE,), None, "pausing",
                          St.PAUSED, _PAUSE, False),
    Operation.UNPAUSE: Step("unpause", "compute_unpause_instance", (St.PAUSED,), None,
                            "unpausing", St.ACTIVE, _RUN, False),
    Operation.SUSPEND: Step("suspend", "compute_suspend_instance", (St.ACTIVE,), None,
                            "suspending", St.SUSPENDED, _STOP, False),
    Operation.RESUME: Step("resume", "compute_resume_instance", (St.SUSPENDED,), None,
                           "resuming", St.ACTIVE, _RUN, True),
    Operation.REBOOT_SOFT: Step("reboot", "compute_reboot_instance", (St.ACTIVE,), St.REBOOT,
                                "rebooting", St.ACTIVE, _RUN, False),
    Operation.REBOOT_HARD: Step("reboot", "compute_reboot_instance", _ANY, St.HARD_REBOOT,
                                "reboot_started_hard", St.ACTIVE, _RUN, True),
    Operation.REBUILD: Step("rebuild", "compute_rebuild_instance",
                            (St.ACTIVE, St.SHUTOFF, St.ERROR), St.REBUILD, "rebuild_spawning",
                            St.ACTIVE, _RUN, True),
    # The moves (compute/migration.py starts them; these are the target agent's part):
    # the guest is spawned on the target's VF and the report ends the task.
    Operation.RESIZE: Step("resize", "compute_finish_resize", (St.ACTIVE,), St.RESIZE,
                           "resize_finish", St.VERIFY_RESIZE, _RUN, True),
    Operation.REVERT_RESIZE: Step("revertResize", "compute_finish_revert_resize",
                                  (St.VERIFY_RESIZE,), St.REVERT_RESIZE, "resize_reverting",
                                  St.ACTIVE, _RUN, True),
    Operation.LIVE_MIGRATE: Step("live-migration", "compute_live_migration", (St.ACTIVE,),
                                 St.MIGRATING, "migrating", St.ACTIVE, _RUN, True),
}
_BY_TASK = {step.task: step for step in STEPS.values()}
_RESTING = {St.SHUTOFF: _STOP, St.SUSPENDED: _STOP, St.PAUSED: _PAUSE}
# A resize or cold migration of a SHUTOFF server keeps it powered off (nova's finish_resize
# and finish_revert_resize with power_on False): these statuses then aim at a stopped guest.
_MOVING = (St.RESIZE, St.VERIFY_RESIZE, St.REVERT_RESIZE)


def _aim(step: Step, stopped: bool) -> tuple[ServerOutcome, ServerStatus]:
    """(the guest's target, the final status) of ``step`` for a server moved while stopped."""
    if stopped and step.transient in _MOVING:
        return _STOP, St.SHUTOFF if step.final is St.ACTIVE else step.final
    return step.target, step.final


class Placed(Protocol):
    """What ``stopped_moves`` reads of a server: a ServerRow, or a row of those columns."""

    @property
    def id(self) -> str: ...

    @property
    def status(self) -> str: ...


def stopped_moves(session: Session, rows: Sequence[Placed]) -> set[str]:
    """The ids of those of ``rows`` being moved (resize/cold migration under way or awaiting
    confirmation) whose move, their newest migration, started from SHUTOFF."""
    server_ids = sorted({row.id for row in rows if St(row.status) in _MOVING})
    if not server_ids:
        return set()
    newest = (select(MigrationRow.server_id, func.max(MigrationRow.id).label("id"))
              .where(MigrationRow.server_id.in_(server_ids))
              .group_by(MigrationRow.server_id).subquery())
    return set(session.scalars(select(MigrationRow.server_id).join(
        newest, newest.c.id == MigrationRow.id).where(
        MigrationRow.old_status == St.SHUTOFF.value)))


@dataclass(frozen=True, slots=True)
class Settled:
    """What the agent's desired state says of a server: its guest's target, and whether to
    re-plug it and report."""

    target: ServerOutcome
    replug: bool
    awaiting: bool


def target_of(status: ServerStatus, task_state: str | None, stopped: bool = False) -> Settled:
    """The guest a server in ``status`` with ``task_state`` should have; ``stopped``: it is
    being moved from SHUTOFF (stopped_moves), so its guest stays off."""
    step = _BY_TASK.get(task_state or "")
    if step is not None:
        return Settled(_aim(step, stopped)[0], step.replug, True)
    if stopped and status in _MOVING:
        return Settled(_STOP, False, False)
    return Settled(_RESTING.get(status, _RUN), False, status is St.BUILD)


def invalid_state(action: str, server_id: str, status: str, task_state: str | None,
                  allowed: str) -> Conflict:
    """nova's InstanceInvalidState (409) for ``action`` on a server in ``status``/``task_state``;
    ``allowed`` says where the action starts from."""
    why = f"task_state {task_state}" if task_state else f"vm_state {status.lower()}"
    return Conflict(f"Cannot '{action}' instance {server_id} while it is in {why}",
                    kind=ErrorKind.INSTANCE_INVALID_STATE, value=server_id,
                    fix=f"'{action}' starts from {allowed} with no task running")


def begin(session: Session, row: ServerRow, op: Operation, log: InstanceActionLog,
          request_id: str, user_id: str, now: datetime) -> None:
    """Start ``op`` on ``row`` (a placed server) and record it, in ``session``.

    Raises Conflict as nova does (InstanceInvalidState, 409) when the server is not placed,
    not in a state the operation starts from, or another task runs."""
    step = STEPS[op]
    status = ServerStatus(row.status)
    if row.host is None or status not in step.allowed or row.task_state is not None:
        raise invalid_state(op.value, row.id, row.status, row.task_state,
                            ", ".join(s.value for s in step.allowed))
    values: dict[str, object] = {"task_state": step.task, "updated_at": now}
    if step.transient is not None:
        values["status"] = step.transient.value
    done = session.execute(update(ServerRow).where(
        ServerRow.id == row.id, ServerRow.status == row.status,
        ServerRow.task_state.is_(None)).values(**values)
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:  # another request started a task first
        raise Conflict(f"Cannot '{op.value}' instance {row.id}: another task started first",
                       kind=ErrorKind.INSTANCE_INVALID_STATE, value=row.id)
    log.start(session, row.id, step.action, step.event, request_id, user_id, row.host, now)


@dataclass(frozen=True, slots=True)
class Reported:
    """The columns of a server an agent's report reads (locked) and writes."""

    id: str
    status: str
    task_state: str | None
    host: str | None
    launched_at: datetime | None


class Settling(Protocol):
    """What settling a move after a report reads of its server: a ServerRow, or ``Reported``
    as ``complete`` wrote it."""

    @property
    def id(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def task_state(self) -> str | None: ...

    @property
    def host(self) -> str | None: ...


S = ServerRow
# The statements of an agent's report (every boot ends with one), built once.
_LOCK_REPORTED = (select(S.id, S.status, S.task_state, S.host, S.launched_at)
                  .where(S.id == bindparam("server")).with_for_update())
# The writes are on the Core table: an ORM-enabled UPDATE costs about twice the CPU, and
# these change no row the session holds.
_ST = ServerRow.__table__
_SET_REPORTED = (update(_ST).where(_ST.c.id == bindparam("server"))
                 .values(status=bindparam("to_status"), task_state=None,
                         updated_at=bindparam("now"), launched_at=bindparam("launched")))
# A build's report of a running guest, as ``complete`` applies it (no task of STEPS runs on
# a server in BUILD, whose task_state is the build's own), in the UPDATE that locks the row.
_BUILT = (update(_ST).where(_ST.c.id == bindparam("server"), _ST.c.host == bindparam("on_host"),
                            _ST.c.status == St.BUILD.value,
                            or_(_ST.c.task_state.is_(None),
                                ~one_of(_ST.c.task_state, _BY_TASK)))
          .values(status=St.ACTIVE.value, task_state=None, updated_at=bindparam("now"),
                  launched_at=func.coalesce(_ST.c.launched_at, bindparam("now"))))


def built_cte() -> CTE:
    """``complete_build``'s UPDATE as a CTE of a caller's statement (returning the id)."""
    return _BUILT.returning(_ST.c.id).cte("built")


def lock_reported(session: Session, server_id: str) -> Reported | None:
    """The server's reported columns, its row locked (FOR UPDATE); None when unknown."""
    row = session.execute(_LOCK_REPORTED, {"server": server_id}).first()
    return None if row is None else Reported(*row)


def complete_build(session: Session, server_id: str, host: str, log: InstanceActionLog,
                   now: datetime) -> bool:
    """A running guest's report of a server building on ``host``: ACTIVE, its build's event
    finished, as ``complete`` would do it but in one conditional UPDATE that also takes the
    row's lock. Returns False, having changed and locked nothing, for any other server (not
    on ``host``, not in BUILD, deleted, unknown): ``lock_reported`` and ``complete`` then."""
    done = session.execute(_BUILT, {"server": server_id, "on_host": host, "now": now})
    if done.rowcount != 1:
        return False
    log.finish(session, server_id, "Success", "", now)
    return True


def complete(session: Session, row: Reported, outcome: ServerOutcome, message: str,
             log: InstanceActionLog, now: datetime, stopped: bool = False) -> Reported | None:
    """Apply the agent's report to ``row`` (locked by ``lock_reported``): the running task
    ends at its final status (or ERROR with a fault), a build ends ACTIVE. Returns the row as
    written, or None for a report that completes nothing (the guest is as the server already
    says, or reports an older target)."""
    step = _BY_TASK.get(row.task_state or "")
    building = ServerStatus(row.status) is St.BUILD
    if outcome is ServerOutcome.ERROR:
        after = _set(session, row, St.ERROR, row.launched_at, now)
        _fault(session, row.id, message or "The compute agent reported an error.", now)
        log.finish(session, row.id, "Error", message, now)
        return after
    target, final = _aim(step, stopped) if step is not None else (None, St.ACTIVE)
    if outcome is target:
        after = _set(session, row, final, row.launched_at, now)
    elif building and outcome is _RUN:
        after = _set(session, row, St.ACTIVE, row.launched_at or now, now)
    else:
        return None
    log.finish(session, row.id, "Success", "", now)
    return after


def _set(session: Session, row: Reported, status: ServerStatus, launched: datetime | None,
         now: datetime) -> Reported:
    """Write ``status`` with no task (the row is locked); the row as written."""
    session.execute(_SET_REPORTED, {"server": row.id, "to_status": status.value, "now": now,
                                    "launched": launched})
    return Reported(row.id, status.value, None, row.host, launched)


def _fault(session: Session, server_id: str, text: str, now: datetime) -> None:
    fault = session.get(FaultRow, server_id)
    if fault is None:
        session.add(FaultRow(server_id=server_id, code=500, message=text, created=now))
    else:
        fault.code, fault.message, fault.created = 500, text, now


def apply_rebuild(row: ServerRow, rebuild: RebuildAction) -> None:
    """A rebuild's new image, name, metadata and description on the server row."""
    row.image_id = rebuild.image_ref
    if rebuild.name is not None:
        row.name = rebuild.name
    if rebuild.metadata is not None:
        row.meta = dict(rebuild.metadata)
    if rebuild.set_description:
        row.description = rebuild.description
