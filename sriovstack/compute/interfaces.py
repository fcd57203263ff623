"""Interface hot-plug (nova's os-interface): list, show, attach and detach a server's ports.

Attach, as nova does it since Victoria for direct ports: under the server's operation lease
(operation_lease.py) a ``direct`` port claims one VF of its network's physnet on the server's
own host (interface_claims.py; none free -> 400, nova's InterfaceAttachPciClaimFailed, and
nothing is left claimed or bound), the port is bound there (binding:host_id, binding:profile
``pci_slot``, vif_details ``vlan``) and recorded as the server's; the host's revision is
bumped and the compute agent configures the VF (MAC, VLAN, spoof check), hot-plugs it into the
running guest (a normal port: a veth onto its segment, with the netns data plane) and the
SR-IOV agent applies its link state. Detach removes the port from the server first (the agent
unplugs the VF and resets it to the baseline, fenced by the claim's generation), then frees
the VF, unbinds the port (deleting it when compute created it, as nova does) and ends.

Steps and what a killed API worker leaves (the sweep, ``roll_back`` through
OperationRecovery, rolls it back once the lease expires: a VF the server holds for a port it does not record is freed, a port bound to
it that it does not record is unbound):

- attach: 1 lease + action -> 2 VF claim -> 3 binding -> 4 the port recorded, lease dropped.
  Dead after 2 or 3: rolled back (VF freed, port unbound). After 4: done.
- detach: 1 lease + action -> 2 the port no longer recorded -> 3 VF freed -> 4 port unbound
  -> 5 lease dropped. Dead after 2, 3 or 4: the rollback finishes the detach.

Unlike nova, the API answers once the ledger and binding are done, not once the guest has
the device: the hot-plug is the agent's convergence (a failed hot-plug puts the server in
ERROR with the fault, as a failed build does).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select

from sriovstack.compute.build import DEVICE_OWNER, ServerBuilder
from sriovstack.compute.build_lease import BuildLease, LeaseState
from sriovstack.compute.instance_actions import InstanceActionLog
from sriovstack.compute.interface_claims import (claim_port_vf, orphan_devices,
                                                 release_port_devices)
from sriovstack.compute.operation_lease import OperationLeases
from sriovstack.compute.scheduler.model import ClaimedDevice
from sriovstack.compute.types import SYSTEM_CALLER, Server
from sriovstack.crashpoints import crash_point
from sriovstack.db import Database
from sriovstack.db.models import ServerPortRow, ServerRow
from sriovstack.errors import (ClaimLost, Conflict, ErrorKind, Invalid, NotFound,
                               NotSupported)
from sriovstack.identity import Caller
from sriovstack.mac import MacAddress
from sriovstack.network import (BindingProfile, FixedIp, FixedIpRequest, Port, PortRequest,
                                PortSpec)
from sriovstack.wire import ServerStatus, VnicType

if TYPE_CHECKING:
    from sriovstack.compute.servers import ServerService
    from sriovstack.network import NetworkService

__all__ = ["InterfaceService", "InterfaceAttach", "InterfaceAttachment", "HOTPLUG_STATUSES"]

_LOG = logging.getLogger(__name__)
St = ServerStatus
# nova/compute/api.py: attach_interface and detach_interface check vm_state ACTIVE, PAUSED,
# STOPPED (SHUTOFF) and task_state None.
HOTPLUG_STATUSES = (St.ACTIVE, St.PAUSED, St.SHUTOFF)


@dataclass(frozen=True, slots=True)
class InterfaceAttach:
    """``interfaceAttachment`` of a POST: a port, or a network (with fixed IPs) to make one on."""

    port_id: str | None = None
    network_id: str | None = None
    fixed_ips: tuple[FixedIpRequest, ...] | None = None
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class InterfaceAttachment:
    """One of a server's ports as os-interface shows it."""

    port_id: str
    network_id: str
    mac: MacAddress
    port_state: str
    fixed_ips: tuple[FixedIp, ...]
    tag: str | None = None


