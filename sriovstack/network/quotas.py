"""Networking quotas (neutron's quotas extension): limits per project with neutron's defaults,
usage counted from the tables, and the check every create runs in its own transaction
(neutron's 409 OverQuota)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sriovstack.db import Database
from sriovstack.db.models import (NetworkRow, PortRow, SecurityGroupRow, SecurityGroupRuleRow,
                                  SubnetRow)
from sriovstack.errors import Conflict, ErrorKind, Invalid
from sriovstack.identity import Caller, policy
from sriovstack.quota import QuotaBook, overages

__all__ = ["NetworkQuotas", "NetworkQuotaDetail", "NETWORK_DEFAULTS", "enforce"]

# neutron's [quotas] defaults for the resources this service has (no L3: no router or
# floatingip quota).
NETWORK_DEFAULTS: Mapping[str, int] = {
    "network": 100, "subnet": 100, "port": 500, "security_group": 10,
    "security_group_rule": 100,
}
# openstack quota set's option of each resource
_OPTIONS = {"network": "networks", "subnet": "subnets", "port": "ports",
            "security_group": "secgroups", "security_group_rule": "secgroup-rules"}
_TABLES = {"network": NetworkRow, "subnet": SubnetRow, "port": PortRow,
           "security_group": SecurityGroupRow, "security_group_rule": SecurityGroupRuleRow}
# The book holds no state of its own: the limits live in the database.
_BOOK = QuotaBook("network", NETWORK_DEFAULTS)


@dataclass(frozen=True, slots=True)
class NetworkQuotaDetail:
    """One resource as ``/quotas/{project}/details`` shows it."""

    limit: int
    used: int
    reserved: int = 0


def _count(session: Session, resource: str, project_id: str) -> int:
    table = _TABLES[resource]
    return int(session.scalar(select(func.count()).select_from(table).where(
        table.project_id == project_id)) or 0)


def enforce(session: Session, resource: str, owners: Iterable[str]) -> None:
    """In the transaction that just inserted one row of ``resource`` per item of ``owners``
    (its project id): Conflict (neutron's 409 OverQuota) when a project is now over its
    limit, so the caller's rollback leaves nothing behind."""
    for project_id, added in sorted(Counter(owners).items()):
        limit = _BOOK.project_limits(session, project_id, (resource,))
        held = _count(session, resource, project_id) - added
        if overages(limit, {resource: held}, {resource: added}):
            raise Conflict(f"Quota exceeded for resources: ['{resource}'].",
                           kind=ErrorKind.OVER_QUOTA, field=resource, value=project_id,
                           fix="delete some, or ask an admin to raise the quota "
                               f"(openstack quota set --{_OPTIONS[resource]})")


class NetworkQuotas:
    """``/v2.0/quotas``: show, defaults, details, update, reset (QuotaBook ``network``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def limits(self, caller: Caller, project_id: str) -> dict[str, int]:
        """``project_id``'s limits; Forbidden unless the caller's own project or an admin."""
        _check_reader(caller, project_id)
        with self._db.transaction() as session:
            return _BOOK.project_limits(session, project_id, NETWORK_DEFAULTS)

    def defaults(self, caller: Caller, project_id: str) -> dict[str, int]:
        """The defaults a project without limits of its own gets."""
        _check_reader(caller, project_id)
        return dict(NETWORK_DEFAULTS)

    def detail(self, caller: Caller, project_id: str) -> dict[str, NetworkQuotaDetail]:
        """Limits with what ``project_id`` uses now."""
        _check_reader(caller, project_id)
        with self._db.transaction() as session:
            limits = _BOOK.project_limits(session, project_id, NETWORK_DEFAULTS)
            return {r: NetworkQuotaDetail(limit, _count(session, r, project_id))
                    for r, limit in limits.items()}

    def listed(self, caller: Caller) -> dict[str, dict[str, int]]:
        """Every project with limits of its own (admin only), by project id."""
        policy.require_admin(caller, "listing quotas")
        with self._db.transaction() as session:
            return {p: _BOOK.project_limits(session, p, NETWORK_DEFAULTS)
                    for p in _BOOK.projects(session)}

    def update(self, caller: Caller, project_id: str, changes: Mapping[str, int], *,
               check_limit: bool = False) -> dict[str, int]:
        """Set ``project_id``'s limits (admin only); neutron answers 400 for an unknown
        resource or a limit under -1, and with ``check_limit`` for a limit below what the
        project uses (without it such a limit is accepted, as neutron's)."""
        policy.require_admin(caller, "updating quotas")
        for resource in changes:
            if resource not in NETWORK_DEFAULTS:
                raise Invalid(f"Unrecognized attribute(s) '{resource}'", field=resource,
                              fix=f"one of {', '.join(NETWORK_DEFAULTS)}")
        with self._db.transaction() as session:
            for resource, limit in changes.items():
                used = _count(session, resource, project_id)
                if check_limit and limit != -1 and limit < used:
                    raise Invalid(f"Quota limit {limit} for {resource} must be greater than "
                                  f"or equal to the current usage {used}.", field=resource,
                                  value=limit, fix="raise it, or delete some first")
            _BOOK.set_project(session, project_id, changes)
            return _BOOK.project_limits(session, project_id, NETWORK_DEFAULTS)

    def reset(self, caller: Caller, project_id: str) -> None:
        """Drop ``project_id``'s own limits (admin only)."""
        policy.require_admin(caller, "deleting quotas")
        with self._db.transaction() as session:
            _BOOK.revert_project(session, project_id)


def _check_reader(caller: Caller, project_id: str) -> None:
    if not policy.in_scope(caller, project_id):
        raise policy.denied(f"quotas of project {project_id} are shown to its members and "
                            "to admins only", value=project_id)
