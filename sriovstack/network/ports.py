"""Ports: create (one or bulk), show, list, update, delete, with the SR-IOV rules of 20.9
(no macvtap, no security groups and no port security on direct/direct-physical ports)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sriovstack.db import retry_races, storable
from sriovstack.db.models import NetworkRow, PortRow, PortSecurityGroupRow
from sriovstack.errors import Conflict, ErrorKind, Invalid, NotFound, NotSupported
from sriovstack.identity import Caller, policy
from sriovstack.mac import MacAddress
from sriovstack.network import addresses, quotas
from sriovstack.network.env import Env, new_id
from sriovstack.network.listing import PORTS, ListQuery, listed_rows
from sriovstack.network.networks import load_network_row
from sriovstack.network.security_groups import SecurityGroups, resolve_groups
from sriovstack.network.types import (UNSET, BindingProfile, Port, PortBinding, PortSpec,
                                      PortStatus, PortUpdate, VifType, VnicType)
from sriovstack.pci import PciAddress

__all__ = ["Ports", "to_ports", "load_port_row", "profile_json", "profile_of", "status_of",
           "port_status", "check_vnic"]


def _check_vf_unshared(session: Session, row: PortRow) -> None:
    """Two ports never name one VF: Conflict (409) when another port bound to the same host
    has the profile's pci_slot (neutron does not check; issue 10, finding 7)."""
    slot = profile_of(row.binding_profile).pci_slot
    if slot is None:
        return
    others = session.execute(select(PortRow.id, PortRow.binding_profile).where(
        PortRow.binding_host == row.binding_host, PortRow.id != row.id)).all()
    for other_id, profile in others:
        if profile_of(profile).pci_slot == slot:
            raise Conflict(f"PCI device {slot} on host {row.binding_host} is already used by "
                           f"port {other_id}.", kind=ErrorKind.PORT_IN_USE,
                           field="binding:profile", value=str(slot),
                           fix="choose a free VF, or unbind the other port first")


def profile_json(profile: BindingProfile) -> dict[str, Any]:
    """The profile as the JSON column stores it (the PCI address as text)."""
    fields = (("pci_slot", str(profile.pci_slot) if profile.pci_slot else None),
              ("pci_vendor_info", profile.pci_vendor_info),
              ("physical_network", profile.physical_network))
    return {name: value for name, value in fields if value is not None}


def profile_of(stored: dict[str, Any]) -> BindingProfile:
    """The profile of a port row's JSON column (``profile_json`` wrote it)."""
    slot = stored.get("pci_slot")
    return BindingProfile(PciAddress.parse(slot) if slot else None,
                          stored.get("pci_vendor_info"), stored.get("physical_network"))


def status_of(row: PortRow) -> PortStatus:
    """ACTIVE only when bound, reported up by the host and administratively up."""
    return port_status(VifType(row.vif_type), row.device_up, row.admin_state_up)


def port_status(vif_type: VifType, device_up: bool, admin_state_up: bool) -> PortStatus:
    """``status_of`` from the three columns it reads."""
    return PortStatus.ACTIVE if vif_type.is_bound and device_up and admin_state_up \
        else PortStatus.DOWN


def to_ports(session: Session, rows: Sequence[PortRow]) -> list[Port]:
    ids = [row.id for row in rows]
    ips = addresses.fixed_ips_of(session, ids)
    groups: dict[str, list[str]] = {pid: [] for pid in ids}
    if ids:
        for port_id, group_id in session.execute(
                select(PortSecurityGroupRow.port_id, PortSecurityGroupRow.security_group_id)
                .where(PortSecurityGroupRow.port_id.in_(ids))):
            groups[port_id].append(group_id)
    return [_to_port(row, ips[row.id], tuple(sorted(groups[row.id]))) for row in rows]


