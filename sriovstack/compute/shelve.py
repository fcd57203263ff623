"""Shelve and unshelve as nova runs them with ``shelved_offload_time = 0``: shelve stops the
guest and offloads the server at once (SHELVED_OFFLOADED, no host), its VFs, RAM and vCPUs
released and its ports kept (still the server's, ``device_id``) without a binding host;
unshelve schedules it again like a build: a new VF claim per direct port, possibly on
another host (2.77: in the availability zone asked for), the ports bound there.

Shelve, under the server's operation lease (operation_lease.py):
  1 lease + task ``shelving`` + action -> 2 (one fenced transaction) host cleared, status
  SHELVED_OFFLOADED, task ``shelving_offloading``, the ports' VF records cleared; the old
  host's revision bumped, so its agent destroys the guest and resets the VFs (fenced by the
  claim's generation) -> 3 claims released -> 4 binding hosts cleared -> 5 task cleared,
  lease dropped.  A worker killed after 1 leaves the server as it was (the sweep clears the
  task); after 2, the sweep finishes 3-5 (each idempotent).
Unshelve is a build: one conditional UPDATE moves the server from SHELVED_OFFLOADED (no task)
to BUILD, task ``unshelving``, queued under this worker's build lease, and the build runs in
the background (build.py); a killed worker's build is re-driven by the build sweep.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update

from sriovstack.compute.build import ServerBuilder
from sriovstack.compute.build_lease import BuildLease, LeaseState, hold_lease
from sriovstack.compute.instance_actions import InstanceActionLog
from sriovstack.compute.operation_lease import OperationLeases
from sriovstack.compute.operations import invalid_state
from sriovstack.compute.types import SYSTEM_CALLER, Server
from sriovstack.crashpoints import crash_point
from sriovstack.db import Database
from sriovstack.db.models import HostRow, ServerPortRow, ServerRow
from sriovstack.errors import Conflict, ErrorKind, Invalid, NotFound
from sriovstack.identity import Caller
from sriovstack.network import BindingProfile, PortUpdate
from sriovstack.wire import ServerStatus

if TYPE_CHECKING:
    from sriovstack.compute.scheduler import Scheduler
    from sriovstack.network import NetworkService

__all__ = ["ShelveService", "SHELVE_STATUSES", "SHELVING", "OFFLOADING"]

St = ServerStatus
# nova/compute/api.py shelve: vm_state ACTIVE, STOPPED, PAUSED, SUSPENDED; task None.
SHELVE_STATUSES = (St.ACTIVE, St.SHUTOFF, St.PAUSED, St.SUSPENDED)
SHELVING = "shelving"
OFFLOADING = "shelving_offloading"
UNSHELVING = "unshelving"


class ShelveService:
    """shelve / unshelve over the servers, the claims and the network service."""

    def __init__(self, db: Database, network: "NetworkService", scheduler: "Scheduler",
                 builder: ServerBuilder, leases: OperationLeases) -> None:
        self._db = db
        self._network = network
        self._scheduler = scheduler
        self._builder = builder
        self._leases = leases
        self._log = InstanceActionLog()

    def shelve(self, caller: Caller, server: Server, request_id: str) -> None:
        """Offload ``server`` (the caller's, checked unlocked): SHELVED_OFFLOADED with its
        VFs and host released. Raises Conflict (InstanceInvalidState, 409) unless ACTIVE,
        SHUTOFF, PAUSED or SUSPENDED with no task running."""
        lease = self._leases.take(server.id, "shelve", SHELVE_STATUSES, task_state=SHELVING)
        if lease is None:
            raise _invalid_state(server, "shelve", SHELVE_STATUSES)
        crash_point("shelve.begun")
        with self._db.transaction() as s:
            self._log.start(s, server.id, "shelve", "compute_shelve_offload_instance",
                            request_id, caller.user_id or "", server.host,
                            self._builder.clock.now())
            if not hold_lease(s, lease.token, server.id):
                raise _gone(server.id)
            row = s.get(ServerRow, server.id)
            assert row is not None
            old_host = row.host
            row.host, row.status, row.task_state = None, St.SHELVED_OFFLOADED.value, OFFLOADING
            row.updated_at = self._builder.clock.now()
            for port in s.scalars(select(ServerPortRow).where(
                    ServerPortRow.server_id == server.id)):
                port.pci_address = port.vendor_id = port.product_id = None
                port.generation = None
        if old_host:
            self._builder.revisions.bump(old_host)  # the agent destroys and resets
        crash_point("shelve.offloaded")
        self.finish_offload(lease)

    def finish_offload(self, lease: BuildLease) -> None:
        """Steps 3-5 of a shelve (also the sweep's roll-forward): free the server's claims,
        clear its ports' binding hosts, end the task. Idempotent."""
        server_id = lease.server_id
        self._scheduler.release(server_id)  # the ports stay the server's: not unbound
        crash_point("shelve.released")
        with self._db.transaction() as s:
            ports = tuple(s.scalars(select(ServerPortRow.port_id).where(
                ServerPortRow.server_id == server_id)))
        for port_id in ports:
            try:
                self._network.ports.update(SYSTEM_CALLER, port_id, PortUpdate(
                    host="", profile=BindingProfile()))
            except NotFound:
                continue  # deleted under the shelved server
        with self._db.transaction() as s:
            if self._builder.leases.settle(s, lease, task_state=None) is LeaseState.HELD:
                self._log.finish(s, server_id, "Success", "", self._builder.clock.now())

    def abandon(self, lease: BuildLease) -> None:
        """The sweep's rollback of a shelve whose worker died before offloading: the server
        is as it was; the task is cleared and the action ends in Error."""
        with self._db.transaction() as s:
            if self._builder.leases.settle(s, lease, task_state=None) is LeaseState.HELD:
                self._log.finish(s, lease.server_id, "Error",
                                 "The API worker running the shelve stopped before "
                                 "offloading; nothing was changed",
                                 self._builder.clock.now())

    def unshelve(self, caller: Caller, server: Server, availability_zone: str | None,
                 request_id: str) -> None:
        """Queue the server's build again (the caller runs ``builder.build`` after the 202).

        Raises Conflict (409) unless SHELVED_OFFLOADED with no task; Invalid (400) for an
        availability zone no host is in."""
        now = self._builder.clock.now()
        with self._db.transaction() as s:
            if availability_zone is not None and s.scalar(select(HostRow.id).where(
                    HostRow.availability_zone == availability_zone).limit(1)) is None:
                raise Invalid(f"The requested availability zone is not available: "
                              f"{availability_zone}", field="availability_zone",
                              value=availability_zone)
            values: dict[str, object] = {
                "status": St.BUILD.value, "task_state": UNSHELVING, "updated_at": now,
                "build_owner": self._builder.leases.worker,
                "build_lease_until": self._builder.leases.deadline()}
            if availability_zone is not None:
                values["availability_zone"] = availability_zone
            done = s.execute(update(ServerRow).where(
                ServerRow.id == server.id, ServerRow.status == St.SHELVED_OFFLOADED.value,
                ServerRow.task_state.is_(None), ServerRow.host.is_(None),
                ServerRow.build_owner.is_(None)).values(**values)
                .execution_options(synchronize_session=False))
            if done.rowcount != 1:
                raise _invalid_state(server, "unshelve", (St.SHELVED_OFFLOADED,))
            self._log.start(s, server.id, "unshelve", "compute_unshelve_instance",
                            request_id, caller.user_id or "", None, now)
        crash_point("unshelve.queued")


def _invalid_state(server: Server, action: str,
                   allowed: tuple[ServerStatus, ...]) -> Conflict:
    return invalid_state(action, server.id, server.status.value, server.task_state,
                         ", ".join(s.value for s in allowed))


def _gone(server_id: str) -> NotFound:
    return NotFound(f"Instance {server_id} could not be found.",
                    kind=ErrorKind.INSTANCE_NOT_FOUND, value=server_id)
