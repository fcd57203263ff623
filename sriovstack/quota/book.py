"""The quota book: hard limits per project and per quota class, for one service, with the
built-in defaults under them; and the one check of a request against limits and usage."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, delete, or_, select
from sqlalchemy.orm import Session

from sriovstack.db.models import QuotaLimitRow
from sriovstack.errors import Invalid

__all__ = ["QuotaBook", "Overage", "UNLIMITED", "DEFAULT_CLASS", "overages", "check_limit"]

UNLIMITED = -1
DEFAULT_CLASS = "default"  # nova's one quota class: its limits replace the built-in defaults
_PROJECT, _CLASS = "project", "class"
# ``project_limits``' read (every server create's quota check): a project's rows and the
# default class's in one Core statement, built once.
_Q = QuotaLimitRow.__table__.c
_PROJECT_LIMITS = select(_Q.scope, _Q.resource, _Q.hard_limit).where(
    _Q.service == bindparam("service"), or_(
        and_(_Q.scope == _PROJECT, _Q.owner == bindparam("project")),
        and_(_Q.scope == _CLASS, _Q.owner == DEFAULT_CLASS)))


@dataclass(frozen=True, slots=True)
class Overage:
    """One resource a request would take past its limit."""

    resource: str
    requested: int
    used: int
    allowed: int


def check_limit(resource: str, value: object) -> int:
    """``value`` as a limit: an integer of -1 (unlimited) or more; Invalid naming the
    resource otherwise (nova and neutron answer 400)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"Invalid input for field/attribute {resource}. Value: {value!r}. "
                      f"{value!r} is not an integer", field=resource, value=value,
                      fix="give an integer, -1 for unlimited")
    if value < UNLIMITED:
        raise Invalid(f"Invalid input for field/attribute {resource}. Value: {value}. "
                      f"{value} is less than the minimum of -1", field=resource, value=value,
                      fix="give -1 (unlimited) or more")
    return value


def overages(limits: Mapping[str, int], used: Mapping[str, int],
             requested: Mapping[str, int]) -> tuple[Overage, ...]:
    """The resources of ``requested`` whose use plus the request exceeds a limit (-1 never
    does); ``used`` counts what the project holds now, without the request."""
    out = []
    for resource, wanted in requested.items():
        allowed = limits.get(resource, UNLIMITED)
        held = used.get(resource, 0)
        if wanted > 0 and allowed != UNLIMITED and held + wanted > allowed:
            out.append(Overage(resource, wanted, held, allowed))
    return tuple(out)


class QuotaBook:
    """The limits of one service (``compute`` or ``network``) in the ``quota_limits`` table.

    A project's limit of a resource is its own row, else the ``default`` class's row, else
    the built-in default (-1 for a resource without one).  Methods take the caller's session
    so a check and the write it guards share one transaction."""

    def __init__(self, service: str, defaults: Mapping[str, int]) -> None:
        self._service = service
        self._defaults = dict(defaults)

    def builtin(self, resource: str) -> int:
        """The built-in default of ``resource`` (-1 when it has none)."""
        return self._defaults.get(resource, UNLIMITED)

    def class_limits(self, session: Session, name: str,
                     resources: Iterable[str]) -> dict[str, int]:
        """The limits of quota class ``name``: its rows over the built-in defaults."""
        rows = self._rows(session, _CLASS, name)
        return {r: rows.get(r, self.builtin(r)) for r in resources}

    def defaults(self, session: Session, resources: Iterable[str]) -> dict[str, int]:
        """What a project without rows of its own gets: the default class's limits."""
        return self.class_limits(session, DEFAULT_CLASS, resources)

    def project_limits(self, session: Session, project_id: str,
                       resources: Iterable[str]) -> dict[str, int]:
        """The limits of ``project_id``: its rows over the defaults."""
        own: dict[str, int] = {}
        base: dict[str, int] = {}
        for scope, resource, limit in session.execute(  # both scopes in one statement
                _PROJECT_LIMITS, {"service": self._service, "project": project_id}):
            (own if scope == _PROJECT else base)[str(resource)] = int(limit)
        return {r: own.get(r, base.get(r, self.builtin(r))) for r in resources}

    def projects(self, session: Session) -> tuple[str, ...]:
        """The projects with at least one limit of their own, sorted."""
        return tuple(session.scalars(
            select(QuotaLimitRow.owner).distinct().where(
                QuotaLimitRow.service == self._service, QuotaLimitRow.scope == _PROJECT)
            .order_by(QuotaLimitRow.owner)))

    def set_project(self, session: Session, project_id: str, changes: Mapping[str, int]) -> None:
        """Store ``changes`` as ``project_id``'s own limits (checked with check_limit)."""
        self._set(session, _PROJECT, project_id, changes)

    def set_class(self, session: Session, name: str, changes: Mapping[str, int]) -> None:
        """Store ``changes`` as the limits of quota class ``name``."""
        self._set(session, _CLASS, name, changes)

    def revert_project(self, session: Session, project_id: str) -> None:
        """Drop ``project_id``'s own limits: it has the defaults again."""
        session.execute(delete(QuotaLimitRow).where(
            QuotaLimitRow.service == self._service, QuotaLimitRow.scope == _PROJECT,
            QuotaLimitRow.owner == project_id))

    def _rows(self, session: Session, scope: str, owner: str) -> dict[str, int]:
        rows = session.execute(select(QuotaLimitRow.resource, QuotaLimitRow.hard_limit).where(
            QuotaLimitRow.service == self._service, QuotaLimitRow.scope == scope,
            QuotaLimitRow.owner == owner)).all()
        return {str(resource): int(limit) for resource, limit in rows}

    def _set(self, session: Session, scope: str, owner: str, changes: Mapping[str, int]) -> None:
        existing = {row.resource: row for row in session.scalars(select(QuotaLimitRow).where(
            QuotaLimitRow.service == self._service, QuotaLimitRow.scope == scope,
            QuotaLimitRow.owner == owner))}
        for resource, value in changes.items():
            limit = check_limit(resource, value)
            row = existing.get(resource)
            if row is None:
                session.add(QuotaLimitRow(service=self._service, scope=scope, owner=owner,
                                          resource=resource, hard_limit=limit))
            else:
                row.hard_limit = limit
        session.flush()