def _to_port(row: PortRow, ips: Any, groups: tuple[str, ...]) -> Port:
    binding = PortBinding(host=row.binding_host, vif_type=VifType(row.vif_type),
                          vif_details=tuple(row.vif_details.items()),
                          profile=profile_of(row.binding_profile), failure=row.binding_failure)
    return Port(id=row.id, name=row.name, network_id=row.network_id, project_id=row.project_id,
                description=row.description, mac=MacAddress(row.mac_address), fixed_ips=ips,
                vnic_type=VnicType(row.vnic_type), status=status_of(row),
                admin_state_up=row.admin_state_up, device_id=row.device_id,
                device_owner=row.device_owner,
                port_security_enabled=row.port_security_enabled, security_group_ids=groups,
                binding=binding, created_at=row.created_at, updated_at=row.updated_at,
                revision_number=row.revision_number,
                propagate_uplink_status=row.propagate_uplink_status)


def load_port_row(session: Session, caller: Caller, port_id: str) -> PortRow:
    """The port if the caller's project owns it (or admin/service), else NotFound (404)."""
    row = session.get(PortRow, port_id) if storable(port_id) else None
    if row is None or not policy.in_scope(caller, row.project_id):
        raise NotFound(f"Port {port_id} could not be found.", kind=ErrorKind.PORT_NOT_FOUND,
                       field="port_id", value=port_id)
    return row


def check_vnic(vnic: VnicType) -> None:
    """Refuse what the chapter (20.9) says cannot work: macvtap ports."""
    if vnic is VnicType.MACVTAP:
        raise NotSupported("binding:vnic_type macvtap is not supported (SR-IOV chapter 20.9)",
                           kind=ErrorKind.INVALID_INPUT, field="binding:vnic_type", value=str(vnic),
                           fix="use direct (a VF) or direct-physical (a whole PF)")


def _check_binding_policy(caller: Caller, host: object, profile: object) -> None:
    if (host is not None and host is not UNSET) or (profile is not None and profile
                                                      is not UNSET):
        policy.require_privileged(
            caller, "binding:host_id and binding:profile are admin/service only",
            field="binding:profile",
            fix="leave binding:host_id and binding:profile out; nova sets them")


def _sriov_security(vnic: VnicType, groups: tuple[str, ...] | None,
                    port_security: bool | None) -> None:
    """Direct ports carry no security groups and no port security: nothing could enforce
    them (no firewall sits between a VF and the wire; 20.9)."""
    if groups:
        raise NotSupported(f"security groups are not supported on {vnic} ports (SR-IOV "
                           "chapter 20.9: no firewall can filter a VF or PF)",
                           kind=ErrorKind.INVALID_INPUT, field="security_groups",
                           value=list(groups),
                           fix="leave security_groups out or [] for direct ports")
    if port_security:
        raise NotSupported(f"port_security_enabled true is not supported on {vnic} ports "
                           "(SR-IOV chapter 20.9)", kind=ErrorKind.INVALID_INPUT,
                           field="port_security_enabled", value=True,
                           fix="leave port_security_enabled out or false for direct ports")


