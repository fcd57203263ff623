"""Security groups and rules: the per-project ``default`` group with neutron's default rules,
lookup by id or name, and CRUD. (Enforcement is the host firewall's job, not ours.)"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from sriovstack.db import storable
from sriovstack.db.models import (DefaultSecurityGroupRow, PortSecurityGroupRow, SecurityGroupRow,
                                  SecurityGroupRuleRow)
from sriovstack.errors import Conflict, ErrorKind, Invalid, NotFound, WriteConflict
from sriovstack.identity import Caller, policy
from sriovstack.network import quotas
from sriovstack.network.env import Env, new_id
from sriovstack.network.types import UNSET, Unset

__all__ = ["SecurityGroup", "SecurityGroupRule", "SecurityGroupSpec", "SecurityGroupUpdate",
           "RuleSpec",
           "SecurityGroups", "resolve_groups"]

_PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132}
_ICMP = frozenset({"icmp", "icmpv6", "ipv6-icmp", "1", "58"})


@dataclass(frozen=True, slots=True)
class SecurityGroupRule:
    id: str
    security_group_id: str
    project_id: str
    direction: str
    ethertype: str
    protocol: str | None
    port_range_min: int | None
    port_range_max: int | None
    remote_ip_prefix: str | None
    remote_group_id: str | None
    description: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SecurityGroup:
    id: str
    name: str
    project_id: str
    description: str
    stateful: bool
    rules: tuple[SecurityGroupRule, ...]
    created_at: datetime
    updated_at: datetime
    revision_number: int


@dataclass(frozen=True, slots=True)
class SecurityGroupSpec:
    name: str = ""
    description: str = ""
    project_id: str | None = None


@dataclass(frozen=True, slots=True)
class SecurityGroupUpdate:
    name: str | Unset = UNSET
    description: str | Unset = UNSET


@dataclass(frozen=True, slots=True)
class RuleSpec:
    security_group_id: str
    direction: str
    ethertype: str = "IPv4"
    protocol: str | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    description: str = ""


def _rule(row: SecurityGroupRuleRow) -> SecurityGroupRule:
    return SecurityGroupRule(row.id, row.security_group_id, row.project_id, row.direction,
                             row.ethertype, row.protocol, row.port_range_min,
                             row.port_range_max, row.remote_ip_prefix, row.remote_group_id,
                             row.description, row.created_at)


def _group(session: Session, row: SecurityGroupRow) -> SecurityGroup:
    rules = session.scalars(select(SecurityGroupRuleRow)
                            .where(SecurityGroupRuleRow.security_group_id == row.id)
                            .order_by(SecurityGroupRuleRow.created_at, SecurityGroupRuleRow.id))
    return SecurityGroup(row.id, row.name, row.project_id, row.description, row.stateful,
                         tuple(_rule(r) for r in rules), row.created_at, row.updated_at,
                         row.revision_number)


def _not_found(ref: str) -> NotFound:
    return NotFound(f"Security group {ref} does not exist", kind=ErrorKind.SECURITY_GROUP_NOT_FOUND,
                    field="security_groups", value=ref)


def _visible(session: Session, caller: Caller, ref: str) -> SecurityGroupRow:
    row = session.get(SecurityGroupRow, ref) if storable(ref) else None
    if row is None or not policy.in_scope(caller, row.project_id):
        raise _not_found(ref)
    return row


def resolve_groups(session: Session, project_id: str, refs: tuple[str, ...]) -> tuple[str, ...]:
    """Ids for group ids or names of ``project_id``; NotFound (404) for an unknown one and
    Conflict when a name matches several groups."""
    ids: list[str] = []
    for ref in refs:
        if not storable(ref):
            raise _not_found(ref)
        rows = session.scalars(select(SecurityGroupRow).where(
            SecurityGroupRow.project_id == project_id,
            or_(SecurityGroupRow.id == ref, SecurityGroupRow.name == ref))).all()
        exact = [row for row in rows if row.id == ref] or rows
        if not exact:
            raise _not_found(ref)
        if len(exact) > 1:
            raise Conflict(f"Multiple security_group matches found for name '{ref}', use an "
                           "ID to be more specific.", kind=ErrorKind.DUPLICATE_SECURITY_GROUP_NAME,
                           field="security_groups", value=ref, fix="pass the group's id")
        if exact[0].id not in ids:
            ids.append(exact[0].id)
    return tuple(ids)


def _default_rules(group_id: str, project_id: str, now: datetime) -> list[SecurityGroupRuleRow]:
    """Neutron's default group: all egress, and ingress from members of the group itself."""
    return [SecurityGroupRuleRow(id=new_id(), security_group_id=group_id, project_id=project_id,
                                 direction=direction, ethertype=ethertype,
                                 remote_group_id=group_id if direction == "ingress" else None,
                                 description="", created_at=now)
            for direction in ("egress", "ingress") for ethertype in ("IPv4", "IPv6")]


