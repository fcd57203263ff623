"""Binding ports to hosts (ML2: drivers in order, first binder wins), unbinding, device
up/down reports from the hosts' agents, and the PCI request compute builds from a port."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, delete, select, tuple_, update
from sqlalchemy.orm import Session

from sriovstack.db import storable
from sriovstack.db.models import IpAllocationRow, NetworkRow, PortHostBindingRow, PortRow
from sriovstack.errors import Conflict, ErrorKind, NotFound, SriovstackError
from sriovstack.identity import Caller, policy
from sriovstack.mac import MacAddress
from sriovstack.network import binding
from sriovstack.network.agents import agent_states, agents_on_hosts
from sriovstack.network.env import Env
from sriovstack.network.mechanisms import AgentState, BindRequest, MechanismDriver
from sriovstack.network.networks import segment_of
from sriovstack.network.ports import (check_vnic, load_port_row, network_of, port_status,
                                      profile_json, profile_of, to_ports)
from sriovstack.network.types import (BindingProfile, FixedIp, NetworkType, Port, PortRequest,
                                      PortStatus, RequestedPort, Segment, VifType, VnicType)
from sriovstack.pci import PciAddress
from sriovstack.wire import UplinkPropagation

__all__ = ["PortBindings", "DeviceBinding", "BindRefused", "clear_binding", "COMPUTE_OWNER",
           "COMPUTE_BINDINGS"]

_UPLINK = "uplink_status_propagation"  # binding:vif_details key: what the NIC agent did
COMPUTE_OWNER = "compute:"  # device_owner's prefix for a server's port (neutron's)
_PORTS = PortRow.__table__

# Every port a server holds (device_owner compute:*) as a subquery compute's ledger audit
# joins to its claims, so that only the ports that disagree leave the database: the port,
# its server (device_id), its host and the VF address its binding profile names (NULL for
# none).  The address is the text profile_json stored, as the devices' rows hold it.
COMPUTE_BINDINGS = (select(_PORTS.c.id.label("port_id"), _PORTS.c.device_id,
                           _PORTS.c.binding_host.label("host"),
                           _PORTS.c.binding_profile["pci_slot"].as_string()
                           .label("pci_slot"))
                    .where(_PORTS.c.device_owner.startswith(COMPUTE_OWNER),
                           _PORTS.c.device_id != "")
                    .subquery("compute_bindings"))

# The ports a VF report may name, and what it changes, built once on the Core table (a
# report per VF of every boot; its transaction holds no ORM rows): the device's state, and
# its binding:vif_details when they changed too.
_REPORTED = select(_PORTS.c.id, _PORTS.c.binding_profile, _PORTS.c.vif_details,
                   _PORTS.c.device_up, _PORTS.c.vif_type, _PORTS.c.admin_state_up).where(
    _PORTS.c.mac_address == bindparam("mac"), _PORTS.c.binding_host == bindparam("host"))
_REPORT = (update(_PORTS).where(_PORTS.c.id == bindparam("port"))
           .values(device_up=bindparam("up"), updated_at=bindparam("now"),
                   revision_number=_PORTS.c.revision_number + 1))
_REPORT_DETAILS = _REPORT.values(vif_details=bindparam("details"))
# ``bind_devices``' statements, built once (every build binds its ports through it): the
# ports locked in id order, and their INACTIVE bindings for the (port, host) pairs dropped
# (on the Core table: no binding row is loaded in that session).
_LOCK_PORTS = (select(PortRow).where(PortRow.id.in_(bindparam("ports", expanding=True)))
               .order_by(PortRow.id).with_for_update())
_BINDINGS = PortHostBindingRow.__table__.c
_DROP_INACTIVE = delete(PortHostBindingRow.__table__).where(
    tuple_(_BINDINGS.port_id, _BINDINGS.host).in_(bindparam("pairs", expanding=True)))
_NETWORKS = NetworkRow.__table__.c
_SEGMENTS = select(_NETWORKS.id, _NETWORKS.network_type, _NETWORKS.physnet,
                   _NETWORKS.segmentation_id).where(
    _NETWORKS.id.in_(bindparam("networks", expanding=True)))


# The ports a new server asks for, with their networks and fixed IPs (every server create),
# built once: Core columns, the ids an expanding parameter.
_P, _N, _I = PortRow.__table__.c, NetworkRow.__table__.c, IpAllocationRow.__table__.c
_REQUESTED = (select(_P.id, _P.project_id, _P.vnic_type, _P.device_id, _P.network_id,
                     _P.mac_address, _N.name, _N.project_id.label("network_project"),
                     _N.shared, _N.network_type, _N.physnet, _N.segmentation_id,
                     _I.subnet_id, _I.ip_address)
              .join(NetworkRow.__table__, _N.id == _P.network_id)
              .outerjoin(IpAllocationRow.__table__, _I.port_id == _P.id)
              .where(_P.id.in_(bindparam("ports", expanding=True)))
              .order_by(_P.id, _I.position))


def clear_binding(row: PortRow) -> None:
    """Leave ``row`` with no active binding: no host, no profile, vif_type unbound, down
    (device, owner, vnic_type and INACTIVE bindings are the caller's to keep or clear)."""
    row.binding_host, row.binding_profile = "", {}
    row.vif_type, row.vif_details = str(VifType.UNBOUND), {}
    row.binding_failure, row.device_up = None, False


def _check_free(port_id: str, vnic: VnicType, device_id: str) -> None:
    """Refuse a port compute cannot take: macvtap (20.9), or one a device already holds."""
    check_vnic(vnic)
    if device_id:
        raise Conflict(f"Port {port_id} is still in use by {device_id}.",
                       kind=ErrorKind.PORT_IN_USE, field="port_id", value=port_id,
                       fix="detach it from that server or create another port")


@dataclass(frozen=True, slots=True)
class DeviceBinding:
    """One device's ports to bind on one host, in order, each with its profile (what a
    build binds for one server)."""

    host: str
    device_id: str
    device_owner: str
    ports: tuple[tuple[str, BindingProfile], ...]


@dataclass(frozen=True, slots=True)
class BindRefused:
    """Why one port of a device was not bound; the device's ports before it are bound."""

    port_id: str
    error: SriovstackError


def _not_found(port_id: str) -> NotFound:
    return NotFound(f"Port {port_id} could not be found.", kind=ErrorKind.PORT_NOT_FOUND,
                    field="port_id", value=port_id)


class PortBindings:
    """Binding and device state of ports; used by compute in process and by the API."""

    def __init__(self, env: Env, drivers: Sequence[MechanismDriver]) -> None:
        self._env = env
        self._drivers = tuple(drivers)

    def rebind(self, session: Session, row: PortRow) -> None:
        """Run the binding loop for ``row`` (its host is set) and store the outcome.

        Never raises for a refusal: the port records ``binding_failed`` and why. An
        INACTIVE binding the port had for that host is dropped (one binding per host).
        """
        session.execute(delete(PortHostBindingRow).where(
            PortHostBindingRow.port_id == row.id, PortHostBindingRow.host == row.binding_host))
        self._store(row, self.attempt(session, row, row.binding_host, VnicType(row.vnic_type),
                                      profile_of(row.binding_profile)))

    @staticmethod
    def _store(row: PortRow, result: binding.BindingResult) -> None:
        row.vif_type = str(result.vif_type)
        row.vif_details = dict(result.vif_details)
        row.device_up = result.device_up
        row.binding_failure = result.failure

    def attempt(self, session: Session, row: PortRow, host: str, vnic: VnicType,
                profile: BindingProfile, agents: tuple[AgentState, ...] | None = None,
                segment: Segment | None = None) -> binding.BindingResult:
        """What the drivers make of binding ``row``'s network on ``host`` (nothing stored);
        ``agents`` and ``segment``: the host's and the network's, when the caller read them
        already."""
        if agents is None:
            agents = agent_states(session, host, self._env.clock.now(),
                                  self._env.settings.agent_down_time)
        request = BindRequest(vnic_type=vnic, host=host, profile=profile,
                              segment=segment or segment_of(network_of(session, row)),
                              agents=agents)
        return binding.bind(self._drivers, request)

    def bind_port(self, port_id: str, host: str, device_id: str, device_owner: str,
                  profile: BindingProfile) -> None:
        """Bind the port to ``host`` for ``device_id`` (compute's call, service rights).

        The outcome is stored either way; when no driver binds, raises Conflict
        (kind PortBindingFailed) whose message names every driver's reason.  Raises
        Conflict (PortInUse) when another device owns the port already: a late build of a
        deleted server never takes a port a newer server holds.  Nothing is read back: no
        caller needs the port's addresses and groups (read it with ``get_port``).
        """
        with self._env.db.transaction() as session:
            row = session.get(PortRow, port_id, with_for_update=True) \
                if storable(port_id) else None
            if row is None:
                raise _not_found(port_id)
            if row.device_id and row.device_id != device_id:
                raise Conflict(f"Port {port_id} is still in use by {row.device_id}.",
                               kind=ErrorKind.PORT_IN_USE, field="port_id", value=port_id)
            row.binding_host, row.device_id, row.device_owner = host, device_id, device_owner
            row.binding_profile = profile_json(profile)
            with session.no_autoflush:  # the network and agents read: one UPDATE of the port
                self.rebind(session, row)
            row.updated_at = self._env.clock.now()
            row.revision_number += 1
            session.flush()
            failed = VifType(row.vif_type) is VifType.BINDING_FAILED
            failure = row.binding_failure
        if failed:
            raise Conflict(failure or f"Binding failed for port {port_id}",
                           kind=ErrorKind.PORT_BINDING_FAILED, field="port_id", value=port_id,
                           host=host, fix="check the host's agents and the network's physnet")

    def bind_devices(self, devices: Sequence[DeviceBinding]) -> list[BindRefused | None]:
        """``bind_port`` for each device's ports in order, all in one transaction: for each
        device, None when every port was bound, or the first port refused and why (its
        failed binding is stored, as ``bind_port`` stores it; the ports after it are not
        tried).  One device's refusal never affects the others.

        The ports are locked in one read, in id order (so two such calls never deadlock);
        then the hosts' agents and the ports' networks are read, one statement each."""
        ids = sorted({port_id for d in devices for port_id, _ in d.ports if storable(port_id)})
        now = self._env.clock.now()
        down_time = self._env.settings.agent_down_time
        with self._env.db.transaction() as session:
            rows = {row.id: row for row in session.scalars(
                _LOCK_PORTS, {"ports": ids})} if ids else {}
            pairs = sorted({(port_id, d.host) for d in devices for port_id, _ in d.ports
                            if port_id in rows})
            if pairs:  # the INACTIVE bindings for the host each port is bound to now
                session.execute(_DROP_INACTIVE, {"pairs": pairs})
            agents = agents_on_hosts(session, sorted({d.host for d in devices}), now, down_time)
            networks = sorted({row.network_id for row in rows.values()})
            segments = {n.id: segment_of(n) for n in session.execute(
                _SEGMENTS, {"networks": networks})} if networks else {}
            outcomes: list[BindRefused | None] = []
            with session.no_autoflush:  # one UPDATE per port, at the end
                for device in devices:
                    outcomes.append(self._bind_device(session, rows, device,
                                                      agents[device.host], segments))
            session.flush()
        return outcomes

    def _bind_device(self, session: Session, rows: dict[str, PortRow], device: DeviceBinding,
                     agents: tuple[AgentState, ...],
                     segments: dict[str, Segment]) -> BindRefused | None:
        for port_id, profile in device.ports:
            row = rows.get(port_id)
            if row is None:
                return BindRefused(port_id, _not_found(port_id))
            if row.device_id and row.device_id != device.device_id:
                return BindRefused(port_id, Conflict(
                    f"Port {port_id} is still in use by {row.device_id}.",
                    kind=ErrorKind.PORT_IN_USE, field="port_id", value=port_id))
            row.binding_host, row.device_id = device.host, device.device_id
            row.device_owner, row.binding_profile = device.device_owner, profile_json(profile)
            self._store(row, self.attempt(session, row, device.host, VnicType(row.vnic_type),
                                          profile, agents, segments[row.network_id]))
            row.updated_at = self._env.clock.now()
            row.revision_number += 1
            if VifType(row.vif_type) is VifType.BINDING_FAILED:
                return BindRefused(port_id, Conflict(
                    row.binding_failure or f"Binding failed for port {port_id}",
                    kind=ErrorKind.PORT_BINDING_FAILED, field="port_id", value=port_id,
                    host=device.host, fix="check the host's agents and the network's physnet"))
        return None

    def unbind_port(self, port_id: str, device_id: str | None = None) -> Port:
        """Clear host, profile and device: vif_type unbound, status DOWN, the port's
        INACTIVE bindings deleted (idempotent).

        With ``device_id`` the port is left as it is unless that device owns it (a build
        undoing its own binding never unbinds a port another server took meanwhile)."""
        with self._env.db.transaction() as session:
            row = session.get(PortRow, port_id, with_for_update=True) \
                if storable(port_id) else None
            if row is None:
                raise _not_found(port_id)
            if device_id is not None and row.device_id not in ("", device_id):
                return to_ports(session, [row])[0]
            clear_binding(row)
            row.device_id, row.device_owner = "", ""
            # a port no server holds keeps no binding for a host it may have moved to
            session.execute(delete(PortHostBindingRow)
                            .where(PortHostBindingRow.port_id == row.id))
            row.updated_at = self._env.clock.now()
            row.revision_number += 1
            session.flush()
            return to_ports(session, [row])[0]

    def port_request(self, caller: Caller, port_id: str) -> PortRequest:
        """What compute asks the scheduler for: NotFound (404), NotSupported for macvtap
        (20.9), Conflict PortInUse when a device already owns the port."""
        with self._env.db.transaction() as session:
            return self._request_of(session, caller, port_id)[1]

    @staticmethod
    def requested_ports(session: Session, caller: Caller, port_ids: Sequence[str]
                        ) -> tuple[RequestedPort, ...]:
        """The ports a new server asks for, read in ``session``'s transaction at once (with
        their networks and fixed IPs, one statement), each checked as ``port_request``
        checks it, in order: the first bad one raises NotFound (404), NotSupported
        (macvtap, 20.9) or Conflict (PortInUse)."""
        wanted = [p for p in port_ids if storable(p)]
        found: dict[str, Row[Any]] = {}
        ips: dict[str, list[FixedIp]] = {}
        for row in session.execute(_REQUESTED, {"ports": wanted}) if wanted else ():
            found.setdefault(row.id, row)
            if row.ip_address is not None:  # a port without addresses: one row of NULLs
                ips.setdefault(row.id, []).append(FixedIp(row.subnet_id, row.ip_address))
        out = []
        for port_id in port_ids:
            port = found.get(port_id)
            if port is None or not policy.in_scope(caller, port.project_id):
                raise _not_found(port_id)
            vnic = VnicType(port.vnic_type)
            _check_free(port_id, vnic, port.device_id)
            seen = port.shared or policy.in_scope(caller, port.network_project)
            out.append(RequestedPort(
                PortRequest(port_id=port_id, vnic_type=vnic, physnet=port.physnet,
                            network_type=NetworkType(port.network_type),
                            segmentation_id=port.segmentation_id),
                network_id=port.network_id, network_name=port.name if seen else None,
                mac=MacAddress(port.mac_address), fixed_ips=tuple(ips.get(port_id, ()))))
        return tuple(out)

    @staticmethod
    def _request_of(session: Session, caller: Caller, port_id: str
                    ) -> tuple[PortRow, PortRequest]:
        row = load_port_row(session, caller, port_id)
        vnic = VnicType(row.vnic_type)
        _check_free(port_id, vnic, row.device_id)
        segment = segment_of(network_of(session, row))
        return row, PortRequest(port_id=row.id, vnic_type=vnic, physnet=segment.physnet,
                                network_type=segment.network_type,
                                segmentation_id=segment.segmentation_id)

    def set_device_status(self, host: str, mac: MacAddress, pci_slot: PciAddress | None,
                          up: bool, uplink: UplinkPropagation = UplinkPropagation.OFF) -> Port:
        """The host's SR-IOV agent saw the (mac, pci_slot) device up or down.

        The port must be bound to ``host``; NotFound otherwise (the agent is told it is
        stale). ACTIVE follows when bound, up and admin_state_up. What became of the port's
        propagate_uplink_status is kept in ``binding:vif_details`` under
        ``uplink_status_propagation`` (``following``, or ``unsupported`` where the VF's
        driver has no link-state control), absent when not asked.
        """
        with self._env.db.transaction() as session:
            port_id, _ = self._device_status(session, host, mac, pci_slot, up, uplink)
            return to_ports(session, [session.get_one(PortRow, port_id)])[0]

    def report_device(self, host: str, mac: MacAddress, pci_slot: PciAddress | None,
                      up: bool, uplink: UplinkPropagation = UplinkPropagation.OFF
                      ) -> tuple[str, PortStatus]:
        """``set_device_status`` for the agent's report, whose answer is the port's id and
        status only: the port's addresses and groups are not read."""
        with self._env.db.autocommit() as session:
            return self._device_status(session, host, mac, pci_slot, up, uplink)

    def _device_status(self, session: Session, host: str, mac: MacAddress,
                       pci_slot: PciAddress | None, up: bool,
                       uplink: UplinkPropagation) -> tuple[str, PortStatus]:
        """The port's (id, status) once the report is recorded: a read of the few columns
        it needs and, when something changed, one UPDATE (no ORM objects: a report per VF
        of every boot comes through here)."""
        if not storable(host):
            raise NotFound(f"No port with MAC {mac} is bound to host {host!r}.",
                           kind=ErrorKind.PORT_NOT_FOUND, field="mac", value=str(mac))
        rows = session.execute(_REPORTED, {"mac": str(mac), "host": host}).all()
        match = [r for r in rows if pci_slot is None
                 or profile_of(r.binding_profile).pci_slot == pci_slot]
        if len(match) != 1:
            raise NotFound(f"No port with MAC {mac} and pci_slot {pci_slot} is bound to "
                           f"host {host}.", kind=ErrorKind.PORT_NOT_FOUND, field="mac",
                           value=str(mac))
        row = match[0]
        details = {k: v for k, v in row.vif_details.items() if k != _UPLINK}
        if uplink is not UplinkPropagation.OFF:
            details[_UPLINK] = uplink.value
        if row.device_up != up or details != row.vif_details:
            changes = {"port": row.id, "up": up, "now": self._env.clock.now()}
            if details != row.vif_details:
                session.execute(_REPORT_DETAILS, {**changes, "details": details})
            else:
                session.execute(_REPORT, changes)
        return row.id, port_status(VifType(row.vif_type), up, row.admin_state_up)