class Ports:
    """The port resource (binding itself is in port_bindings)."""

    def __init__(self, env: Env, groups: SecurityGroups, rebind: Any) -> None:
        self._env = env
        self._groups = groups
        self._rebind = rebind  # (session, row) -> None: runs ML2 binding for a port
        self._watchers: list[Callable[[str], object]] = []

    def watch_hosts(self, callback: Callable[[str], object]) -> None:
        """Call ``callback(host)`` after a committed change the host's agents must apply
        (admin_state_up or propagate_uplink_status of a port bound there), so they need not
        wait for their next poll."""
        self._watchers.append(callback)

    def create(self, caller: Caller, spec: PortSpec) -> Port:
        """A new port, status DOWN; 400 macvtap / groups on direct ports, 403 binding:* for
        tenants, 404 network, 409 MacAddressInUse / IpAddress* ."""
        return self.create_many(caller, (spec,))[0]

    def create_many(self, caller: Caller, specs: Sequence[PortSpec]) -> list[Port]:
        """Bulk create: every port or none."""
        for spec in specs:
            check_vnic(spec.vnic_type)
            _check_binding_policy(caller, spec.host, spec.profile)
            if spec.vnic_type.is_sriov:
                _sriov_security(spec.vnic_type, spec.security_groups, spec.port_security_enabled)
        owners = {policy.owner_of(caller, spec.project_id) for spec in specs}
        defaults = {project: self._groups.ensure_default(project) for project in owners}
        now = self._env.clock.now()

        def attempt() -> list[Port]:
            with self._env.db.transaction() as session:
                rows = [self._insert(session, caller, spec, defaults, now) for spec in specs]
                quotas.enforce(session, "port", (r.project_id for r in rows))
                return to_ports(session, rows)
        return retry_races(attempt)  # a concurrent create took our MAC or address

    def _insert(self, session: Session, caller: Caller, spec: PortSpec,
                defaults: dict[str, str], now: datetime) -> PortRow:
        network = load_network_row(session, caller, spec.network_id)
        project = policy.owner_of(caller, spec.project_id)
        port_security = False if spec.vnic_type.is_sriov else (
            network.port_security_enabled if spec.port_security_enabled is None
            else spec.port_security_enabled)
        row = PortRow(id=new_id(), network_id=network.id, project_id=project, name=spec.name,
                      description=spec.description,
                      mac_address=addresses.choose_mac(session, network.id, spec.mac),
                      admin_state_up=spec.admin_state_up, device_id=spec.device_id,
                      device_owner=spec.device_owner, vnic_type=str(spec.vnic_type),
                      port_security_enabled=port_security,
                      propagate_uplink_status=spec.propagate_uplink_status,
                      binding_host=spec.host or "",
                      binding_profile=profile_json(spec.profile or BindingProfile()),
                      vif_type=str(VifType.UNBOUND), vif_details={}, binding_failure=None,
                      device_up=False, created_at=now, updated_at=now, revision_number=1)
        session.add(row)
        session.flush()
        addresses.allocate_fixed_ips(session, row.id, network.id, spec.fixed_ips)
        groups = self._groups_for(session, project, spec, port_security, defaults)
        session.add_all(PortSecurityGroupRow(port_id=row.id, security_group_id=g)
                        for g in groups)
        if row.binding_host:
            _check_vf_unshared(session, row)
            self._rebind(session, row)
        session.flush()
        return row

    @staticmethod
    def _groups_for(session: Session, project: str, spec: PortSpec, port_security: bool,
                    defaults: dict[str, str]) -> tuple[str, ...]:
        if spec.vnic_type.is_sriov:
            return ()
        if not port_security:
            if spec.security_groups:
                raise Invalid("Port security must be enabled and port must have an IP "
                              "address in order to use security groups.",
                              kind=ErrorKind.PORT_SECURITY_AND_IP_REQUIRED,
                              field="security_groups", fix="drop security_groups or enable "
                              "port_security_enabled")
            return ()
        if spec.security_groups is None:
            return (defaults[project],)
        return resolve_groups(session, project, spec.security_groups)

    def get(self, caller: Caller, port_id: str) -> Port:
        with self._env.db.autocommit() as session:  # reads: see ``Database.autocommit``
            return to_ports(session, [load_port_row(session, caller, port_id)])[0]

    def list(self, caller: Caller, query: ListQuery = ListQuery()) -> list[Port]:
        """The caller's ports (every port for admin/service users) that pass the query's
        filters, oldest first or in its sort order, one page when it has a limit.

        Raises Invalid (400) for a sort key that is no port column, NotFound (404
        PortNotFound) for a marker the caller cannot see."""
        with self._env.db.autocommit() as session:
            stmt = select(PortRow)
            if not policy.is_privileged(caller):
                stmt = stmt.where(PortRow.project_id == caller.project_id)
            rows = listed_rows(session, PORTS, caller, stmt, query, load_port_row)
            return to_ports(session, rows)

    def update(self, caller: Caller, port_id: str, change: PortUpdate) -> Port:
        """Apply the change; binding:* changes reset and redo the binding. 409 PortInUse for a
        vnic_type change on a bound port; 400/403 as for create. An empty profile from a
        project member changes nothing (and is no policy breach)."""
        if isinstance(change.profile, BindingProfile) and change.profile.is_empty \
                and not policy.is_privileged(caller):
            change = replace(change, profile=UNSET)
        _check_binding_policy(caller, change.host, change.profile)
        if change.vnic_type is not UNSET:
            check_vnic(change.vnic_type)
        with self._env.db.transaction() as session:
            row = load_port_row(session, caller, port_id)
            was = (row.admin_state_up, row.propagate_uplink_status)
            self._apply(session, row, change)
            row.updated_at = self._env.clock.now()
            row.revision_number += 1
            session.flush()
            port = to_ports(session, [row])[0]
        if port.binding.host and (port.admin_state_up, port.propagate_uplink_status) != was:
            for notify in self._watchers:
                notify(port.binding.host)
        return port

    def _apply(self, session: Session, row: PortRow, change: PortUpdate) -> None:
        for name in ("name", "description", "admin_state_up", "device_id", "device_owner",
                     "propagate_uplink_status"):
            value = getattr(change, name)
            if value is not UNSET:
                setattr(row, name, value)
        vnic = VnicType(row.vnic_type) if change.vnic_type is UNSET else change.vnic_type
        if vnic != VnicType(row.vnic_type) and VifType(row.vif_type).is_bound:
            raise Conflict(f"Port {row.id} is bound: its binding:vnic_type cannot change.",
                           kind=ErrorKind.PORT_IN_USE, field="binding:vnic_type", value=str(vnic),
                           fix="unbind the port (delete its server) first")
        self._apply_security(session, row, vnic, change)
        if change.fixed_ips is not UNSET:
            addresses.release_fixed_ips(session, row.id)
            session.flush()
            addresses.allocate_fixed_ips(session, row.id, row.network_id, change.fixed_ips)
        rebind = any(v is not UNSET for v in (change.host, change.profile, change.vnic_type))
        row.vnic_type = str(vnic)
        if change.host is not UNSET:
            row.binding_host = change.host
        if change.profile is not UNSET:
            row.binding_profile = profile_json(change.profile)
        if rebind:
            row.vif_type, row.vif_details = str(VifType.UNBOUND), {}
            row.binding_failure, row.device_up = None, False
            if row.binding_host:
                _check_vf_unshared(session, row)
                self._rebind(session, row)

    @staticmethod
    def _apply_security(session: Session, row: PortRow, vnic: VnicType,
                        change: PortUpdate) -> None:
        groups = None if change.security_groups is UNSET else change.security_groups
        security = None if change.port_security_enabled is UNSET \
            else change.port_security_enabled
        if vnic.is_sriov:
            _sriov_security(vnic, groups, security)
            row.port_security_enabled = False
            session.execute(delete(PortSecurityGroupRow)
                            .where(PortSecurityGroupRow.port_id == row.id))
            return
        if security is not None:
            row.port_security_enabled = security
        current = session.scalars(select(PortSecurityGroupRow.security_group_id)
                                  .where(PortSecurityGroupRow.port_id == row.id)).all()
        wanted = tuple(current) if groups is None else \
            resolve_groups(session, row.project_id, groups)
        if wanted and not row.port_security_enabled:
            raise Conflict(f"Port {row.id} has security groups; port security cannot be "
                           "disabled while it has them.",
                           kind=ErrorKind.PORT_SECURITY_PORT_HAS_SECURITY_GROUP,
                           field="port_security_enabled", fix="set security_groups [] too")
        if groups is not None:
            session.execute(delete(PortSecurityGroupRow)
                            .where(PortSecurityGroupRow.port_id == row.id))
            session.add_all(PortSecurityGroupRow(port_id=row.id, security_group_id=g)
                            for g in wanted)

    def delete(self, caller: Caller, port_id: str) -> None:
        """Delete the port and free its addresses; 404 when gone (tempest polls for it)."""
        with self._env.db.transaction() as session:
            row = load_port_row(session, caller, port_id)
            addresses.release_fixed_ips(session, row.id)
            session.execute(delete(PortSecurityGroupRow)
                            .where(PortSecurityGroupRow.port_id == row.id))
            session.delete(row)


def network_of(session: Session, row: PortRow) -> NetworkRow:
    network = session.get(NetworkRow, row.network_id)
    assert network is not None  # the foreign key guarantees it
    return network