def _check_rule(spec: RuleSpec) -> None:
    def bad(field: str, value: object, why: str, fix: str) -> Invalid:
        return Invalid(f"Invalid input for {field}. Reason: {why}.", kind=ErrorKind.INVALID_INPUT,
                       field=field, value=value, fix=fix)
    if spec.direction not in ("ingress", "egress"):
        raise bad("direction", spec.direction, "must be ingress or egress", "use ingress")
    if spec.ethertype not in ("IPv4", "IPv6"):
        raise bad("ethertype", spec.ethertype, "must be IPv4 or IPv6", "use IPv4")
    if spec.protocol is not None and spec.protocol.lower() not in _PROTOCOLS \
            and not (spec.protocol.isdigit() and 0 <= int(spec.protocol) <= 255):
        raise bad("protocol", spec.protocol, "unknown protocol",
                  "use tcp, udp, icmp, icmpv6, sctp or a number 0-255")
    low, high = spec.port_range_min, spec.port_range_max
    if (low is not None or high is not None) and spec.protocol is None:
        raise bad("port_range_min", low, "a port range needs a protocol", "set protocol tcp")
    if spec.protocol is not None and spec.protocol.lower() in _ICMP:
        # For ICMP the two fields are the type and the code (neutron: 0 to 255 each).
        for field, value, attr in (("port_range_min", low, "type"),
                                   ("port_range_max", high, "code")):
            if value is not None and not 0 <= value <= 255:
                raise bad(field, value, f"Invalid value for ICMP {field} ({attr}) {value}. "
                          "It must be 0 to 255", "give an ICMP type/code from 0 to 255")
    else:
        for field, value in (("port_range_min", low), ("port_range_max", high)):
            if value is not None and not 0 <= value <= 65535:
                raise bad(field, value, f"Invalid value for port {value}",
                          "give a port from 0 to 65535")
        if low is not None and high is not None and low > high:
            raise bad("port_range_min", low, "port_range_min is above port_range_max",
                      "swap the two ports")
    if spec.remote_ip_prefix is not None and spec.remote_group_id is not None:
        raise bad("remote_ip_prefix", spec.remote_ip_prefix,
                  "remote_ip_prefix and remote_group_id are mutually exclusive", "give one")
    if spec.remote_ip_prefix is not None:
        try:
            prefix = ipaddress.ip_network(spec.remote_ip_prefix, strict=False)
        except ValueError as exc:
            raise bad("remote_ip_prefix", spec.remote_ip_prefix, "not a CIDR",
                      "write e.g. 10.0.0.0/24") from exc
        if f"IPv{prefix.version}" != spec.ethertype:
            raise bad("remote_ip_prefix", spec.remote_ip_prefix,
                      f"Conflicting value ethertype {spec.ethertype} for CIDR "
                      f"{spec.remote_ip_prefix}", f"use ethertype IPv{prefix.version}")


