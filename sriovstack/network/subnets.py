"""Subnets: create with IPAM checks (CIDR, gateway, pools, overlap), show, list, update, delete."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from sriovstack.db import storable
from sriovstack.db.models import IpAllocationRow, NetworkRow, SubnetRow
from sriovstack.errors import Conflict, ErrorKind, NotFound
from sriovstack.identity import Caller, policy
from sriovstack.network import ipam, quotas
from sriovstack.network.env import Env, new_id
from sriovstack.network.listing import SUBNETS, ListQuery, listed_rows
from sriovstack.network.networks import load_network_row
from sriovstack.network.types import (UNSET, HostRoute, IpRange, Subnet, SubnetSpec,
                                      SubnetUpdate, Unset)

__all__ = ["Subnets", "to_subnet", "load_subnet_row"]


def to_subnet(row: SubnetRow) -> Subnet:
    return Subnet(id=row.id, name=row.name, network_id=row.network_id,
                  project_id=row.project_id, description=row.description, cidr=row.cidr,
                  ip_version=row.ip_version, gateway_ip=row.gateway_ip,
                  allocation_pools=tuple(IpRange(p["start"], p["end"])
                                         for p in row.allocation_pools),
                  enable_dhcp=row.enable_dhcp, dns_nameservers=tuple(row.dns_nameservers),
                  host_routes=tuple(HostRoute(r["destination"], r["nexthop"])
                                    for r in row.host_routes),
                  created_at=row.created_at, updated_at=row.updated_at,
                  revision_number=row.revision_number)


def _routes(routes: tuple[HostRoute, ...]) -> list[dict[str, str]]:
    return [{"destination": r.destination, "nexthop": r.nexthop} for r in routes]


def _pools(pools: tuple[IpRange, ...]) -> list[dict[str, str]]:
    return [{"start": p.start, "end": p.end} for p in pools]


def load_subnet_row(session: Session, caller: Caller, subnet_id: str) -> SubnetRow:
    """The subnet if visible (own, on a shared network, or admin), else NotFound (404)."""
    row = session.get(SubnetRow, subnet_id) if storable(subnet_id) else None
    if row is not None and not policy.in_scope(caller, row.project_id):
        network = session.get(NetworkRow, row.network_id)
        row = row if network is not None and network.shared else None
    if row is None:
        raise NotFound(f"Subnet {subnet_id} could not be found.", kind=ErrorKind.SUBNET_NOT_FOUND,
                       field="subnet_id", value=subnet_id)
    return row


class Subnets:
    """The subnet resource of the service (one transaction per call)."""

    def __init__(self, env: Env) -> None:
        self._env = env

    def create(self, caller: Caller, spec: SubnetSpec) -> Subnet:
        """A new subnet; 400 for a bad CIDR/gateway/pool/nameserver/route or a CIDR
        overlapping another subnet of the network ("overlaps with another subnet"); 404
        unknown network."""
        return self.create_many(caller, [spec])[0]

    def create_many(self, caller: Caller, specs: Sequence[SubnetSpec]) -> list[Subnet]:
        """Bulk create (``{"subnets": [...]}``): every subnet or none, one transaction (a
        later subnet may not overlap an earlier one of the same network)."""
        plans = [ipam.plan_subnet(spec.cidr, spec.ip_version,
                                  None if spec.gateway_ip is UNSET else spec.gateway_ip,
                                  spec.gateway_ip is not UNSET, spec.allocation_pools)
                 for spec in specs]
        checked = [(ipam.check_dns(spec.dns_nameservers),
                    ipam.check_routes(spec.host_routes, spec.ip_version)) for spec in specs]
        now = self._env.clock.now()
        out = []
        with self._env.db.transaction() as session:
            for spec, plan, (dns, routes) in zip(specs, plans, checked):
                out.append(self._insert(session, caller, spec, plan, dns, routes, now))
            quotas.enforce(session, "subnet", (n.project_id for n in out))
        return out

    def _insert(self, session: Session, caller: Caller, spec: SubnetSpec,
                plan: ipam.SubnetPlan, dns: tuple[str, ...], routes: tuple[HostRoute, ...],
                now: datetime) -> Subnet:
        network = load_network_row(session, caller, spec.network_id, for_write=True)
        others = session.execute(select(SubnetRow.id, SubnetRow.cidr)
                                 .where(SubnetRow.network_id == network.id)).all()
        ipam.check_overlap(plan.cidr, [(sid, cidr) for sid, cidr in others])
        row = SubnetRow(
            id=new_id(), network_id=network.id,
            project_id=policy.owner_of(caller, spec.project_id), name=spec.name,
            description=spec.description, cidr=plan.cidr, ip_version=plan.ip_version,
            gateway_ip=plan.gateway_ip, allocation_pools=_pools(plan.allocation_pools),
            enable_dhcp=spec.enable_dhcp, dns_nameservers=list(dns),
            host_routes=_routes(routes), created_at=now, updated_at=now, revision_number=1)
        session.add(row)
        session.flush()
        return to_subnet(row)

    def get(self, caller: Caller, subnet_id: str) -> Subnet:
        with self._env.db.transaction() as session:
            return to_subnet(load_subnet_row(session, caller, subnet_id))

    def list(self, caller: Caller, query: ListQuery = ListQuery()) -> list[Subnet]:
        """Every subnet the caller may see (own, on shared networks, or all for admins) that
        passes the query, in its order and page (400 bad sort key, 404 unseen marker)."""
        with self._env.db.transaction() as session:
            stmt = select(SubnetRow)
            if not policy.is_privileged(caller):
                shared = select(NetworkRow.id).where(NetworkRow.shared.is_(True))
                stmt = stmt.where(or_(SubnetRow.project_id == caller.project_id,
                                      SubnetRow.network_id.in_(shared)))
            rows = listed_rows(session, SUBNETS, caller, stmt, query, load_subnet_row)
            return [to_subnet(row) for row in rows]

    def update(self, caller: Caller, subnet_id: str, change: SubnetUpdate) -> Subnet:
        """Change name/description/enable_dhcp, nameservers and host routes (checked as at
        create) and gateway_ip/allocation_pools: the gateway stays inside the subnet and out
        of the pools (409 GatewayConflictWithAllocationPools), the pools inside its hosts."""
        with self._env.db.transaction() as session:
            row = load_subnet_row(session, caller, subnet_id)
            _check_owner(caller, row)
            for name in ("name", "description", "enable_dhcp"):
                value = getattr(change, name)
                if value is not UNSET:
                    setattr(row, name, value)
            if change.dns_nameservers is not UNSET:
                row.dns_nameservers = list(ipam.check_dns(change.dns_nameservers))
            if change.host_routes is not UNSET:
                row.host_routes = _routes(ipam.check_routes(change.host_routes,
                                                            row.ip_version))
            if change.gateway_ip is not UNSET or change.allocation_pools is not UNSET:
                self._replan(row, change)
            row.updated_at = self._env.clock.now()
            row.revision_number += 1
            session.flush()
            return to_subnet(row)

    def _replan(self, row: SubnetRow, change: SubnetUpdate) -> None:
        current = to_subnet(row)
        plan = ipam.replan_subnet(
            ipam.SubnetPlan(current.cidr, current.ip_version, current.gateway_ip,
                            current.allocation_pools),
            None if isinstance(change.gateway_ip, Unset) else change.gateway_ip,
            change.gateway_ip is not UNSET,
            None if isinstance(change.allocation_pools, Unset) else change.allocation_pools)
        row.gateway_ip = plan.gateway_ip
        row.allocation_pools = _pools(plan.allocation_pools)

    def delete(self, caller: Caller, subnet_id: str) -> None:
        """Delete the subnet; 409 SubnetInUse while ports hold addresses on it."""
        with self._env.db.transaction() as session:
            row = load_subnet_row(session, caller, subnet_id)
            _check_owner(caller, row)
            used = session.scalar(select(func.count()).select_from(IpAllocationRow)
                                  .where(IpAllocationRow.subnet_id == row.id))
            if used:
                raise Conflict(f"Unable to complete operation on subnet {row.id}: One or more "
                               "ports have an IP allocation from this subnet.",
                               kind=ErrorKind.SUBNET_IN_USE, field="subnet_id", value=row.id,
                               fix="delete the ports with addresses on it first")
            session.delete(row)


def _check_owner(caller: Caller, row: SubnetRow) -> None:
    if not policy.in_scope(caller, row.project_id):
        raise NotFound(f"Subnet {row.id} could not be found.", kind=ErrorKind.SUBNET_NOT_FOUND,
                       field="subnet_id", value=row.id)
