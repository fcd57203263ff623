"""Moving a server with its VFs: resize, cold migration (confirm/revert) and live migration,
as nova runs them for SR-IOV ports (nova_pci.md; nova's migration-based allocations).

The source host's claims change hands: ``begin`` gives the server's source allocation and
VFs to the *migration* (its uuid becomes their owner, as nova's source allocations are held
by the migration record), so the scheduler can claim the target's VF for the server while
the source VF stays claimed: no VF is ever free while either side may still need it, and
none is owned twice.  Then the ports are bound on the target (``binding:host_id``,
``binding:profile`` pci_slot, vif_details vlan) and the server settles there; the agents
converge (the source's guest is destroyed and its VF reset to the baseline, fenced; the
target's guest spawns on the new VF) and the target's report completes the task
(operations.STEPS: RESIZE → VERIFY_RESIZE, MIGRATING → ACTIVE).

``confirmResize`` frees what the migration holds (the source VF, already reset by its
agent); ``revertResize`` frees the target's claims, hands the migration's back to the server,
binds the ports on the source again with their old profiles and puts the server back there.
A live migration binds its ports as nova does with neutron's multiple port bindings
(live_bindings.py) and confirms itself when the target reports the guest running.

Crash safety: every multi-step change runs under an operation lease, the build lease's
columns on the server row (``build_owner``/``build_lease_until``, compute/build_lease.py):
the target claim is fenced by it, the settle is conditional on it, and a delete takes it
over.  The migration's status says which step was reached; ``recover`` (the API's periodic
sweep) takes each expired lease over, once, and rolls a half-begun move back
(``pre-migrating``: the target's claims freed, the source's handed back, the ports bound on
the source again, the server back to ACTIVE) or finishes a half-done revert or confirm.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from sriovstack.clock import Clock
from sriovstack.compute.build import MIGRATION_HOLDS
from sriovstack.compute.build_lease import DEFAULT_LEASE_SECONDS
from sriovstack.compute.instance_actions import InstanceActionLog
from sriovstack.compute.live_bindings import LiveBindings
from sriovstack.compute.move_claims import (hand_back, hand_over, holds_claims, restore_ports,
                                             source_ports)
from sriovstack.compute.operations import STEPS, Settling, invalid_state
from sriovstack.compute.types import EndedMoves, Migration, MoveKind, Operation, Server
from sriovstack.crashpoints import crash_point
from sriovstack.db import Database
from sriovstack.db.models import FlavorRow, HostRow, MigrationRow, ServerPortRow, ServerRow
from sriovstack.errors import (Conflict, ErrorKind, Invalid, NotFound, NoValidHost,
                               SriovstackError)
from sriovstack.network import BindingProfile
from sriovstack.pci import PciAddress
from sriovstack.wire import ServerStatus

if TYPE_CHECKING:
    from sriovstack.compute.build import ServerBuilder
    from sriovstack.compute.scheduler.scheduler import Scheduler
    from sriovstack.network import NetworkService

__all__ = ["MigrationService", "MoveKind", "ACTIVE_STATUSES"]

_LOG = logging.getLogger(__name__)
St = ServerStatus
M = MigrationRow
_DEVICE_OWNER = "compute:nova"


# nova's migration statuses we use: resize/cold: pre-migrating → post-migrating → finished →
# confirming → confirmed, or reverting → reverted; live: preparing → running → completed;
# error for a move that was rolled back (or failed on the target).
_PRE, _POST, _FINISHED = "pre-migrating", "post-migrating", "finished"
_CONFIRMING, _CONFIRMED = "confirming", "confirmed"
_REVERTING, _REVERTED = "reverting", "reverted"
_PREPARING, _RUNNING, _COMPLETED, _ERROR = "preparing", "running", "completed", "error"
# A migration in one of these still owns (or may own) the source's claims.
ACTIVE_STATUSES = MIGRATION_HOLDS
assert set(ACTIVE_STATUSES) == {_PRE, _POST, _FINISHED, _CONFIRMING, _REVERTING, _PREPARING,
                                _RUNNING}
_BEGUN = (_PRE, _PREPARING)  # before the settle: a crash here is rolled back
# Where each move may start (nova's check_instance_state): a resize or cold migration also
# moves a stopped server, which stays powered off on the target (operations.stopped_moves).
_FROM = {MoveKind.RESIZE: (St.ACTIVE, St.SHUTOFF), MoveKind.MIGRATION: (St.ACTIVE, St.SHUTOFF),
         MoveKind.LIVE: (St.ACTIVE,)}


class MigrationService:
    """Starts, finishes, rolls back and lists the moves of servers."""

    def __init__(self, db: Database, network: "NetworkService", scheduler: "Scheduler",
                 builder: "ServerBuilder", clock: Clock,
                 lease_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        self._db = db
        self._network = network
        self._scheduler = scheduler
        self._builder = builder
        self._clock = clock
        self._ttl = timedelta(seconds=lease_seconds)
        self._log = InstanceActionLog()
        self._live = LiveBindings(network)
        self.worker = builder.leases.worker

    # -- starting a move ---------------------------------------------------------------------

    def move(self, server: Server, kind: str, user_id: str, request_id: str, *,
             flavor_id: str | None = None, host: str | None = None,
             async_errors: bool = False) -> None:
        """Resize (``flavor_id``), cold-migrate or live-migrate ``server`` (to ``host`` when
        given); on return the server is placed on the target (RESIZE or MIGRATING) and its
        host's agent spawns it there.

        Raises Conflict (InstanceInvalidState) unless the server is ACTIVE (or SHUTOFF, for
        a resize or cold migration) with no task,
        Invalid for a same-flavor resize or an unknown flavor, NotFound (ComputeHostNotFound,
        400 at the API) for an unknown ``host``, Invalid (NoValidHost, nova's 400) when no
        host has room and a free VF on the physnet; then nothing changed.  With
        ``async_errors`` (live migration from 2.34, nova's async checks) a NoValidHost is
        recorded on the migration (error) and the instance action instead, and the server
        stays ACTIVE on its source with its VF."""
        old_flavor = server.flavor_id
        new_flavor = flavor_id or old_flavor
        if kind == MoveKind.RESIZE:
            self._check_flavor(old_flavor, new_flavor)
        source = server.host
        if source is None or server.status not in _FROM[kind] or server.task_state is not None:
            raise _invalid_state(server.id, server.status.value, server.task_state, kind)
        ignore, requested = self._targets(kind, source, host)
        token = f"{self.worker}#move-{uuid.uuid4().hex[:8]}"
        mig = self._begin(server.id, kind, user_id, request_id, token, new_flavor)
        crash_point(f"{kind}.begun")
        try:
            claim = self._claim(server.id, token, new_flavor, ignore, requested)
            crash_point(f"{kind}.target_claimed")
        except NotFound:  # a delete took the lease: it frees what the move holds
            return
        except NoValidHost as exc:
            text = f"No valid host was found. {exc}"
            self._to_source(mig, token, text)
            if async_errors:
                return
            raise Invalid(text, kind=ErrorKind.NO_VALID_HOST, field="host",
                          value=host) from exc
        reason = self._live.move(self._ports(server.id), claim) if kind == MoveKind.LIVE \
            else self._bind(server.id, claim.host, claim)
        crash_point(f"{kind}.bound")
        if reason:
            self._to_source(mig, token, reason)
            raise Conflict(reason, kind=ErrorKind.PORT_BINDING_FAILED, field="host",
                           value=claim.host)
        self._settle(mig, token, claim, kind)
        crash_point(f"{kind}.settled")

    def _check_flavor(self, old: str, new: str) -> None:
        with self._db.transaction() as s:
            if s.get(FlavorRow, new) is None:
                raise Invalid(f"Invalid flavorRef provided: flavor {new} could not be found.",
                              kind=ErrorKind.FLAVOR_NOT_FOUND, field="flavorRef", value=new)
        if new == old:
            raise Invalid("When resizing, instances must change flavor!", field="flavorRef",
                          value=new, fix="pick another flavor, or use migrate to move it")

    def _targets(self, kind: str, source: str,
                 host: str | None) -> tuple[frozenset[str], str | None]:
        """(hosts ignored, host requested): the source is ignored unless a resize or cold
        migration may stay (allow_resize_to_same_host; never for a live migration)."""
        with self._db.transaction() as s:
            names = set(s.scalars(select(HostRow.name)))
        if host is not None and host not in names:
            raise Invalid(f"Compute host {host} could not be found.",
                          kind=ErrorKind.COMPUTE_HOST_NOT_FOUND, field="host", value=host)
        stay = kind != MoveKind.LIVE and self._scheduler.allow_resize_to_same_host
        ignore = frozenset() if stay else frozenset({source})
        if host is not None and host in ignore:
            raise Invalid(f"The target host {host} is the server's own host.",
                          field="host", value=host,
                          fix="pick another host" + ("" if kind == MoveKind.LIVE else
                                                     " or set allow_resize_to_same_host"))
        if not names - ignore:
            raise Invalid("No valid host was found. There are not enough hosts available: "
                          f"the only compute host is the server's own ({source}).",
                          kind=ErrorKind.NO_VALID_HOST, field="host")
        return ignore, host

    def _begin(self, server_id: str, kind: str, user_id: str, request_id: str, token: str,
               new_flavor: str) -> MigrationRow:
        """One transaction: the task and the lease on the server, the migration recorded,
        the source's claims handed to it, the instance action started."""
        now = self._clock.now()
        live = kind == MoveKind.LIVE
        with self._db.transaction() as s:
            row = s.get(ServerRow, server_id, with_for_update=True)
            if row is None or row.status == St.DELETED.value:
                raise NotFound(f"Instance {server_id} could not be found.",
                               kind=ErrorKind.INSTANCE_NOT_FOUND, value=server_id)
            step = STEPS[Operation.LIVE_MIGRATE if live else Operation.RESIZE]
            # A live migration shows task "migrating" once placed on the target: before,
            # that task would have the source's agent re-plug the guest (operations.STEPS).
            task = None if live else "resize_prep"
            done = s.execute(update(ServerRow).where(
                ServerRow.id == server_id,
                ServerRow.status.in_([status.value for status in _FROM[kind]]),
                ServerRow.task_state.is_(None), ServerRow.host.is_not(None))
                .values(status=(step.transient or St.ACTIVE).value, task_state=task,
                        build_owner=token, build_lease_until=now + self._ttl, updated_at=now)
                .execution_options(synchronize_session=False))
            if done.rowcount != 1:
                raise _invalid_state(row.id, row.status, row.task_state, kind)
            mig = M(uuid=str(uuid.uuid4()), server_id=server_id, project_id=row.project_id,
                    user_id=user_id, migration_type=kind,
                    status=_PREPARING if live else _PRE, source_compute=row.host or "",
                    dest_compute=None, old_flavor_id=row.flavor_id, new_flavor_id=new_flavor,
                    old_status=row.status, source_ports=source_ports(s, server_id),
                    request_id=request_id, created_at=now, updated_at=now)
            s.add(mig)
            hand_over(s, server_id, mig.uuid)
            action = {MoveKind.RESIZE: "resize", MoveKind.MIGRATION: "migrate",
                      MoveKind.LIVE: "live-migration"}[kind]
            event = "compute_live_migration" if live else "compute_prep_resize"
            self._log.start(s, server_id, action, event, request_id, user_id, row.host, now)
            s.flush()
            s.expunge(mig)
            return mig

    def _claim(self, server_id: str, token: str, flavor_id: str, ignore: frozenset[str],
               requested: str | None):  # type: ignore[no-untyped-def]
        request = self._builder.build_request(server_id)
        if request is None:
            raise NotFound(f"Instance {server_id} could not be found.",
                           kind=ErrorKind.INSTANCE_NOT_FOUND, value=server_id)
        with self._db.transaction() as s:
            flavor = s.get(FlavorRow, flavor_id)
            assert flavor is not None  # checked before the move began
            vcpus, ram, disk = flavor.vcpus, flavor.ram, flavor.disk
        request = dataclasses.replace(request, vcpus=vcpus, memory_mb=ram, disk_gb=disk,
                                      lease_token=token, ignore_hosts=ignore,
                                      requested_host=requested)
        return self._scheduler.schedule_and_claim(request)

    def _bind(self, server_id: str, host: str, claim: Any) -> str:
        """Bind every port of the server on ``host`` with the claimed VF; "" or why not."""
        for port_id in self._ports(server_id):
            dev = claim.device_for(port_id)
            profile = BindingProfile() if dev is None else BindingProfile(
                pci_slot=dev.address, pci_vendor_info=dev.pci_vendor_info,
                physical_network=dev.physnet)
            try:
                self._network.bind_port(port_id, host, server_id, _DEVICE_OWNER, profile)
            except SriovstackError as exc:
                return f"Port {port_id} could not be bound on host {host}: {exc}"
        return ""

    def _ports(self, server_id: str) -> tuple[str, ...]:
        with self._db.transaction() as s:
            return tuple(s.scalars(select(ServerPortRow.port_id).where(
                ServerPortRow.server_id == server_id).order_by(ServerPortRow.position)))

    def _settle(self, mig: MigrationRow, token: str, claim: Any, kind: str) -> None:
        """Place the server on the target (only while the lease is ours)."""
        now = self._clock.now()
        live = kind == MoveKind.LIVE
        task = "migrating" if live else STEPS[Operation.RESIZE].task
        with self._db.transaction() as s:
            done = s.execute(update(ServerRow).where(
                ServerRow.id == mig.server_id, ServerRow.build_owner == token)
                .values(host=claim.host, flavor_id=mig.new_flavor_id, task_state=task,
                        build_owner=None, build_lease_until=None, updated_at=now)
                .execution_options(synchronize_session=False))
            if done.rowcount == 1:
                for row in s.scalars(select(ServerPortRow).where(
                        ServerPortRow.server_id == mig.server_id)):
                    dev = claim.device_for(row.port_id)
                    if dev is not None:
                        row.pci_address, row.physnet = str(dev.address), dev.physnet
                        row.vendor_id, row.product_id = dev.vendor_id, dev.product_id
                        row.generation = dev.generation
                s.execute(update(M).where(M.uuid == mig.uuid).values(
                    status=_RUNNING if live else _POST, dest_compute=claim.host,
                    updated_at=now))
        if done.rowcount != 1:  # deleted (or taken over) meanwhile: the taker cleans up
            _LOG.warning("server %s: move lease lost before settling on %s", mig.server_id,
                         claim.host)
            self._abandon(mig)
            return
        self._builder.revisions.bump(mig.source_compute)
        if claim.host != mig.source_compute:
            self._builder.revisions.bump(claim.host)

    def _abandon(self, mig: MigrationRow) -> None:
        """The server was deleted mid-move: free what it and its migration hold."""
        with self._db.transaction() as s:
            alive = s.get(ServerRow, mig.server_id)
            if alive is not None and alive.status != St.DELETED.value:
                return  # another worker took the move over: it rolls back
        for port_id in mig.source_ports:
            try:
                self._network.unbind_port(port_id, mig.server_id)
            except NotFound:
                continue
        self._scheduler.release(mig.server_id)
        self._scheduler.release(mig.uuid)

    # -- rolling back ------------------------------------------------------------------------

    def _to_source(self, mig: MigrationRow, token: str, reason: str = "") -> None:
        """Return the server to its source, only while ``token`` holds it (each step
        idempotent: a sweep may run them again): the target's claims freed, the migration's
        handed back, the ports bound on the source again with their old profiles, the server
        there with its old flavor and VFs. A revert (no ``reason``) leaves its task to the
        source agent's report (the migration reverted); a rollback of a move that did not
        settle ends at once (the migration in error, the action failed with ``reason``, the
        server in its old status)."""
        if not self._holds(mig.server_id, token):
            self._abandon(mig)
            return
        with self._db.transaction() as s:
            held = holds_claims(s, mig.uuid)
        if held:
            self._scheduler.release(mig.server_id)
        with self._db.transaction() as s:
            hand_back(s, mig.uuid, mig.server_id)
        crash_point("revert.released")  # also a rollback's
        if mig.migration_type == MoveKind.LIVE:  # the source binding stays (or is made) active
            self._live.keep(tuple(mig.source_ports), mig.source_compute)
        else:
            self._rebind_source(mig)
        crash_point("revert.rebound")
        now = self._clock.now()
        values: dict[str, Any] = dict(host=mig.source_compute, flavor_id=mig.old_flavor_id,
                                      build_owner=None, build_lease_until=None, updated_at=now)
        if reason:
            values.update(status=mig.old_status, task_state=None)
        with self._db.transaction() as s:
            done = s.execute(update(ServerRow).where(
                ServerRow.id == mig.server_id, ServerRow.build_owner == token).values(**values)
                .execution_options(synchronize_session=False)).rowcount == 1
            if done:
                restore_ports(s, mig.server_id, mig.source_ports)
                if reason:
                    self._log.finish(s, mig.server_id, "Error", reason, now)
            if done or reason:
                s.execute(update(M).where(M.uuid == mig.uuid).values(
                    status=_ERROR if reason else _REVERTED, updated_at=now))
        self._builder.revisions.bump(mig.source_compute)
        if mig.dest_compute and mig.dest_compute != mig.source_compute:
            self._builder.revisions.bump(mig.dest_compute)
        if reason:
            _LOG.warning("server %s: %s rolled back: %s", mig.server_id, mig.migration_type,
                         reason)

    def _rebind_source(self, mig: MigrationRow) -> None:
        for port_id, dev in mig.source_ports.items():
            profile = BindingProfile()
            if dev.get("pci_address"):
                profile = BindingProfile(pci_slot=PciAddress.parse(dev["pci_address"]),
                                         pci_vendor_info=f"{dev['vendor_id']}:"
                                                         f"{dev['product_id']}",
                                         physical_network=dev.get("physnet"))
            try:
                self._network.bind_port(port_id, mig.source_compute, mig.server_id,
                                        _DEVICE_OWNER, profile)
            except NotFound:
                continue
            except SriovstackError as exc:  # stored as binding_failed; the server still goes
                _LOG.warning("server %s: port %s not bound again on %s: %s", mig.server_id,
                             port_id, mig.source_compute, exc)

    def _holds(self, server_id: str, token: str) -> bool:
        with self._db.transaction() as s:
            return s.scalar(select(ServerRow.id).where(
                ServerRow.id == server_id, ServerRow.build_owner == token)) is not None

    # -- confirm and revert -------------------------------------------------------------------

    def confirm(self, server: Server, user_id: str, request_id: str) -> None:
        """confirmResize: the server stays on the target (in its status before the move:
        ACTIVE, or SHUTOFF for a stopped server); the migration's claims (the source VF,
        reset by its agent when the guest left) are freed. Conflict unless VERIFY_RESIZE;
        NotFound (nova's 404 MigrationNotFoundByStatus) without a migration."""
        self._confirm(server.id, user_id, request_id)

    def _confirm(self, server_id: str, user_id: str, request_id: str) -> None:
        now = self._clock.now()
        with self._db.transaction() as s:
            row, mig = self._verifying(s, server_id, "confirmResize")
            row.status, row.updated_at = mig.old_status, now
            mig.status, mig.updated_at = _CONFIRMING, now
            self._log.start(s, row.id, "confirmResize", "compute_confirm_resize", request_id,
                            user_id, mig.source_compute, now)
            self._log.finish(s, row.id, "Success", "", now)
            uuid_, source = mig.uuid, mig.source_compute
        crash_point("confirm.begun")
        self._finish_confirm(uuid_, source)

    def _finish_confirm(self, mig_uuid: str, source: str) -> None:
        self._scheduler.release(mig_uuid)
        with self._db.transaction() as s:
            s.execute(update(M).where(M.uuid == mig_uuid, M.status == _CONFIRMING)
                      .values(status=_CONFIRMED, updated_at=self._clock.now()))
        self._builder.revisions.bump(source)

    def revert(self, server: Server, user_id: str, request_id: str) -> None:
        """revertResize: back to the source host and its VF (the old flavor); the target's
        claims are freed. Conflict unless VERIFY_RESIZE; NotFound without a migration."""
        now = self._clock.now()
        token = f"{self.worker}#revert-{uuid.uuid4().hex[:8]}"
        step = STEPS[Operation.REVERT_RESIZE]
        with self._db.transaction() as s:
            row, mig = self._verifying(s, server.id, "revertResize")
            row.status, row.task_state = (step.transient or St.ACTIVE).value, step.task
            row.build_owner, row.build_lease_until, row.updated_at = token, now + self._ttl, now
            mig.status, mig.updated_at = _REVERTING, now
            self._log.start(s, row.id, "revertResize", step.event, request_id, user_id,
                            mig.source_compute, now)
            s.flush()
            s.expunge(mig)
        crash_point("revert.begun")
        self._to_source(mig, token)

    def _verifying(self, s: Session, server_id: str,
                   name: str) -> tuple[ServerRow, MigrationRow]:
        row = s.get(ServerRow, server_id, with_for_update=True)
        if row is None or row.status != St.VERIFY_RESIZE.value or row.task_state is not None:
            state = (f"task_state {row.task_state}" if row is not None and row.task_state
                     else f"vm_state {(row.status if row else 'deleted').lower()}")
            raise Conflict(f"Cannot '{name}' instance {server_id} while it is in {state}",
                           kind=ErrorKind.INSTANCE_INVALID_STATE, value=server_id,
                           fix=f"'{name}' needs VERIFY_RESIZE")
        mig = s.scalars(select(M).where(M.server_id == server_id, M.status == _FINISHED)
                        .order_by(M.id.desc()).limit(1)).first()
        if mig is None:
            raise NotFound(f"Migration for instance {server_id} with status finished could "
                           "not be found.", field="server_id", value=server_id)
        return row, mig

    # -- after the agent's report, and the sweep ---------------------------------------------

    def after_report(self, server_id: str) -> None:
        """``settle_after_report`` in a transaction of its own, then ``release_moves``."""
        with self._db.transaction() as s:
            row = s.get(ServerRow, server_id)
            ended = EndedMoves() if row is None else self.settle_after_report(s, row)
        self.release_moves(ended)

    def settle_after_report(self, s: Session, row: Settling) -> EndedMoves:
        """In ``s``, once the target's agent reported: a resize/cold migration now waits in
        VERIFY_RESIZE (finished); a live one is done (completed); a move whose server failed
        on the target ends in error. Returns those ended, for ``release_moves`` after commit."""
        now = self._clock.now()
        ended = EndedMoves()
        for mig in s.scalars(select(M).where(M.server_id == row.id,
                                             M.status.in_((_POST, _RUNNING)))):
            if row.status == St.ERROR.value:
                mig.status, mig.updated_at = _ERROR, now
                ended.released.append((mig.uuid, mig.source_compute))
            elif mig.status == _POST and row.status == St.VERIFY_RESIZE.value:
                mig.status, mig.updated_at = _FINISHED, now
            elif mig.status == _RUNNING and row.task_state is None:
                mig.status, mig.updated_at = _COMPLETED, now
                ended.released.append((mig.uuid, mig.source_compute))
            if mig.migration_type == MoveKind.LIVE and mig.status in (_ERROR, _COMPLETED):
                ended.live.append((tuple(mig.source_ports), mig.dest_compute or row.host or ""))
        return ended

    def release_moves(self, ended: EndedMoves) -> None:
        """Free ended moves' source claims (telling the sources) and live source bindings."""
        for mig_uuid, source in ended.released:
            self._scheduler.release(mig_uuid)
            self._builder.revisions.bump(source)
        for ports, target in ended.live:  # the source VF is freed: its binding goes too
            self._live.keep(ports, target)

    def recover(self) -> tuple[str, ...]:
        """The sweep: take over each move whose worker died (its lease expired) and roll it
        back (not yet settled) or finish it (a revert or confirm under way; a live migration
        whose report was recorded but whose source was not freed). Returns the migrations
        handled."""
        now = self._clock.now()
        handled: list[str] = []
        with self._db.transaction() as s:
            rows = s.execute(select(M, ServerRow.build_owner, ServerRow.status,
                                    ServerRow.task_state)
                             .join(ServerRow, ServerRow.id == M.server_id)
                             .where(M.status.in_(ACTIVE_STATUSES),
                                    or_(ServerRow.build_lease_until.is_(None),
                                        ServerRow.build_lease_until < now))
                             .order_by(M.id)).all()
            for mig, *_ in rows:
                s.expunge(mig)
        for mig, owner, status, task in rows:
            if status == St.DELETED.value:
                continue  # the delete's own sweep finishes it (and frees the migration's)
            if mig.status == _CONFIRMING:
                self._finish_confirm(mig.uuid, mig.source_compute)
            elif mig.status in (_RUNNING, _POST) and task is None:
                self.after_report(mig.server_id)
            elif mig.status in _BEGUN or mig.status == _REVERTING:
                token = self._take_over(mig.server_id, owner, now)
                if token is None:
                    continue
                if mig.status == _REVERTING:
                    _LOG.warning("server %s: finishing a revert whose worker died",
                                 mig.server_id)
                    self._to_source(mig, token)
                else:
                    self._to_source(mig, token, "The API worker moving the server died; "
                                               "the move was rolled back.")
            else:
                continue
            handled.append(mig.uuid)
        return tuple(handled) + self._confirm_expired(now)

    def _confirm_expired(self, now: datetime) -> tuple[str, ...]:
        """nova's _poll_unconfirmed_resizes: with [DEFAULT] resize_confirm_window set, each
        move finished (VERIFY_RESIZE) longer ago than the window is confirmed, recorded as a
        confirmResize instance action with a request id of its own and no user (nova's
        admin context). Returns the migrations confirmed."""
        window = self._scheduler.resize_confirm_window
        if window <= 0:
            return ()
        with self._db.transaction() as s:
            due = s.execute(select(M.uuid, M.server_id)
                            .join(ServerRow, ServerRow.id == M.server_id)
                            .where(M.status == _FINISHED,
                                   M.updated_at < now - timedelta(seconds=window),
                                   ServerRow.status == St.VERIFY_RESIZE.value,
                                   ServerRow.task_state.is_(None))
                            .order_by(M.id)).all()
        confirmed: list[str] = []
        for mig_uuid, server_id in due:
            try:
                self._confirm(server_id, "", f"req-{uuid.uuid4()}")
            except (Conflict, NotFound) as exc:  # the user confirmed or reverted meanwhile
                _LOG.info("server %s: not auto-confirmed: %s", server_id, exc)
                continue
            _LOG.info("server %s: resize confirmed after resize_confirm_window (%d s)",
                      server_id, window)
            confirmed.append(mig_uuid)
        return tuple(confirmed)

    def _take_over(self, server_id: str, owner: str | None, now: datetime) -> str | None:
        token = f"{self.worker}#sweep-{uuid.uuid4().hex[:8]}"
        same = ServerRow.build_owner.is_(None) if owner is None else \
            ServerRow.build_owner == owner
        with self._db.transaction() as s:
            done = s.execute(update(ServerRow).where(
                ServerRow.id == server_id, same, ServerRow.status != St.DELETED.value,
                or_(ServerRow.build_lease_until.is_(None), ServerRow.build_lease_until < now))
                .values(build_owner=token, build_lease_until=now + self._ttl)
                .execution_options(synchronize_session=False))
            return token if done.rowcount == 1 else None

    # -- listing -----------------------------------------------------------------------------

    def list(self, *, server_id: str | None = None, host: str | None = None,
             status: str | None = None, migration_type: str | None = None,
             source_compute: str | None = None, project_id: str | None = None,
             in_progress_live: bool = False) -> tuple[Migration, ...]:
        """Migrations newest first, filtered as os-migrations filters them."""
        q = select(M)
        if server_id is not None:
            q = q.where(M.server_id == server_id)
        if host is not None:
            q = q.where(or_(M.source_compute == host, M.dest_compute == host))
        if status is not None:
            q = q.where(M.status == status)
        if migration_type is not None:
            q = q.where(M.migration_type == migration_type)
        if source_compute is not None:
            q = q.where(M.source_compute == source_compute)
        if project_id is not None:
            q = q.where(M.project_id == project_id)
        if in_progress_live:
            q = q.where(M.migration_type == MoveKind.LIVE, M.status.in_((_PREPARING,
                                                                         _RUNNING)))
        with self._db.transaction() as s:
            return tuple(_migration(r) for r in s.scalars(q.order_by(M.created_at.desc(),
                                                                     M.id.desc())))


def _invalid_state(server_id: str, status: str, task_state: str | None,
                   kind: str) -> Conflict:
    return invalid_state(_ACTION[kind], server_id, status, task_state,
                         " or ".join(s.value for s in _FROM[kind]))


_ACTION = {MoveKind.RESIZE: "resize", MoveKind.MIGRATION: "migrate",
           MoveKind.LIVE: "os-migrateLive"}


def _migration(r: MigrationRow) -> Migration:
    return Migration(id=r.id, uuid=r.uuid, server_id=r.server_id, project_id=r.project_id,
                     user_id=r.user_id, migration_type=r.migration_type, status=r.status,
                     source_compute=r.source_compute, dest_compute=r.dest_compute,
                     old_flavor_id=r.old_flavor_id, new_flavor_id=r.new_flavor_id,
                     created_at=r.created_at, updated_at=r.updated_at)
