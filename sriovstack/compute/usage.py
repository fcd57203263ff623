"""os-simple-tenant-usage: what each project's servers used over a period (hours, and the
vCPU-, RAM- and disk-hours their flavors make of them).

Deleted servers leave no row here (a delete removes it), so a period counts the servers that
exist now, from their launch (or creation) to the period's end."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select

from sriovstack.clock import Clock
from sriovstack.db import Database
from sriovstack.db.models import FlavorRow, ServerRow
from sriovstack.errors import Invalid
from sriovstack.identity import Caller, policy
from sriovstack.wire import ServerStatus

__all__ = ["ServerUsage", "ProjectUsage", "UsageService"]

_DELETED = ServerStatus.DELETED.value
_VM_STATE = {"ACTIVE": "active", "BUILD": "building", "ERROR": "error", "SHUTOFF": "stopped",
             "PAUSED": "paused", "SUSPENDED": "suspended"}


@dataclass(frozen=True, slots=True)
class ServerUsage:
    """One server's share of a period."""

    server_id: str
    name: str
    project_id: str
    flavor: str
    vcpus: int
    memory_mb: int
    local_gb: int
    hours: float
    started_at: datetime
    state: str
    uptime: int


@dataclass(frozen=True, slots=True)
class ProjectUsage:
    """One project's usage over ``start``..``stop``."""

    project_id: str
    start: datetime
    stop: datetime
    servers: tuple[ServerUsage, ...]

    @property
    def total_hours(self) -> float:
        return sum(s.hours for s in self.servers)

    @property
    def vcpu_hours(self) -> float:
        return sum(s.hours * s.vcpus for s in self.servers)

    @property
    def memory_mb_hours(self) -> float:
        return sum(s.hours * s.memory_mb for s in self.servers)

    @property
    def local_gb_hours(self) -> float:
        return sum(s.hours * s.local_gb for s in self.servers)


class UsageService:
    """Usage per project over a period."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def period(self, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
        """``start``..``end``, each now when absent (nova's defaults); Invalid when ``end``
        is before ``start``."""
        now = self._clock.now()
        stop = _utc(end) if end else now
        begin = _utc(start) if start else stop
        if stop < begin:
            raise Invalid("Invalid start time. The start time cannot occur after the end "
                          "time.", field="start", value=begin.isoformat())
        return begin, stop

    def list(self, caller: Caller, start: datetime, stop: datetime) -> tuple[ProjectUsage, ...]:
        """Every project's usage (admin only), by project id."""
        policy.require_admin(caller, "listing usage of every project")
        return self._usage(None, start, stop)

    def show(self, caller: Caller, project_id: str, start: datetime,
             stop: datetime) -> ProjectUsage:
        """One project's usage; Forbidden unless the caller's own project or an admin."""
        if not policy.in_scope(caller, project_id):
            raise policy.denied(f"usage of project {project_id} is shown to its members and "
                                "to admins only", value=project_id)
        found = self._usage(project_id, start, stop)
        return found[0] if found else ProjectUsage(project_id, start, stop, ())

    def _usage(self, project_id: str | None, start: datetime,
               stop: datetime) -> tuple[ProjectUsage, ...]:
        query = (select(ServerRow, FlavorRow).outerjoin(FlavorRow,
                                                        FlavorRow.id == ServerRow.flavor_id)
                 .where(ServerRow.status != _DELETED).order_by(ServerRow.created_at))
        if project_id is not None:
            query = query.where(ServerRow.project_id == project_id)
        now = self._clock.now()
        by_project: dict[str, list[ServerUsage]] = defaultdict(list)
        with self._db.transaction() as session:
            for server, flavor in session.execute(query).all():
                began = _utc(server.launched_at or server.created_at)
                if began > stop:  # launched after the period
                    continue
                lo, hi = max(began, start), min(stop, now)
                hours = max((hi - lo).total_seconds(), 0.0) / 3600
                by_project[server.project_id].append(ServerUsage(
                    server_id=server.id, name=server.name, project_id=server.project_id,
                    flavor=flavor.name if flavor else "", vcpus=flavor.vcpus if flavor else 0,
                    memory_mb=flavor.ram if flavor else 0, local_gb=flavor.disk if flavor else 0,
                    hours=hours, started_at=began,
                    state=_VM_STATE.get(server.status, server.status.lower()),
                    uptime=int(max((now - began).total_seconds(), 0))))
        return tuple(ProjectUsage(p, start, stop, tuple(s))
                     for p, s in sorted(by_project.items()))


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
