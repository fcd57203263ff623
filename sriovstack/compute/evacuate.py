"""Evacuate as nova runs it: a server whose host's compute service is down is rebuilt on
another host, with a new VF claim per direct port and its ports bound there.

Only when the host is down (its compute agent's heartbeat older than service_down_time):
otherwise 400, nova's ComputeServiceInUse. One conditional UPDATE (ACTIVE, SHUTOFF or ERROR,
no task, still on that host) moves the server to BUILD, task ``rebuilding``, off the host and
queued under this worker's build lease, with its ports' VF records cleared; the server's
claims on the dead host are then freed and the build runs in the background (build.py). A
worker killed after the UPDATE leaves a queued build the build sweep re-drives (it undoes
claims and bindings first, so the dead host's claims are freed then).

The dead host: nothing is scheduled there while it is down (ComputeFilter); when its agent
comes back, its desired state no longer lists the server, so the agent destroys the stale
guest first and resets its VFs, fenced (never a VF the desired state or its ledger gives to a
newer owner): it never re-plugs a server owned elsewhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update

from sriovstack.compute.build import ServerBuilder
from sriovstack.compute.hosts import HostRegistry
from sriovstack.compute.instance_actions import InstanceActionLog
from sriovstack.compute.operations import invalid_state
from sriovstack.compute.types import Server
from sriovstack.crashpoints import crash_point
from sriovstack.db import Database
from sriovstack.db.models import ServerPortRow, ServerRow
from sriovstack.errors import Conflict, Invalid, NotSupported
from sriovstack.identity import Caller, policy
from sriovstack.wire import ServerStatus

if TYPE_CHECKING:
    from sriovstack.compute.scheduler import Scheduler

__all__ = ["EvacuateService", "EVACUATE_STATUSES"]

St = ServerStatus
# nova/compute/api.py evacuate: vm_state ACTIVE, STOPPED, ERROR.
EVACUATE_STATUSES = (St.ACTIVE, St.SHUTOFF, St.ERROR)
REBUILDING = "rebuilding"


class EvacuateService:
    """evacuate over the host registry (who is down), the claims and the builder."""

    def __init__(self, db: Database, hosts: HostRegistry, scheduler: "Scheduler",
                 builder: ServerBuilder) -> None:
        self._db = db
        self._hosts = hosts
        self._scheduler = scheduler
        self._builder = builder
        self._log = InstanceActionLog()

    def evacuate(self, caller: Caller, server: Server, host: str | None,
                 request_id: str) -> None:
        """Queue ``server``'s rebuild elsewhere (the caller runs ``builder.build`` after the
        answer). Raises Forbidden (admins only, nova's default policy), NotSupported (a
        target host: 400), Invalid (the host's compute service is up: 400, nova's
        ComputeServiceInUse), Conflict (InstanceInvalidState 409: not placed, or not ACTIVE,
        SHUTOFF or ERROR with no task)."""
        policy.require_admin(caller, "evacuating a server")
        if host is not None:
            raise NotSupported(f"Cannot evacuate server {server.id} to host {host}: a target "
                               "host is not supported by this compute service; leave 'host' "
                               "out and the scheduler picks one", field="evacuate.host",
                               value=host)
        if server.host is None or server.status not in EVACUATE_STATUSES \
                or server.task_state is not None:
            raise _invalid_state(server)
        if self._hosts.get(server.host).up:
            raise Invalid(f"Compute service of {server.host} is still in use.",
                          field="host", value=server.host,
                          fix="evacuate only servers whose host's compute service is down")
        now = self._builder.clock.now()
        with self._db.transaction() as s:
            done = s.execute(update(ServerRow).where(
                ServerRow.id == server.id, ServerRow.host == server.host,
                ServerRow.status.in_([x.value for x in EVACUATE_STATUSES]),
                ServerRow.task_state.is_(None), ServerRow.build_owner.is_(None))
                .values(status=St.BUILD.value, task_state=REBUILDING, host=None,
                        updated_at=now, build_owner=self._builder.leases.worker,
                        build_lease_until=self._builder.leases.deadline())
                .execution_options(synchronize_session=False))
            if done.rowcount != 1:
                raise _invalid_state(server)
            for port in s.scalars(select(ServerPortRow).where(
                    ServerPortRow.server_id == server.id)):
                port.pci_address = port.vendor_id = port.product_id = None
                port.generation = None
            self._log.start(s, server.id, "evacuate", "compute_rebuild_instance", request_id,
                            caller.user_id or "", server.host, now)
            # The old host's agent, if alive (a partition; forced down), destroys the guest.
            self._builder.revisions.bump_in(s, server.host)
        self._builder.revisions.notifier.notify(server.host)
        crash_point("evacuate.queued")
        self._scheduler.release(server.id)  # the dead host's VFs, RAM and vCPUs
        crash_point("evacuate.released")


def _invalid_state(server: Server) -> Conflict:
    return invalid_state("evacuate", server.id, server.status.value, server.task_state,
                         "a placed server in ACTIVE, SHUTOFF or ERROR")
