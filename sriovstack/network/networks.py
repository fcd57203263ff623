"""Networks: create (project VLAN or provider segment), show, list, update, delete."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Protocol

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from sriovstack.db import retry_races, storable
from sriovstack.db.models import NetworkRow, PortRow, SubnetRow
from sriovstack.errors import Conflict, ErrorKind, NotFound
from sriovstack.identity import Caller, policy
from sriovstack.network import quotas, segments
from sriovstack.network.env import Env, new_id
from sriovstack.network.listing import NETWORKS, ListQuery, listed_rows
from sriovstack.network.types import (UNSET, Network, NetworkSpec, NetworkType, NetworkUpdate,
                                      ProviderSpec, Segment)

__all__ = ["Networks", "load_network_row", "segment_of"]


class SegmentColumns(Protocol):
    """What a network's segment is read from: its row, or those columns read alone."""

    @property
    def network_type(self) -> str: ...

    @property
    def physnet(self) -> str | None: ...

    @property
    def segmentation_id(self) -> int | None: ...


def segment_of(row: SegmentColumns) -> Segment:
    return Segment(NetworkType(row.network_type), row.physnet, row.segmentation_id)


def _to_network(row: NetworkRow, subnet_ids: Iterable[str]) -> Network:
    return Network(id=row.id, name=row.name, project_id=row.project_id,
                   description=row.description, admin_state_up=row.admin_state_up,
                   shared=row.shared, mtu=row.mtu,
                   port_security_enabled=row.port_security_enabled, segment=segment_of(row),
                   subnet_ids=tuple(subnet_ids), created_at=row.created_at,
                   updated_at=row.updated_at, revision_number=row.revision_number)


def load_network_row(session: Session, caller: Caller, network_id: str, *,
                     for_write: bool = False) -> NetworkRow:
    """The network if the caller may see it (own, shared, or admin), else NotFound (404).

    With ``for_write``, a shared network of another project is Forbidden rather than hidden.
    """
    row = session.get(NetworkRow, network_id) if storable(network_id) else None
    visible = row is not None and (policy.in_scope(caller, row.project_id) or row.shared)
    if row is None or not visible:
        raise NotFound(f"Network {network_id} could not be found.",
                       kind=ErrorKind.NETWORK_NOT_FOUND,
                       field="network_id", value=network_id)
    if for_write and not policy.in_scope(caller, row.project_id):
        raise policy.denied(f"changing network {network_id} of another project is not allowed",
                            field="network_id", value=network_id)
    return row


