"""Neutron's list requests in SQL: filters, ``sort_key``/``sort_dir``, ``limit``/``marker`` and
``page_reverse`` for ports, networks and subnets, so a page reads only its own rows.

Each resource declares which API attributes are columns (filterable and sortable) and which are
filterable through another table (a port's ``fixed_ips`` and ``security_groups``, a network's
``subnets``). A filter on any other attribute is left to the API edge, which re-checks every
filter on the rendered page (so the answer is the same as neutron's for the attributes neutron
stores and the view's constants). Sorting on anything but a column is a 400, as neutron's
``get_sorts`` gives; a marker is looked up only with a limit and is the resource's own 404 when
the caller cannot see it (neutron's ``_get_<resource>``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, exists, false, not_, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select

from sriovstack.db.models import (IpAllocationRow, NetworkRow, PortRow, PortSecurityGroupRow,
                                  SubnetRow)
from sriovstack.db import SortKey, ordered_page
from sriovstack.errors import Invalid
from sriovstack.identity import Caller, policy
from sriovstack.network.types import VifType

__all__ = ["ListQuery", "PORTS", "NETWORKS", "SUBNETS", "listed_rows"]


@dataclass(frozen=True, slots=True)
class ListQuery:
    """One neutron list request: ``filters`` (attribute → accepted values, any of them),
    ``sorts`` ((attribute, ascending) in order), ``limit`` (None or 0: every row), ``marker``
    (the id the page starts after) and ``page_reverse`` (the page before the marker)."""

    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    sorts: tuple[tuple[str, bool], ...] = ()
    limit: int | None = None
    marker: str | None = None
    page_reverse: bool = False

    @property
    def paged(self) -> bool:
        return bool(self.limit)


Values = tuple[str, ...]
Condition = Callable[[Values], ColumnElement[bool]]


def _text(column: Any) -> Condition:
    return lambda values: column.in_(values)


def _lower(column: Any) -> Condition:
    return lambda values: column.in_([v.lower() for v in values])


def _flag(column: Any) -> Condition:
    """Booleans compared case-blind; a value that is no boolean matches nothing."""
    def condition(values: Values) -> ColumnElement[bool]:
        wanted = {v.lower() for v in values} & {"true", "false"}
        return column.in_([v == "true" for v in wanted]) if wanted else false()
    return condition


def _integer(column: Any) -> Condition:
    def condition(values: Values) -> ColumnElement[bool]:
        numbers = [int(v) for v in values if v.lstrip("-").isdigit()]
        return column.in_(numbers) if numbers else false()
    return condition


@dataclass(frozen=True, slots=True)
class Resource:
    """How one neutron resource's attributes map onto its table."""

    row: Any
    columns: dict[str, Any]  # API attribute → column: filterable (exact) and sortable
    # Filterable otherwise (None: the edge compares it on the rendered view, e.g. times)
    conditions: dict[str, Condition | None] = field(default_factory=dict)
    privileged: frozenset[str] = frozenset()  # attributes only admins see (policy-hidden)
    nullable: dict[str, Any] = field(default_factory=dict)  # sortable column → what NULL is

    def condition(self, name: str, caller: Caller) -> Condition | None:
        if name in self.privileged and not policy.is_privileged(caller):
            return None  # hidden from this caller: the filter does not apply (as before)
        if name in self.conditions:
            return self.conditions[name]
        return _text(self.columns[name]) if name in self.columns else None

    def sort_key(self, name: str, ascending: bool, caller: Caller) -> SortKey:
        hidden = name in self.privileged and not policy.is_privileged(caller)
        if name not in self.columns or hidden:
            raise Invalid(f"{[name]} is invalid attribute for sort_keys", field="sort_key",
                          value=name, fix="sort on one of " + ", ".join(sorted(
                              n for n in self.columns if n not in self.privileged)))
        return SortKey(self.columns[name], ascending, self.nullable.get(name))


_BOUND = [v.value for v in VifType if v.is_bound]


def _port_status(values: Values) -> ColumnElement[bool]:
    active = and_(PortRow.vif_type.in_(_BOUND), PortRow.device_up.is_(True),
                  PortRow.admin_state_up.is_(True))
    terms = [active if v == "ACTIVE" else not_(active) for v in values if v in ("ACTIVE", "DOWN")]
    return or_(*terms) if terms else false()


def _fixed_ips(values: Values) -> ColumnElement[bool]:
    """``fixed_ips=ip_address=10.0.0.2`` / ``fixed_ips=subnet_id=<id>``: any address matches."""
    terms = []
    for value in values:
        key, _, wanted = value.partition("=")
        column = {"ip_address": IpAllocationRow.ip_address,
                  "subnet_id": IpAllocationRow.subnet_id}.get(key)
        if column is not None:
            terms.append(exists().where(IpAllocationRow.port_id == PortRow.id, column == wanted))
    return or_(*terms) if terms else false()