class InterfaceService:
    """os-interface over the servers, the VF ledger and the network service."""

    def __init__(self, db: Database, network: "NetworkService", servers: "ServerService",
                 builder: ServerBuilder, leases: OperationLeases) -> None:
        self._db = db
        self._network = network
        self._servers = servers
        self._builder = builder
        self.leases = leases
        self._log = InstanceActionLog()

    # -- read -----------------------------------------------------------------------------

    def list(self, caller: Caller, server_id: str) -> tuple[InterfaceAttachment, ...]:
        """The server's ports in order; NotFound for a server the caller cannot see."""
        server = self._servers.get(caller, server_id)
        tags = self._tags(server_id)
        return tuple(self._attachment(p.port_id, tags.get(p.port_id)) for p in server.ports)

    def get(self, caller: Caller, server_id: str, port_id: str) -> InterfaceAttachment:
        """One of the server's ports; NotFound (PortNotFound) when it is not attached."""
        server = self._servers.get(caller, server_id)
        if port_id not in {p.port_id for p in server.ports}:
            raise _not_attached(server_id, port_id)
        return self._attachment(port_id, self._tags(server_id).get(port_id))

    def _tags(self, server_id: str) -> dict[str, str | None]:
        with self._db.transaction() as s:
            return {r.port_id: r.tag for r in s.execute(select(
                ServerPortRow.port_id, ServerPortRow.tag).where(
                ServerPortRow.server_id == server_id))}

    def _attachment(self, port_id: str, tag: str | None = None) -> InterfaceAttachment:
        port = self._network.get_port(SYSTEM_CALLER, port_id)
        return InterfaceAttachment(port.id, port.network_id, port.mac, port.status.value,
                                   port.fixed_ips, tag)

    # -- attach ---------------------------------------------------------------------------

    def attach(self, caller: Caller, server_id: str, spec: InterfaceAttach,
               request_id: str = "") -> InterfaceAttachment:
        """Hot-plug a port (or a new port on ``network_id``) into the server.

        Raises NotFound (server, port or network: 404), Conflict (locked, or not ACTIVE,
        PAUSED or SHUTOFF with no task: 409; PortInUse 409), Invalid (no VF free on the
        server's host for a direct port: 400, nova's InterfaceAttachPciClaimFailed; both or
        neither of port_id and net_id), NotSupported (direct-physical, macvtap: 400).
        Nothing is left claimed or bound when it raises."""
        server = self._writable(caller, server_id)
        lease = self._lease(server, "attach_interface")
        created: str | None = None
        claimed = bound = False
        try:
            self._start(server, "attach_interface", "compute_attach_interface", request_id,
                        caller)
            crash_point("attach.begun")
            port_id = spec.port_id
            if port_id is None:
                created = port_id = self._create_port(caller, spec)
            request = self._request(caller, port_id)
            profile = BindingProfile()
            if request.vnic_type is VnicType.DIRECT:
                device = self._claim(lease, server, port_id, request.physnet)
                claimed = True
                crash_point("attach.claimed")
                profile = BindingProfile(pci_slot=device.address,
                                         pci_vendor_info=device.pci_vendor_info,
                                         physical_network=device.physnet)
            else:
                device = None
            assert server.host is not None
            bound = True  # a failed binding is stored too: undo it
            self._network.bind_port(port_id, server.host, server_id, DEVICE_OWNER, profile)
            crash_point("attach.bound")
            network_id = self._network.get_port(SYSTEM_CALLER, port_id).network_id
            self._record(lease, server, port_id, network_id, request.vnic_type, device,
                         created is not None, spec.tag)
        except BaseException as exc:
            self._undo_attach(lease, server, spec.port_id or created, claimed, bound, created,
                              exc)
            raise
        self._builder.revisions.bump(server.host or "")
        return self._attachment(port_id, spec.tag)

    def _writable(self, caller: Caller, server_id: str) -> Server:
        server = self._servers.get(caller, server_id)
        if server.locked and not caller.is_admin:
            raise Conflict(f"Instance {server_id} is locked", kind=ErrorKind.INSTANCE_IS_LOCKED,
                           value=server_id)
        return server

    def _lease(self, server: Server, action: str) -> BuildLease:
        lease = self.leases.take(server.id, action, HOTPLUG_STATUSES)
        if lease is not None:
            return lease
        now = self._servers.get(SYSTEM_CALLER, server.id)
        why = (f"task_state {now.task_state}" if now.task_state
               else f"vm_state {now.status.value.lower()}")
        if now.task_state is None and now.status in HOTPLUG_STATUSES:
            why = "another interface operation"
        raise Conflict(f"Cannot '{action}' instance {server.id} while it is in {why}",
                       kind=ErrorKind.INSTANCE_INVALID_STATE, value=server.id,
                       fix="interfaces are attached and detached while the server is ACTIVE, "
                           "PAUSED or SHUTOFF with no task running")

    def _start(self, server: Server, action: str, event: str, request_id: str,
               caller: Caller) -> None:
        with self._db.transaction() as s:
            self._log.start(s, server.id, action, event, request_id, caller.user_id or "",
                            server.host, self._builder.clock.now())

    def _create_port(self, caller: Caller, spec: InterfaceAttach) -> str:
        assert spec.network_id is not None
        try:
            port = self._network.create_port(caller, PortSpec(network_id=spec.network_id,
                                                              fixed_ips=spec.fixed_ips))
        except NotFound as exc:
            if exc.kind is ErrorKind.NETWORK_NOT_FOUND:
                raise NotFound(f"Network {spec.network_id} could not be found.",
                               kind=ErrorKind.NETWORK_NOT_FOUND, field="net_id",
                               value=spec.network_id) from exc
            raise
        return port.id

    def _request(self, caller: Caller, port_id: str) -> PortRequest:
        request = self._network.port_request(caller, port_id)  # 404, 409 in use, 400 macvtap
        if request.vnic_type not in (VnicType.NORMAL, VnicType.DIRECT):
            raise NotSupported(f"Port {port_id} has vnic_type {request.vnic_type.value}; "
                               "only normal and direct ports can be hot-plugged (a whole PF, "
                               "direct-physical, cannot)", field="port_id", value=port_id)
        return request

    def _claim(self, lease: BuildLease, server: Server, port_id: str,
               physnet: str | None) -> ClaimedDevice:
        assert server.host is not None
        try:
            with self._db.transaction() as s:
                return claim_port_vf(s, lease.token, server.id, server.host, port_id, physnet)
        except ClaimLost as exc:
            raise Invalid(f"Failed to claim PCI device for instance {server.id} during "
                          f"interface attach: {exc}", field="port_id", value=port_id,
                          fix="free a VF on that host (or detach one) and try again"
                          ) from exc

    def _record(self, lease: BuildLease, server: Server, port_id: str, network_id: str,
                vnic: VnicType, device: ClaimedDevice | None, created: bool,
                tag: str | None) -> None:
        with self._db.transaction() as s:
            state = self._builder.leases.settle(s, lease, updated_at=self._builder.clock.now())
            if state is not LeaseState.HELD:
                raise NotFound(f"Instance {server.id} was deleted during the attach.",
                               kind=ErrorKind.INSTANCE_NOT_FOUND, value=server.id)
            position = s.scalar(select(func.max(ServerPortRow.position)).where(
                ServerPortRow.server_id == server.id))
            s.add(ServerPortRow(
                server_id=server.id, port_id=port_id, network_id=network_id,
                position=(position if position is not None else -1) + 1,
                created_by_compute=created, vnic_type=vnic.value,
                pci_address=str(device.address) if device else None,
                vendor_id=device.vendor_id if device else None,
                product_id=device.product_id if device else None,
                physnet=device.physnet if device else None,
                generation=device.generation if device else None, tag=tag))
            self._log.finish(s, server.id, "Success", "", self._builder.clock.now())

    def _undo_attach(self, lease: BuildLease, server: Server, port_id: str | None,
                     claimed: bool, bound: bool, created: str | None,
                     exc: BaseException) -> None:
        """Undo whatever the attach did before ``exc``; each step idempotent and fenced (a
        port the server already had, refused as in use, is left alone)."""
        if port_id is not None and claimed:
            with self._db.transaction() as s:
                release_port_devices(s, server.id, (port_id,))
        if port_id is not None and bound:
            self._unbind(server.id, port_id)
        if created is not None:
            self._drop(created)
        with self._db.transaction() as s:
            if self._builder.leases.settle(s, lease) is LeaseState.HELD:
                self._log.finish(s, server.id, "Error", str(exc), self._builder.clock.now())

    # -- detach ---------------------------------------------------------------------------

    def detach(self, caller: Caller, server_id: str, port_id: str,
               request_id: str = "") -> None:
        """Unplug the port: the agent detaches and resets its VF; the VF is freed and the
        port unbound (deleted when compute created it).

        Raises NotFound (server, or the port is not attached: 404), Conflict (locked, or
        not ACTIVE, PAUSED or SHUTOFF with no task: 409)."""
        server = self._writable(caller, server_id)
        if port_id not in {p.port_id for p in server.ports}:
            raise _not_attached(server_id, port_id)
        lease = self._lease(server, "detach_interface")
        self._start(server, "detach_interface", "compute_detach_interface", request_id,
                    caller)
        crash_point("detach.begun")
        with self._db.transaction() as s:
            row = s.scalar(select(ServerPortRow).where(ServerPortRow.server_id == server_id,
                                                       ServerPortRow.port_id == port_id))
            created = bool(row.created_by_compute) if row is not None else False
            s.execute(delete(ServerPortRow).where(ServerPortRow.server_id == server_id,
                                                  ServerPortRow.port_id == port_id))
        self._builder.revisions.bump(server.host or "")  # the agent unplugs and resets
        crash_point("detach.removed")
        with self._db.transaction() as s:
            release_port_devices(s, server_id, (port_id,))
        crash_point("detach.released")
        self._unbind(server_id, port_id)
        crash_point("detach.unbound")
        if created:
            self._drop(port_id)
        with self._db.transaction() as s:
            if self._builder.leases.settle(s, lease) is LeaseState.HELD:
                self._log.finish(s, server_id, "Success", "", self._builder.clock.now())
        self._builder.revisions.bump(server.host or "")

    # -- the sweep ------------------------------------------------------------------------

    def roll_back(self, lease: BuildLease) -> None:
        """Under ``lease``: free what the server holds beyond its recorded ports, unbind
        the ports bound to it that it does not record, drop the lease. Idempotent."""
        server_id = lease.server_id
        with self._db.transaction() as s:
            host = s.scalar(select(ServerRow.host).where(ServerRow.id == server_id))
            recorded = set(s.scalars(select(ServerPortRow.port_id).where(
                ServerPortRow.server_id == server_id)))
            release_port_devices(s, server_id, orphan_devices(s, server_id, recorded))
        for port in self._network.ports.list(SYSTEM_CALLER):
            if port.device_id == server_id and port.id not in recorded:
                self._unbind(server_id, port.id)
        with self._db.transaction() as s:
            if self._builder.leases.settle(s, lease) is LeaseState.HELD:
                self._log.finish(s, server_id, "Error",
                                 "The API worker running this operation stopped; the sweep "
                                 "rolled it back", self._builder.clock.now())
        if host:
            self._builder.revisions.bump(host)

    # -- helpers --------------------------------------------------------------------------

    def _unbind(self, server_id: str, port_id: str) -> Port | None:
        try:
            return self._network.unbind_port(port_id, server_id)
        except NotFound:
            return None

    def _drop(self, port_id: str) -> None:
        try:
            self._network.delete_port(SYSTEM_CALLER, port_id)
        except NotFound:
            pass


def _not_attached(server_id: str, port_id: str) -> NotFound:
    return NotFound(f"Port {port_id} is not attached to instance {server_id}",
                    kind=ErrorKind.PORT_NOT_FOUND, field="port_id", value=port_id)
