"""Building a server after the 202: schedule and claim, bind its ports, retry or fail with a fault.

nova_pci.md §3: each SR-IOV port becomes one PCI request (direct → a VF on the network's
physnet, direct-physical → a PF); the scheduler claims a device per request; the port is then
bound with ``binding:profile {pci_slot, pci_vendor_info, physical_network}``. A binding failure
frees the claim and tries the next host (RetryFilter); no host left → ERROR with a fault.

Every build runs under a build lease (build_lease.py), renewed between steps; placing or failing
the server is conditional on still holding it.  ``recover`` is the sweep that re-drives builds
whose worker died between the 202 and the end: it takes the expired lease over, undoes what
the dead build left (claims, port bindings: idempotent) and builds again.  The builds queued
in one worker run in batches (build_batch.py, issue 14): one transaction starts them all, and
one places all those whose ports were bound; each server keeps its own lease and outcome.

Delete during a build (issue 10): ``ServerService.delete`` fences the row first (the lease
marks it DELETED under the deleting worker's token), then ``finish_delete`` tears down and
removes it.  After the fence the build's claim (fenced by its lease token), renew and settle
fail, so a build that loses finds the server GONE and undoes its own claims and bindings (a
binding is undone only while the port still names this server).  The sweep also finishes
deletes whose worker died after the fence.

Under load (issue 16) two things look like a failure and are not: a transaction that waits
out the database's lock timeout (SQLite ``database is locked``, PostgreSQL's statement
timeout: ``Unavailable``) is not the server's fault, so the build stops and leaves the server
in BUILD under its lease, and the sweep re-drives it when the lease runs out (as for a dead
worker); and a build that stalled past its lease must not undo what the worker that took it
over has done since, so every undo after a failed binding first renews the lease.

Test hook: ``start_delay`` (ApiSettings.build_start_delay, ``api serve --test-build-delay``)
makes every background build sleep that long before it starts, so an end-to-end test can kill
the API between the 202 and the build deterministically.  Always 0 in service.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from sriovstack.clock import Clock, SystemClock
from sriovstack.compute.build_batch import (DEFAULT_BATCH_SIZE, DEFAULT_DRAINERS, BuildBatcher,
                                            Plan, read_plans)
from sriovstack.compute.build_lease import (DEFAULT_LEASE_SECONDS, BuildLease, BuildLeases,
                                            LeaseState)
from sriovstack.compute.desired_state import HostRevisions
from sriovstack.compute.instance_actions import InstanceActionLog
from sriovstack.compute.scheduler.model import BuildRequest, Claim, ImageProperties
from sriovstack.compute.types import SYSTEM_CALLER
from sriovstack.crashpoints import crash_point
from sriovstack.db import Database
from sriovstack.compute.flavor_requests import flavor_pci
from sriovstack.db.models import FaultRow, MigrationRow, ServerPortRow, ServerRow
from sriovstack.errors import NotFound, NoValidHost, SriovstackError, Unavailable
from sriovstack.network import BindingProfile, DeviceBinding
from sriovstack.pci import DevType, NumaPolicy, PciAlias, PciRequest
from sriovstack.wire import ServerStatus, VnicType

if TYPE_CHECKING:
    from sriovstack.compute.scheduler.scheduler import Scheduler
    from sriovstack.network import NetworkService

__all__ = ["ServerBuilder", "DEVICE_OWNER"]

_LOG = logging.getLogger(__name__)
T = TypeVar("T")

DEVICE_OWNER = "compute:nova"
# The migration statuses in which a migration may still hold its source's claims.
MIGRATION_HOLDS = ("pre-migrating", "post-migrating", "finished", "confirming", "reverting",
                   "preparing", "running")
_PCI_TYPES = {VnicType.DIRECT: DevType.VF, VnicType.DIRECT_PHYSICAL: DevType.PF}
# ``_record_devices``'s statement, built once (every build placed runs it).
_P = ServerPortRow.__table__
_RECORD_DEVICES = (update(_P).where(_P.c.server_id == bindparam("server"),
                                    _P.c.port_id == bindparam("port"))
                   .values(pci_address=bindparam("pci_address"), vendor_id=bindparam("vendor_id"),
                           product_id=bindparam("product_id"), physnet=bindparam("physnet"),
                           generation=bindparam("generation")))


class ServerBuilder:
    """Runs one server's build and teardown against the scheduler and the network service."""

    def __init__(self, db: Database, network: "NetworkService", scheduler: "Scheduler",
                 revisions: HostRevisions, max_attempts: int = 3, *,
                 clock: Clock | None = None,
                 lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 start_delay: float = 0.0, batch_size: int = DEFAULT_BATCH_SIZE,
                 drainers: int = DEFAULT_DRAINERS) -> None:
        self._db = db
        self._network = network
        self._scheduler = scheduler
        self.revisions = revisions
        self._max_attempts = max_attempts
        self.clock: Clock = clock or SystemClock()
        self.leases = BuildLeases(db, self.clock, lease_seconds)
        self._start_delay = start_delay  # the test hook (module docstring)
        self._batcher = BuildBatcher(self.build_batch, batch_size, drainers)

    @property
    def pci_aliases(self) -> dict[str, PciAlias]:
        """``[pci] alias`` by name, as the scheduler was configured."""
        return self._scheduler.pci_aliases

    def build(self, server_id: str) -> None:
        """Place the server and bind its ports; on any failure it ends in ERROR with a fault.

        This runs after the API answered 202 (``create`` queued the lease for this worker),
        so it never raises: unexpected errors are logged and recorded as the server's fault.
        Does nothing when the server was deleted or a sweep took the build over meanwhile.
        The builds waiting in this worker run in batches (build_batch.py).
        """
        if self._start_delay:
            time.sleep(self._start_delay)
        self._batcher.run(server_id)

    async def build_async(self, server_id: str) -> None:
        """``build`` from the event loop (the API's background task after a 202): waiting
        for its batch takes no thread from the requests' threadpool."""
        if self._start_delay:
            await asyncio.sleep(self._start_delay)
        await self._batcher.run_async(server_id)

    def build_batch(self, server_ids: tuple[str, ...]) -> None:
        """Build these servers (queued in this worker) as one batch: one transaction takes
        every lease and reads every plan, the decisions share one index read, one
        transaction binds the ports of every server claimed, and the servers whose ports
        were bound are placed in one transaction.  Each server keeps its own lease, outcome
        and fault; none fails for another's sake (a server whose binding was refused tries
        its next hosts on its own, as a lone build does)."""
        with self._db.transaction() as session:  # one round of the database for all
            leases = self.leases.start_many(server_ids, session)
            plans = read_plans(session, tuple(leases))
        claimed: list[tuple[BuildLease, Plan, Claim]] = []
        for server_id in server_ids:
            lease, plan = leases.get(server_id), plans.get(server_id)
            if lease is None or plan is None:
                _LOG.info("build of server %s not started here: deleted, or taken over",
                          server_id)
                continue
            claim = self._guarded(lease, self._claim, lease, plan, (), "", False, not claimed)
            if claim is not None:
                claimed.append((lease, plan, claim))
        ready: list[tuple[BuildLease, Plan, Claim]] = []
        for (lease, plan, claim), bound in zip(claimed, self._bind_batch(claimed)):
            if bound is None:  # the build ended, its error recorded
                continue
            if not bound[0]:
                ready.append((lease, plan, claim))
                continue
            built = self._guarded(lease, self._after_refusal, lease, plan, claim, *bound)
            if built is not None:
                ready.append((lease, *built))
        self._finish_many(ready)

    def recover(self) -> tuple[str, ...]:
        """The recovery sweep: take over every server in BUILD, not yet placed, whose build
        lease expired (its worker died), undo what that build left and build it again.

        Returns the servers this call re-drove.  Exactly one of several racing sweepers
        takes each server; a live lease and a placed server (the agent's part pending) are
        left alone.  Raises only when the database is unreachable.
        """
        for server_id in self.leases.expired_deletes():
            if self.leases.fence_delete(server_id) is not None:
                _LOG.warning("server %s: finishing a delete whose worker died", server_id)
                self.finish_delete(server_id)
        rebuilt: list[str] = []
        for orphan in self.leases.expired():
            lease = self.leases.take_over(orphan)
            if lease is None:
                continue
            _LOG.warning("server %s: the build lease of %s expired; building it again",
                         orphan.server_id, orphan.owner or "an earlier version")
            self._undo(orphan.server_id)
            self._run(lease)
            rebuilt.append(orphan.server_id)
        return tuple(rebuilt)

    def finish_delete(self, server_id: str) -> None:
        """After ``leases.fence_delete``: unbind the ports (deleting those compute created),
        free the claims, remove the row and tell its host.  Idempotent."""
        with self._db.transaction() as session:
            row = session.get(ServerRow, server_id)
            if row is None:
                return
            host = row.host
            ports = session.execute(select(
                ServerPortRow.port_id, ServerPortRow.created_by_compute).where(
                ServerPortRow.server_id == server_id).order_by(ServerPortRow.position)).all()
            # A move under way: its migration holds the source's claims (compute/migration.py).
            consumers = tuple(session.scalars(select(MigrationRow.uuid).where(
                MigrationRow.server_id == server_id,
                MigrationRow.status.in_(MIGRATION_HOLDS))))
        self.teardown(server_id, tuple(p.port_id for p in ports))
        for consumer in consumers:
            self._scheduler.release(consumer)
        for port_id in (p.port_id for p in ports if p.created_by_compute):
            try:
                self._network.delete_port(SYSTEM_CALLER, port_id)
            except NotFound:
                continue
        with self._db.transaction() as session:
            row = session.get(ServerRow, server_id)
            if row is not None:
                session.delete(row)
        if host:
            self.revisions.bump(host)

    def _run(self, lease: BuildLease) -> None:
        """Build under ``lease`` and place the server (the sweep's build of one server)."""
        built = self._guarded(lease, self._build, lease, None, True)
        if built is not None:
            self._finish_many([(lease, *built)])

    def _guarded(self, lease: BuildLease, step: Callable[..., T], *args: object) -> T | None:
        """``step(*args)`` for the server of ``lease``; None when it raised, having recorded
        why (the background task's boundary: one server's error never reaches the others)."""
        try:
            return step(*args)
        except Unavailable as exc:  # a lock wait ran out under load: retried, not failed
            _LOG.warning("build of server %s stopped: %s; the recovery sweep builds it again "
                         "when its lease runs out", lease.server_id, exc)
        except Exception as exc:  # record, never lose it
            _LOG.exception("build of server %s failed", lease.server_id)
            try:
                self._abandon(lease, f"Unexpected error while building the server: {exc}")
            except Exception:  # the database is down too: the lease expires, a sweep retries
                _LOG.exception("could not record the failed build of server %s",
                               lease.server_id)
        return None

    def _abandon(self, lease: BuildLease, message: str) -> None:
        state = self.leases.renew(lease)
        if state is LeaseState.HELD:
            self._undo(lease.server_id)
            self._fail(lease, message)
        elif state is LeaseState.GONE:
            self._scheduler.release(lease.server_id)

    def _undo(self, server_id: str) -> None:
        """Unbind the server's ports and free its claims (what a build may have left)."""
        with self._db.transaction() as session:
            ports = tuple(session.scalars(select(ServerPortRow.port_id).where(
                ServerPortRow.server_id == server_id).order_by(ServerPortRow.position)))
        self.teardown(server_id, ports)

    def _keep(self, lease: BuildLease, plan: Plan) -> bool:
        """Renew the lease before the next step; False (having cleaned up) when not ours."""
        state = self.leases.renew(lease)
        if state is LeaseState.GONE:  # deleted mid-build: delete wins, undo what we did
            self.teardown(plan.server_id, tuple(p[0] for p in plan.ports))
        elif state is LeaseState.LOST:  # we stalled past the lease: the taker undoes and builds
            _LOG.warning("server %s: build lease lost to another worker; stopping", plan.server_id)
        return state is LeaseState.HELD

    def allocate(self, server_id: str, session: Session | None = None) -> None:
        """The guest runs: its claimed devices become allocated (nova's claimed → allocated),
        in ``session``'s transaction when given."""
        self._scheduler.claims.allocate(server_id, session)

    def teardown(self, server_id: str, ports: tuple[str, ...]) -> None:
        """Unbind the server's ports and free its claims (idempotent; ports may be gone,
        or bound to another server since: those are left alone)."""
        self.teardown_ports(server_id, ports)
        self._scheduler.release(server_id)

    def _build(self, lease: BuildLease, plan: Plan | None, refresh: bool,
               retry: tuple[str, ...] = (), reason: str = "",
               first: int = 0) -> tuple[Plan, Claim] | None:
        """Claim and bind; the plan and claim to place, or None when the build ended here
        (failed with a fault, deleted, taken over).  ``plan`` when read in the transaction
        that took the lease (the lease is fresh then: the first attempt needs no renewal);
        ``refresh`` False: the batch's earlier decisions read the index already.  A batch's
        server whose binding was refused goes on here from attempt ``first``, with the
        hosts tried (``retry``) and why the last one refused (``reason``)."""
        fresh = plan is not None
        plan = plan or self._load(lease.server_id)
        if plan is None:
            return None  # deleted before the build started
        tried = list(retry)
        for attempt in range(first, self._max_attempts):
            claim = self._claim(lease, plan, tuple(tried), reason,
                                not (fresh and attempt == 0), refresh or attempt > 0)
            if claim is None:
                return None
            reason, touched = self._bind_all(plan, claim)
            crash_point("build.bound")
            if not reason:
                return plan, claim
            if not self._unclaim(lease, plan, claim, touched):
                return None
            tried.append(claim.host)
        self._fail(lease, f"Exceeded maximum number of retries ({self._max_attempts}) "
                              f"binding the ports on hosts {', '.join(tried)}. "
                              f"Last error: {reason}")
        return None

    def _claim(self, lease: BuildLease, plan: Plan, retry: tuple[str, ...], reason: str,
               renew: bool, refresh: bool) -> Claim | None:
        """One attempt's claim: the lease renewed first when ``renew`` (a freshly started
        build's was just taken), then schedule and claim; None when the build ended here
        (no valid host: the server failed with a fault; deleted or taken over).
        ``reason``: why binding failed on the hosts tried before."""
        if renew and not self._keep(lease, plan):
            return None
        try:
            claim = self._scheduler.schedule_and_claim(
                self._request(plan, frozenset(retry), lease), refresh)
            crash_point("build.claimed")
        except NotFound:  # the claim's fence: deleted or taken over since _keep
            self._keep(lease, plan)
            return None
        except NoValidHost as exc:
            earlier = f" Binding failed on the hosts tried before: {reason}" if reason else ""
            self._fail(lease, f"No valid host was found. {exc}.{earlier}")
            return None
        return claim

    def _unclaim(self, lease: BuildLease, plan: Plan, claim: Claim,
                 touched: tuple[str, ...]) -> bool:
        """After a refused binding: unbind the ports tried and free the claim; False (having
        cleaned up) when the lease is no longer ours."""
        # Undo only while the lease is ours: a build that stalled past it would otherwise
        # unbind the port and free the VF of the worker that took it over (issue 16).
        if not self._keep(lease, plan):
            return False
        self.teardown_ports(plan.server_id, touched)
        self._scheduler.release(plan.server_id)
        return True

    def _after_refusal(self, lease: BuildLease, plan: Plan, claim: Claim, reason: str,
                       touched: tuple[str, ...]) -> tuple[Plan, Claim] | None:
        """A batch's server whose binding was refused: undo, and try its next hosts alone."""
        if not self._unclaim(lease, plan, claim, touched):
            return None
        return self._build(lease, plan, True, (claim.host,), reason, 1)

    def _bind_batch(self, claimed: list[tuple[BuildLease, Plan, Claim]]
                    ) -> list[tuple[str, tuple[str, ...]] | None]:
        """Bind the ports of every claimed server in one transaction; per server what
        ``_bind_all`` returns ("" or why binding failed, with the ports bound or tried), or
        None when the build ended with its error recorded.  When that transaction fails as
        a whole, each server's ports are bound on their own (a lone build's binding)."""
        if not claimed:
            return []
        devices = [DeviceBinding(claim.host, plan.server_id, DEVICE_OWNER,
                                 tuple((port_id, self._profile(claim, port_id))
                                       for port_id, _vnic, _physnet in plan.ports))
                   for _lease, plan, claim in claimed]
        outcomes: list[tuple[str, tuple[str, ...]] | None] = []
        try:
            refusals = self._network.bind_devices(devices)
        except Unavailable as exc:  # a lock wait ran out under load: as for a lone build
            _LOG.warning("binding the ports of %d servers stopped: %s; the recovery sweep "
                         "builds them again when their leases run out", len(claimed), exc)
            outcomes = [None] * len(claimed)
        except Exception:  # one server's ports may be to blame: bind each on its own
            _LOG.exception("binding the ports of %d servers together failed; binding each "
                           "alone", len(claimed))
            outcomes = [self._guarded(lease, self._bind_alone, lease, plan, claim)
                        for lease, plan, claim in claimed]
        else:
            for device, refused in zip(devices, refusals):
                ports = [port_id for port_id, _ in device.ports]
                if refused is None:
                    outcomes.append(("", tuple(ports)))
                    continue
                touched = tuple(ports[:ports.index(refused.port_id) + 1])
                outcomes.append((f"Port {refused.port_id} could not be bound on host "
                                 f"{device.host}: {refused.error}", touched))
        crash_point("build.bound")
        return outcomes

    def build_request(self, server_id: str) -> BuildRequest | None:
        """What the scheduler would be asked to place the server again (its flavor, image
        properties and PCI requests); None when the server is gone."""
        plan = self._load(server_id)
        return None if plan is None else self._request(plan, frozenset())

    def _load(self, server_id: str) -> Plan | None:
        with self._db.transaction() as session:
            return read_plans(session, (server_id,)).get(server_id)

    def _request(self, plan: Plan, retry: frozenset[str],
                 lease: BuildLease | None = None) -> BuildRequest:
        """The scheduler's request for ``plan``; fenced by ``lease`` when one is building it
        (a plan with no lease, such as a drain's dry run, claims nothing)."""
        flavor = flavor_pci(dict(plan.extra_specs), self._scheduler.pci_aliases)
        policy = flavor.numa_policy or NumaPolicy.LEGACY
        pci = tuple(PciRequest(count=1, dev_type=_PCI_TYPES[vnic], physnet=physnet,
                               port_id=port_id, numa_policy=policy)
                    for port_id, vnic, physnet in plan.ports if vnic in _PCI_TYPES)
        return BuildRequest(server_id=plan.server_id, project_id=plan.project_id,
                            vcpus=plan.vcpus, memory_mb=plan.memory_mb, disk_gb=plan.disk_gb,
                            availability_zone=plan.availability_zone,
                            image_properties=ImageProperties.from_glance(
                                plan.image_properties),
                            pci_requests=pci + flavor.requests, retry_hosts=retry,
                            extra_specs=plan.extra_specs, guest_numa_cells=flavor.numa_cells,
                            lease_token=None if lease is None else lease.token)

    def _bind_alone(self, lease: BuildLease, plan: Plan,
                    claim: Claim) -> tuple[str, tuple[str, ...]] | None:
        """``_bind_all`` after a batch's binding failed, once the lease is renewed (time
        has passed since the claim: a build that lost its lease must not bind); None when
        the lease is no longer ours."""
        return self._bind_all(plan, claim) if self._keep(lease, plan) else None

    def _bind_all(self, plan: Plan, claim: Claim) -> tuple[str, tuple[str, ...]]:
        """Bind every port on the claimed host; return "" or why binding failed, with the
        ports bound or tried (for the caller to undo while it still holds the lease)."""
        bound: list[str] = []
        for port_id, _vnic, _physnet in plan.ports:
            try:
                self._network.bind_port(port_id, claim.host, plan.server_id, DEVICE_OWNER,
                                        self._profile(claim, port_id))
            except Unavailable:
                raise
            except SriovstackError as exc:
                return (f"Port {port_id} could not be bound on host {claim.host}: {exc}",
                        (*bound, port_id))
            bound.append(port_id)
        return "", tuple(bound)

    @staticmethod
    def _profile(claim: Claim, port_id: str) -> BindingProfile:
        """The binding profile of ``port_id``: the device claimed for it, if any."""
        dev = claim.device_for(port_id)
        if dev is None:
            return BindingProfile()
        return BindingProfile(pci_slot=dev.address, pci_vendor_info=dev.pci_vendor_info,
                              physical_network=dev.physnet)

    def teardown_ports(self, server_id: str, ports: tuple[str, ...]) -> None:
        """Unbind these ports from the server, skipping ports that no longer exist or that
        another server owns now."""
        for port_id in ports:
            try:
                self._network.unbind_port(port_id, server_id)
            except NotFound:
                continue

    def _finish_many(self, ready: list[tuple[BuildLease, Plan, Claim]]) -> None:
        """Place the built servers (the agents take them from here), each only if its lease
        is still ours: all in one transaction, each alone when that one fails."""
        if len(ready) > 1:
            try:
                states = self._place(ready)
            except Exception:  # one server's row may be to blame: place each on its own
                _LOG.exception("placing %d built servers together failed; placing each "
                               "alone", len(ready))
            else:
                self._after_place(ready, states)
                return
        for lease, plan, claim in ready:
            one = [(lease, plan, claim)]
            states = self._guarded(lease, self._place, one)
            if states is not None:
                self._after_place(one, states)

    def _place(self, ready: list[tuple[BuildLease, Plan, Claim]]) -> list[LeaseState]:
        """In one transaction: settle every server still ours on its host, record its
        devices, and bump each host's revision once; each server's lease state."""
        with self._db.transaction() as session:
            states = self.leases.settle_on_hosts(
                session, [(lease, claim.host) for lease, _plan, claim in ready],
                task_state="spawning", updated_at=self.clock.now())
            held = {lease.server_id: claim for (lease, _p, claim), state in zip(ready, states)
                    if state is LeaseState.HELD}
            self._record_devices(session, held)
            self.revisions.bump_many_in(session, (claim.host for claim in held.values()))
        return states

    def _after_place(self, ready: list[tuple[BuildLease, Plan, Claim]],
                     states: list[LeaseState]) -> None:
        hosts: set[str] = set()
        for (lease, plan, claim), state in zip(ready, states):
            if state is LeaseState.GONE:  # deleted while we were binding: undo what we did
                self._guarded(lease, self.teardown, plan.server_id,
                              tuple(p[0] for p in plan.ports))
            elif state is LeaseState.LOST:  # we stalled past the lease: the taker rebuilds
                _LOG.warning("server %s: build lease lost before placing it", plan.server_id)
            else:
                hosts.add(claim.host)
        for host in sorted(hosts):
            self.revisions.notifier.notify(host)
        if hosts:
            crash_point("build.placed")

    @staticmethod
    def _record_devices(session: Session, claims: dict[str, Claim]) -> None:
        """Record on each server's ports the device claimed for it (one statement: an
        UPDATE by server and port, run for every device)."""
        devices = [{"server": server_id, "port": dev.port_id, "pci_address": str(dev.address),
                    "vendor_id": dev.vendor_id, "product_id": dev.product_id,
                    "physnet": dev.physnet, "generation": dev.generation}
                   for server_id, claim in sorted(claims.items()) for dev in claim.devices
                   if dev.port_id is not None]
        if devices:
            session.execute(_RECORD_DEVICES, devices)

    def _fail(self, lease: BuildLease, message: str, code: int = 500) -> None:
        """Put the server in ERROR with nova's fault ``{code, message, created}`` (if the
        lease is still ours: otherwise it was deleted or another worker builds it)."""
        server_id = lease.server_id
        with self._db.transaction() as session:
            state = self.leases.settle(session, lease, status=ServerStatus.ERROR.value,
                                       task_state=None, host=None, updated_at=self.clock.now())
            if state is not LeaseState.HELD:
                return
            fault = session.get(FaultRow, server_id)
            if fault is None:
                session.add(FaultRow(server_id=server_id, code=code, message=message,
                                     created=self.clock.now()))
            else:
                fault.code, fault.message, fault.created = code, message, self.clock.now()
            InstanceActionLog().finish(session, server_id, "Error", message, self.clock.now())