def _subnet_ids(session: Session, network_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    if network_ids:
        rows = session.execute(select(SubnetRow.network_id, SubnetRow.id)
                               .where(SubnetRow.network_id.in_(network_ids))
                               .order_by(SubnetRow.created_at, SubnetRow.id))
        for network_id, subnet_id in rows:
            found[network_id].append(subnet_id)
    return found


def _check_shared(caller: Caller, shared: bool) -> None:
    """Sharing a network with every project is admin only (neutron's policy)."""
    if shared:
        policy.require_privileged(caller, "shared networks are admin only", field="shared",
                                  value=True, fix="leave shared out or false")


class Networks:
    """The network resource of the service (one transaction per call)."""

    def __init__(self, env: Env) -> None:
        self._env = env

    def create(self, caller: Caller, spec: NetworkSpec) -> Network:
        """A new network. provider:* is admin only (Forbidden); reserves or allocates the
        segment: 409 VlanIdInUse/FlatNetworkInUse, 503 NoNetworkAvailable, 400 bad provider."""
        return self.create_many(caller, [spec])[0]

    def create_many(self, caller: Caller, specs: Sequence[NetworkSpec]) -> list[Network]:
        """Bulk create (``{"networks": [...]}``): every network or none, one transaction."""
        providers = [self._checked_provider(caller, spec) for spec in specs]
        return retry_races(lambda: self._insert(caller, specs, providers))

    def _checked_provider(self, caller: Caller, spec: NetworkSpec) -> ProviderSpec | None:
        if spec.provider is not None:
            policy.require_privileged(caller, "provider:* attributes are admin only",
                                      field="provider:network_type",
                                      fix="leave provider:* out to get a project VLAN")
        _check_shared(caller, spec.shared)
        return None if spec.provider is None else \
            segments.check_provider(spec.provider, self._env.settings)

    def _insert(self, caller: Caller, specs: Sequence[NetworkSpec],
                providers: Sequence[ProviderSpec | None]) -> list[Network]:
        now = self._env.clock.now()
        out = []
        with self._env.db.transaction() as session:
            for spec, provider in zip(specs, providers):
                segment = segments.reserve_segment(session, provider, self._env.settings)
                row = NetworkRow(
                    id=new_id(), project_id=policy.owner_of(caller, spec.project_id),
                    name=spec.name, description=spec.description,
                    admin_state_up=spec.admin_state_up, shared=spec.shared,
                    mtu=self._env.settings.mtu, port_security_enabled=spec.port_security_enabled,
                    network_type=str(segment.network_type), physnet=segment.physnet,
                    segmentation_id=segment.segmentation_id, created_at=now, updated_at=now,
                    revision_number=1)
                session.add(row)
                session.flush()
                out.append(_to_network(row, ()))
            quotas.enforce(session, "network", (n.project_id for n in out))
        return out

    def get(self, caller: Caller, network_id: str) -> Network:
        """The network; NotFound (404) for unknown ids, names, or other projects' networks."""
        with self._env.db.autocommit() as session:  # reads: see ``Database.autocommit``
            row = load_network_row(session, caller, network_id)
            return _to_network(row, _subnet_ids(session, [row.id]).get(row.id, ()))

    def list(self, caller: Caller, query: ListQuery = ListQuery()) -> list[Network]:
        """Every network the caller may see that passes the query, oldest first or in its
        sort order, one page when it has a limit (400 bad sort key, 404 unseen marker)."""
        with self._env.db.autocommit() as session:
            stmt = select(NetworkRow)
            if not policy.is_privileged(caller):
                stmt = stmt.where(or_(NetworkRow.project_id == caller.project_id,
                                      NetworkRow.shared.is_(True)))
            rows = listed_rows(session, NETWORKS, caller, stmt, query, load_network_row)
            subnets = _subnet_ids(session, [row.id for row in rows])
            return [_to_network(row, subnets.get(row.id, ())) for row in rows]

    def update(self, caller: Caller, network_id: str, change: NetworkUpdate) -> Network:
        """Change name/description/admin_state_up/shared/port_security_enabled."""
        if change.shared is not UNSET:
            _check_shared(caller, change.shared)
        with self._env.db.transaction() as session:
            row = load_network_row(session, caller, network_id, for_write=True)
            for name in ("name", "description", "admin_state_up", "shared",
                         "port_security_enabled"):
                value = getattr(change, name)
                if value is not UNSET:
                    setattr(row, name, value)
            row.updated_at = self._env.clock.now()
            row.revision_number += 1
            session.flush()
            return _to_network(row, _subnet_ids(session, [row.id]).get(row.id, ()))

    def delete(self, caller: Caller, network_id: str) -> None:
        """Delete the network and its subnets and free its segment; 409 NetworkInUse while
        ports remain on it."""
        with self._env.db.transaction() as session:
            row = load_network_row(session, caller, network_id, for_write=True)
            ports = session.scalar(select(func.count()).select_from(PortRow)
                                   .where(PortRow.network_id == row.id))
            if ports:
                raise Conflict(f"Unable to complete operation on network {row.id}. There are "
                               "one or more ports still in use on the network.",
                               kind=ErrorKind.NETWORK_IN_USE, field="network_id", value=row.id,
                               fix="delete the network's ports first")
            session.execute(delete(SubnetRow).where(SubnetRow.network_id == row.id))
            segments.release_segment(session, segment_of(row), self._env.settings)
            session.delete(row)