class SecurityGroups:
    """The security-group resource; every list or port create makes sure ``default`` exists."""

    def __init__(self, env: Env) -> None:
        self._env = env

    def ensure_default(self, project_id: str) -> str:
        """The project's ``default`` group id, creating it with its rules on first use.

        Runs in its own transaction; a concurrent creator wins and its group is returned.
        """
        for _attempt in range(3):
            with self._env.db.transaction() as session:
                found = session.get(DefaultSecurityGroupRow, project_id)
                if found is not None:
                    return found.security_group_id
            try:
                return self._create_default(project_id)
            except WriteConflict:
                continue
        raise Conflict(f"could not create the default security group of {project_id}")

    def _create_default(self, project_id: str) -> str:
        now = self._env.clock.now()
        with self._env.db.transaction() as session:
            group_id = new_id()
            session.add(SecurityGroupRow(id=group_id, project_id=project_id, name="default",
                                         description="Default security group", stateful=True,
                                         created_at=now, updated_at=now, revision_number=1))
            session.flush()
            session.add(DefaultSecurityGroupRow(project_id=project_id,
                                                security_group_id=group_id))
            session.add_all(_default_rules(group_id, project_id, now))
            return group_id

    def create(self, caller: Caller, spec: SecurityGroupSpec) -> SecurityGroup:
        project = policy.owner_of(caller, spec.project_id)
        self.ensure_default(project)
        if spec.name == "default":
            raise Conflict("Default security group already exists.",
                           kind=ErrorKind.SECURITY_GROUP_DEFAULT_ALREADY_EXISTS, field="name",
                           value=spec.name, fix="choose another name")
        now = self._env.clock.now()
        with self._env.db.transaction() as session:
            row = SecurityGroupRow(id=new_id(), project_id=project, name=spec.name,
                                   description=spec.description, stateful=True,
                                   created_at=now, updated_at=now, revision_number=1)
            session.add(row)
            session.flush()
            # Like neutron, a new group lets all egress out.
            session.add_all(r for r in _default_rules(row.id, project, now)
                            if r.direction == "egress")
            session.flush()
            quotas.enforce(session, "security_group", (project,))
            return _group(session, row)

    def get(self, caller: Caller, group_id: str) -> SecurityGroup:
        with self._env.db.transaction() as session:
            return _group(session, _visible(session, caller, group_id))

    def list(self, caller: Caller) -> list[SecurityGroup]:
        if caller.project_id is not None:
            self.ensure_default(caller.project_id)
        with self._env.db.transaction() as session:
            query = select(SecurityGroupRow).order_by(SecurityGroupRow.created_at,
                                                      SecurityGroupRow.id)
            if not policy.is_privileged(caller):
                query = query.where(SecurityGroupRow.project_id == caller.project_id)
            return [_group(session, row) for row in session.scalars(query).all()]

    def update(self, caller: Caller, group_id: str,
               change: SecurityGroupUpdate) -> SecurityGroup:
        """Rename or describe; Conflict for renaming the default group."""
        name, description = change.name, change.description
        with self._env.db.transaction() as session:
            row = _visible(session, caller, group_id)
            if name is not UNSET and row.name == "default" and name != "default":
                raise Conflict("Updating default security group not allowed.",
                               kind=ErrorKind.SECURITY_GROUP_CANNOT_UPDATE_DEFAULT, field="name",
                               value=name, fix="leave the default group's name")
            if name is not UNSET:
                row.name = name
            if description is not UNSET:
                row.description = description
            row.updated_at = self._env.clock.now()
            row.revision_number += 1
            session.flush()
            return _group(session, row)

    def delete(self, caller: Caller, group_id: str) -> None:
        """Delete a group; 409 for the default group (unless admin) or one ports use."""
        with self._env.db.transaction() as session:
            row = _visible(session, caller, group_id)
            default = session.get(DefaultSecurityGroupRow, row.project_id)
            if default is not None and default.security_group_id == row.id \
                    and not policy.is_privileged(caller):
                raise Conflict("Removing default security group not allowed.",
                               kind=ErrorKind.SECURITY_GROUP_CANNOT_REMOVE_DEFAULT, value=row.id)
            users = session.scalar(select(func.count()).select_from(PortSecurityGroupRow)
                                   .where(PortSecurityGroupRow.security_group_id == row.id))
            if users:
                raise Conflict(f"Security Group {row.id} in use.",
                               kind=ErrorKind.SECURITY_GROUP_IN_USE,
                               value=row.id, fix="remove it from its ports first")
            session.delete(row)

    def create_rule(self, caller: Caller, spec: RuleSpec) -> SecurityGroupRule:
        _check_rule(spec)
        with self._env.db.transaction() as session:
            group = _visible(session, caller, spec.security_group_id)
            if spec.remote_group_id is not None:
                _visible(session, caller, spec.remote_group_id)
            row = SecurityGroupRuleRow(
                id=new_id(), security_group_id=group.id, project_id=group.project_id,
                direction=spec.direction, ethertype=spec.ethertype,
                protocol=None if spec.protocol is None else spec.protocol.lower(),
                port_range_min=spec.port_range_min, port_range_max=spec.port_range_max,
                remote_ip_prefix=spec.remote_ip_prefix, remote_group_id=spec.remote_group_id,
                description=spec.description, created_at=self._env.clock.now())
            session.add(row)
            session.flush()
            quotas.enforce(session, "security_group_rule", (row.project_id,))
            return _rule(row)

    def list_rules(self, caller: Caller) -> list[SecurityGroupRule]:
        return [rule for group in self.list(caller) for rule in group.rules]

    def get_rule(self, caller: Caller, rule_id: str) -> SecurityGroupRule:
        with self._env.db.transaction() as session:
            return _rule(self._visible_rule(session, caller, rule_id))

    def delete_rule(self, caller: Caller, rule_id: str) -> None:
        with self._env.db.transaction() as session:
            session.delete(self._visible_rule(session, caller, rule_id))

    @staticmethod
    def _visible_rule(session: Session, caller: Caller, rule_id: str) -> SecurityGroupRuleRow:
        row = session.get(SecurityGroupRuleRow, rule_id) if storable(rule_id) else None
        if row is None or not policy.in_scope(caller, row.project_id):
            raise NotFound(f"Security group rule {rule_id} does not exist",
                           kind=ErrorKind.SECURITY_GROUP_RULE_NOT_FOUND, field="id", value=rule_id)
        return row
