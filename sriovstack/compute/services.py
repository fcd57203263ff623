"""Compute services as nova's os-services shows them: one ``nova-compute`` per host, enabled
or disabled (with the reason), up or down (its heartbeat, or forced down), and deleted only
while it hosts no server.  ComputeFilter reads the same rows (disabled and forced-down hosts
get nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sriovstack.clock import Clock
from sriovstack.compute.scheduler.revision import note_removed, touch_hosts
from sriovstack.db import Database
from sriovstack.db.models import HostRow, ServerRow
from sriovstack.errors import Conflict, ErrorKind, Invalid, NotFound
from sriovstack.identity import Caller, policy

__all__ = ["ComputeService", "ComputeServiceRegistry", "COMPUTE_BINARY", "service_number"]

COMPUTE_BINARY = "nova-compute"
_REASON_MAX = 255  # nova's disabled_reason column


@dataclass(frozen=True, slots=True)
class ComputeService:
    """One os-services row: ``id`` is the host's uuid (nova's from 2.53)."""

    id: str
    binary: str
    host: str
    zone: str
    enabled: bool
    up: bool
    forced_down: bool
    disabled_reason: str | None
    updated_at: datetime | None

    @property
    def number(self) -> int:
        """The integer id the API shows below 2.53: stable, drawn from the uuid."""
        return service_number(self.id)


def service_number(host_id: str) -> int:
    """The integer id of the service of host ``host_id`` (the first 48 bits of its uuid)."""
    return int(host_id.replace("-", "")[:12], 16)


class ComputeServiceRegistry:
    """List, disable/enable, force down and delete compute services (admin only)."""

    def __init__(self, db: Database, clock: Clock, service_down_time: float = 60.0) -> None:
        self._db = db
        self._clock = clock
        self._down_after = timedelta(seconds=service_down_time)

    def list(self, caller: Caller, host: str | None = None,
             binary: str | None = None) -> tuple[ComputeService, ...]:
        """Every compute service, by host; ``host``/``binary`` filter as nova's do."""
        policy.require_admin(caller, "os-services")
        if binary is not None and binary != COMPUTE_BINARY:
            return ()
        with self._db.transaction() as session:
            query = select(HostRow).order_by(HostRow.name)
            if host is not None:
                query = query.where(HostRow.name == host)
            return tuple(self._view(r) for r in session.scalars(query))

    def set_status(self, caller: Caller, service: str, enabled: bool,
                   reason: str | None = None) -> ComputeService:
        """Enable or disable scheduling onto the service's host (``service`` an id or, as the
        pre-2.53 API names it, a host name); Invalid for a reason over 255 characters."""
        policy.require_admin(caller, "os-services")
        if reason is not None and not 1 <= len(reason) <= _REASON_MAX:
            raise Invalid(f"disabled_reason must be 1 to {_REASON_MAX} characters",
                          field="disabled_reason", value=reason)
        with self._db.transaction() as session:
            row = _service_row(session, service)
            row.enabled = enabled
            row.disabled_reason = None if enabled else reason
            return self._changed(session, row)

    def force_down(self, caller: Caller, service: str, forced: bool) -> ComputeService:
        """Mark the service's host down whatever its heartbeat says (or undo it)."""
        policy.require_admin(caller, "os-services")
        with self._db.transaction() as session:
            row = _service_row(session, service)
            row.forced_down = forced
            return self._changed(session, row)

    def delete(self, caller: Caller, service: str) -> None:
        """Forget the host and its devices; Conflict while a server is on it (nova's 409).
        Its agent registers it again at its next inventory report, as a restarted
        nova-compute does."""
        policy.require_admin(caller, "os-services")
        with self._db.transaction() as session:
            row = _service_row(session, service)
            on_it = session.scalar(select(func.count()).select_from(ServerRow)
                                   .where(ServerRow.host == row.name)) or 0
            if on_it:
                raise Conflict("Unable to delete compute service that is hosting instances. "
                               "Migrate or delete the instances first.",
                               value=row.name, fix="delete or move its servers first")
            session.delete(row)
            note_removed(session)  # the schedulers' indexes drop it at their next read

    def _changed(self, session: Session, row: HostRow) -> ComputeService:
        row.generation += 1
        session.flush()
        touch_hosts(session, (row.id,))
        return self._view(row)

    def _view(self, row: HostRow) -> ComputeService:
        beat = row.last_heartbeat
        if beat is not None and beat.tzinfo is None:  # SQLite hands it back naive (UTC)
            beat = beat.replace(tzinfo=timezone.utc)
        up = (not row.forced_down and beat is not None
              and self._clock.now() - beat <= self._down_after)
        return ComputeService(id=row.id, binary=COMPUTE_BINARY, host=row.name,
                              zone=row.availability_zone, enabled=row.enabled, up=up,
                              forced_down=row.forced_down, disabled_reason=row.disabled_reason,
                              updated_at=beat)


def _service_row(session: Session, service: str) -> HostRow:
    row = session.get(HostRow, service) or session.scalar(
        select(HostRow).where(HostRow.name == service))
    if row is None and service.isdigit():  # the integer ids below 2.53
        row = next((r for r in session.scalars(select(HostRow))
                    if service_number(r.id) == int(service)), None)
    if row is None:
        raise NotFound(f"Service {service} could not be found.",
                       kind=ErrorKind.SERVICE_NOT_FOUND, value=service)
    return row