def _security_groups(values: Values) -> ColumnElement[bool]:
    return exists().where(PortSecurityGroupRow.port_id == PortRow.id,
                          PortSecurityGroupRow.security_group_id.in_(values))


def _network_subnets(values: Values) -> ColumnElement[bool]:
    return exists().where(SubnetRow.network_id == NetworkRow.id, SubnetRow.id.in_(values))


def _standard(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "description": row.description,
            "project_id": row.project_id, "tenant_id": row.project_id,
            "created_at": row.created_at, "updated_at": row.updated_at,
            "revision_number": row.revision_number}


PORTS = Resource(
    PortRow,
    {**_standard(PortRow), "network_id": PortRow.network_id, "mac_address": PortRow.mac_address,
     "admin_state_up": PortRow.admin_state_up, "device_id": PortRow.device_id,
     "device_owner": PortRow.device_owner, "binding:vnic_type": PortRow.vnic_type,
     "port_security_enabled": PortRow.port_security_enabled,
     "binding:host_id": PortRow.binding_host},
    {"status": _port_status, "fixed_ips": _fixed_ips, "security_groups": _security_groups,
     "mac_address": _lower(PortRow.mac_address), "admin_state_up": _flag(PortRow.admin_state_up),
     "port_security_enabled": _flag(PortRow.port_security_enabled),
     "revision_number": _integer(PortRow.revision_number),
     # created_at/updated_at render as text: the edge compares them, SQL only sorts on them
     "created_at": None, "updated_at": None},
    privileged=frozenset({"binding:host_id"}))

NETWORKS = Resource(
    NetworkRow,
    {**_standard(NetworkRow), "admin_state_up": NetworkRow.admin_state_up,
     "shared": NetworkRow.shared, "mtu": NetworkRow.mtu,
     "port_security_enabled": NetworkRow.port_security_enabled,
     "provider:network_type": NetworkRow.network_type,
     "provider:physical_network": NetworkRow.physnet,
     "provider:segmentation_id": NetworkRow.segmentation_id},
    {"subnets": _network_subnets, "admin_state_up": _flag(NetworkRow.admin_state_up),
     "shared": _flag(NetworkRow.shared),
     "port_security_enabled": _flag(NetworkRow.port_security_enabled),
     "mtu": _integer(NetworkRow.mtu), "revision_number": _integer(NetworkRow.revision_number),
     "provider:segmentation_id": _integer(NetworkRow.segmentation_id),
     "created_at": None, "updated_at": None},
    privileged=frozenset({"provider:network_type", "provider:physical_network",
                          "provider:segmentation_id"}),
    nullable={"provider:physical_network": "", "provider:segmentation_id": -1})

SUBNETS = Resource(
    SubnetRow,
    {**_standard(SubnetRow), "network_id": SubnetRow.network_id, "cidr": SubnetRow.cidr,
     "ip_version": SubnetRow.ip_version, "gateway_ip": SubnetRow.gateway_ip,
     "enable_dhcp": SubnetRow.enable_dhcp},
    {"enable_dhcp": _flag(SubnetRow.enable_dhcp), "ip_version": _integer(SubnetRow.ip_version),
     "revision_number": _integer(SubnetRow.revision_number),
     "created_at": None, "updated_at": None},
    nullable={"gateway_ip": ""})


def _filtered(stmt: Select[Any], resource: Resource, caller: Caller,
              query: ListQuery) -> Select[Any]:
    for name, values in query.filters:
        condition = resource.condition(name, caller)
        if condition is not None:
            stmt = stmt.where(condition(values))
    return stmt


def listed_rows(session: Session, resource: Resource, caller: Caller, stmt: Select[Any],
                query: ListQuery, load_marker: Callable[[Session, Caller, str], Any]
                ) -> Sequence[Any]:
    """The rows of ``stmt`` (already scoped to what the caller may see) that pass the SQL
    filters, in the asked order (default: oldest first) then by id, one page when paged.

    Raises Invalid (400) for a sort key that is not a column, and ``load_marker``'s NotFound
    (404) for a marker the caller cannot see.
    """
    keys = [resource.sort_key(name, ascending, caller) for name, ascending in query.sorts]
    if not keys:
        keys.append(SortKey(resource.row.created_at))
    if "id" not in {name for name, _ in query.sorts}:
        keys.append(SortKey(resource.row.id))
    marker = None
    if query.paged and query.marker:
        load_marker(session, caller, query.marker)
        marker = session.execute(select(*(k.column for k in keys))
                                 .where(resource.row.id == query.marker)).one()
    stmt = ordered_page(_filtered(stmt, resource, caller, query), keys, marker=marker,
                        limit=query.limit if query.paged else None,
                        reverse=query.paged and query.page_reverse)
    rows = session.scalars(stmt).all()
    return rows[::-1] if query.paged and query.page_reverse else rows
