"""The VF ledger's audit: every invariant between servers, VF claims, port bindings, host
allocations and host usage, checked from the database; ``repair`` fixes what is safe.

Invariants (one ``AuditCheck`` each):
- ``vf-owner-missing``: no device is claimed or allocated by a server that does not exist.
- ``allocation-owner-missing``: no host allocation (vCPU/RAM/disk) for a missing server.
- ``server-without-vf``: a placed server holds every VF its ports record.
- ``port-server-missing``: no port is bound (device_id) to a compute server that is gone.
- ``port-vf-not-owned``: a bound port's pci_slot is a device its server holds.
- ``usage-differs``: a host's used vCPU/RAM/disk equals the sum of its allocations.
(The agents' side, a VF whose MAC/VLAN on the host differs from the desired one, is compared
by ``vf_state_findings`` from what a host reports.)
Each is one statement that sends back only the rows breaking it: the database compares them.

Repairs are fenced: a missing server's claims are freed only while its row is absent (a
build claims only under its server's lease, so an absent row stays without claims); a port
is unbound only while it still names the gone server; usage is rewritten only if the host's
generation is the one the sum was read at; a server that lost its VF goes to ERROR only if
it is still in the state seen. Nothing held by a live server is ever freed.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (ColumnElement, and_, bindparam, delete, exists, func, or_, select,
                        union_all, update)
from sqlalchemy.orm import Session

from sriovstack.compute.desired_state import HostRevisions
from sriovstack.db import Database, upsert_into
from sriovstack.compute.build import MIGRATION_HOLDS
from sriovstack.db.models import (FaultRow, HostAllocationRow, HostRow, MigrationRow,
                                  PciDeviceRow, ServerPortRow, ServerRow, SweepLeaseRow)
from sriovstack.errors import NotFound
from sriovstack.metrics import NullRecorder, Recorder
from sriovstack.network import COMPUTE_BINDINGS
from sriovstack.wire import ServerStatus

if TYPE_CHECKING:
    from sriovstack.clock import Clock
    from sriovstack.compute.scheduler import Scheduler
    from sriovstack.network import NetworkService

__all__ = ["Audit", "AuditCheck", "Finding", "AuditReport", "VfObservation",
           "vf_state_findings"]

_LOG = logging.getLogger(__name__)
_DELETED = ServerStatus.DELETED.value
SWEEP_LEASE_SECONDS = 180.0  # the sweep's lease: three of the API's audit sweeps, a minute apart


def _take_sweep_lease(dialect: str) -> Any:
    """The upsert that takes the audit's lease for ``:me`` until ``:until`` when it is free,
    expired at ``:now`` or already ``:me``'s, returning a row only then (built once per
    dialect)."""
    t = SweepLeaseRow.__table__
    new = upsert_into(t, dialect).values(name="audit", owner=bindparam("me"),
                                         expires_at=bindparam("until"))
    return new.on_conflict_do_update(
        index_elements=[t.c.name],
        set_={"owner": new.excluded.owner, "expires_at": new.excluded.expires_at},
        where=or_(t.c.owner == new.excluded.owner, t.c.expires_at < bindparam("now")),
    ).returning(t.c.owner)


_SWEEP_LEASE = {dialect: _take_sweep_lease(dialect) for dialect in ("postgresql", "sqlite")}


class AuditCheck(enum.StrEnum):
    """One invariant of the ledger."""

    VF_OWNER_MISSING = "vf-owner-missing"
    ALLOCATION_OWNER_MISSING = "allocation-owner-missing"
    SERVER_WITHOUT_VF = "server-without-vf"
    PORT_SERVER_MISSING = "port-server-missing"
    PORT_VF_NOT_OWNED = "port-vf-not-owned"
    USAGE_DIFFERS = "usage-differs"
    VF_STATE_DIFFERS = "vf-state-differs"


@dataclass(frozen=True, slots=True)
class Finding:
    """A broken invariant: what (``check``), about what (``subject``), the evidence, and
    whether ``repair`` may fix it without an operator."""

    check: AuditCheck
    subject: str
    evidence: str
    repairable: bool = True


@dataclass(frozen=True, slots=True)
class AuditReport:
    """What one audit found, what it repaired (when asked), and the repairs made so far."""

    findings: tuple[Finding, ...]
    repaired: tuple[Finding, ...] = ()
    repaired_total: int = 0


@dataclass(frozen=True, slots=True)
class VfObservation:
    """One VF as desired by the control plane and as seen on its host."""

    host: str
    address: str
    owner: str | None
    desired_mac: str | None
    desired_vlan: int
    actual_mac: str
    actual_vlan: int


_ZERO_MAC = "00:00:00:00:00:00"


def vf_state_findings(observed: Iterable[VfObservation]) -> tuple[Finding, ...]:
    """``vf-state-differs`` for each VF whose MAC or VLAN on the host is not the desired one
    (a free VF's desired state is the baseline: zero MAC, VLAN 0).  Not repairable here: the
    host's agent re-applies a live server's settings; a free VF is reset by its agent."""
    out = []
    for vf in observed:
        want_mac = (vf.desired_mac or _ZERO_MAC).lower()
        if vf.actual_mac.lower() != want_mac or vf.actual_vlan != vf.desired_vlan:
            out.append(Finding(AuditCheck.VF_STATE_DIFFERS, f"{vf.host} {vf.address}",
                               f"desired MAC {want_mac} VLAN {vf.desired_vlan}, on the host "
                               f"MAC {vf.actual_mac.lower()} VLAN {vf.actual_vlan} (owner "
                               f"{vf.owner or 'none'})", repairable=False))
    return tuple(out)


class Audit:
    """Checks the ledger's invariants and repairs what is safe; counts every repair."""

    def __init__(self, db: Database, network: "NetworkService", scheduler: "Scheduler",
                 revisions: HostRevisions, clock: "Clock",
                 recorder: Recorder | None = None, worker: str = "") -> None:
        # worker: this API process (the build leases' name for it), which may hold the
        # sweep's lease: one process sweeps at a time, not every worker of every API node.
        self._worker = worker or f"audit/{uuid.uuid4().hex}"
        self._db = db
        self._network = network
        self._scheduler = scheduler
        self._revisions = revisions
        self._clock = clock
        self._recorder = recorder or NullRecorder()
        self.repaired_total = 0
        self._last_sweep: set[tuple[AuditCheck, str]] = set()

    def check(self) -> AuditReport:
        """Every finding now, in a stable order (check, subject).  The ledger is read twice
        and only what both reads show is reported: a build or delete in flight between two
        of the first read's statements is not a finding. Recorded as one run (metrics)."""
        report = self._check()
        self._record(report)
        return report

    def _record(self, report: AuditReport) -> None:
        """One run for the metrics: findings per check (zeros too), repairs per check.
        ``vf-state-differs`` is left out: the API does not see the hosts' VFs (the CLI and
        the agents compare those)."""
        findings = dict.fromkeys((c.value for c in AuditCheck
                                  if c is not AuditCheck.VF_STATE_DIFFERS), 0)
        for f in report.findings:
            findings[f.check.value] += 1
        repaired: dict[str, int] = {}
        for f in report.repaired:
            repaired[f.check.value] = repaired.get(f.check.value, 0) + 1
        self._recorder.audited(findings, repaired, self._clock.now().timestamp())

    def _check(self) -> AuditReport:
        first = self._scan()
        if not first:
            return AuditReport((), repaired_total=self.repaired_total)
        seen = {(f.check, f.subject) for f in first}
        again = [f for f in self._scan() if (f.check, f.subject) in seen]
        return AuditReport(tuple(again), repaired_total=self.repaired_total)

    def _scan(self) -> list[Finding]:
        """Each invariant checked by one statement that sends back only the rows breaking it
        (the database compares them: a healthy ledger of any size sends nothing back)."""
        with self._db.transaction() as s:
            findings = [*_devices(s), *_allocations(s), *_usage(s), *_servers_without_vf(s),
                        *_ports(s)]
        return sorted(findings, key=lambda f: (f.check, f.subject))

    def sweep(self, lease_seconds: float = SWEEP_LEASE_SECONDS) -> AuditReport | None:
        """The API's periodic audit, run by one API process at a time: the one holding the
        sweep's lease, which it renews at each sweep (for ``lease_seconds``, longer than the
        time between its sweeps); None in the others.  It repairs only what its previous
        sweep found too (a finding that outlasts a whole interval is no operation in
        flight); a process that takes the lease over starts with a sweep that only finds."""
        if not self._lead(lease_seconds):
            self._last_sweep = set()
            return None
        report = self._check()
        keys = {(f.check, f.subject) for f in report.findings}
        lasting, self._last_sweep = keys & self._last_sweep, keys
        return self.repair(report, lasting)

    def _lead(self, lease_seconds: float) -> bool:
        """Take or renew the sweep's lease (free, expired or already ours); whether we hold
        it now.  One conditional upsert: two processes asking at once cannot both win."""
        now = self._clock.now()
        with self._db.transaction() as s:
            return s.execute(_SWEEP_LEASE[self._db.dialect], {
                "me": self._worker, "now": now,
                "until": now + timedelta(seconds=lease_seconds)}).first() is not None

    def release(self) -> None:
        """Give the sweep's lease back if this process holds it (it stops sweeping)."""
        t = SweepLeaseRow
        with self._db.transaction() as s:
            s.execute(delete(t).where(t.name == "audit", t.owner == self._worker))

    def repair(self, report: AuditReport | None = None,
               only: set[tuple[AuditCheck, str]] | None = None) -> AuditReport:
        """Check (unless given the report), then fix each repairable finding (of ``only``,
        when given; fenced, see the module docstring); the report's ``findings`` are what
        was found before repairing. Recorded as one run (metrics)."""
        report = report or self._check()
        repaired = [f for f in report.findings if f.repairable and
                    (only is None or (f.check, f.subject) in only) and self._repair(f)]
        for f in repaired:
            _LOG.warning("audit repaired %s %s: %s", f.check, f.subject, f.evidence)
        self.repaired_total += len(repaired)
        done = AuditReport(report.findings, tuple(repaired), self.repaired_total)
        self._record(done)
        return done

    def resync(self, hosts: Iterable[str]) -> tuple[str, ...]:
        """Ask each host's agent to apply its whole desired state again (a new revision): the
        repair of ``vf-state-differs``, done by the agent that owns the VF, never here.
        Returns the hosts nudged (those that exist)."""
        with self._db.transaction() as s:
            known = set(s.scalars(select(HostRow.name)))
        nudged = tuple(sorted(h for h in set(hosts) if h in known))
        for host in nudged:
            _LOG.warning("audit: host %s re-applies its desired VF state", host)
            self._revisions.bump(host)
        self.repaired_total += len(nudged)
        return nudged

    def _repair(self, f: Finding) -> bool:
        match f.check:
            case AuditCheck.VF_OWNER_MISSING | AuditCheck.ALLOCATION_OWNER_MISSING:
                server_id = f.subject.split()[-1]
                return self._free_missing(server_id)
            case AuditCheck.PORT_SERVER_MISSING:
                port_id, server_id = f.subject.split()
                return self._unbind(port_id, server_id)
            case AuditCheck.USAGE_DIFFERS:
                return self._fix_usage(f.subject)
            case AuditCheck.SERVER_WITHOUT_VF:
                return self._fail_server(f.subject.split()[0], f.evidence)
        return False

    def _free_missing(self, server_id: str) -> bool:
        with self._db.transaction() as s:
            if s.get(ServerRow, server_id) is not None:
                return False  # it exists (again): not ours to free
            if s.scalar(select(MigrationRow.id).where(
                    MigrationRow.uuid == server_id,
                    MigrationRow.status.in_(MIGRATION_HOLDS))) is not None:
                return False  # a move under way holds it
        self._scheduler.release(server_id)  # idempotent: an earlier finding may have freed it
        with self._db.transaction() as s:
            return s.scalar(select(PciDeviceRow.id).where(PciDeviceRow.owner == server_id)
                            .limit(1)) is None and s.get(HostAllocationRow, server_id) is None

    def _unbind(self, port_id: str, server_id: str) -> bool:
        with self._db.transaction() as s:
            if s.get(ServerRow, server_id) is not None:
                return False
        try:
            port = self._network.unbind_port(port_id, server_id)
        except NotFound:
            return False
        if port.binding.host:
            self._revisions.bump(port.binding.host)
        return not port.device_id

    def _fix_usage(self, host_name: str) -> bool:
        with self._db.transaction() as s:
            host = s.scalar(select(HostRow).where(HostRow.name == host_name))
            if host is None:
                return False
            vcpus, ram, disk = _allocated(s, host.id)
            result = s.execute(update(HostRow).where(
                HostRow.id == host.id, HostRow.generation == host.generation)
                .values(vcpus_used=vcpus, memory_mb_used=ram, disk_gb_used=disk,
                        generation=HostRow.generation + 1)
                .execution_options(synchronize_session=False))
            return result.rowcount == 1

    def _fail_server(self, server_id: str, why: str) -> bool:
        now = self._clock.now()
        with self._db.transaction() as s:
            result = s.execute(update(ServerRow).where(
                ServerRow.id == server_id, ServerRow.status != _DELETED,
                ServerRow.status != ServerStatus.ERROR.value, ServerRow.host.is_not(None))
                .values(status=ServerStatus.ERROR.value, task_state=None, updated_at=now)
                .execution_options(synchronize_session=False))
            if result.rowcount != 1:
                return False
            fault = s.get(FaultRow, server_id)
            text = f"The audit found the server without its device: {why}"
            if fault is None:
                s.add(FaultRow(server_id=server_id, code=500, message=text, created=now))
            else:
                fault.code, fault.message, fault.created = 500, text, now
            return True

# Who may hold a claim, a host allocation or a port: a server, or a move under way, which
# holds its source's claims under the migration's uuid (compute/migration.py) for as long as
# its server exists.  One subquery (PostgreSQL joins it as one anti- or semi-join; two ORed
# EXISTS were a subplan per row), with aliases of its own so that it never correlates.
_MOVED = ServerRow.__table__.alias("moved_server")
_M = MigrationRow.__table__
_OWNERS = union_all(
    select(ServerRow.__table__.c.id.label("owner")),
    select(_M.c.uuid).join(_MOVED, _MOVED.c.id == _M.c.server_id)
    .where(_M.c.status.in_(MIGRATION_HOLDS))).subquery("owners")


def _owner_exists(owner: ColumnElement[str]) -> ColumnElement[bool]:
    """Whether ``owner`` (a column of the checked rows) names a server or a holding move."""
    return exists().where(_OWNERS.c.owner == owner)


def _devices(s: Session) -> list[Finding]:
    d, h = PciDeviceRow, HostRow
    rows = s.execute(select(h.name, d.address, d.status, d.owner, d.generation)
                     .join(h, h.id == d.host_id)
                     .where(d.owner.is_not(None), ~_owner_exists(d.owner))).all()
    return [Finding(AuditCheck.VF_OWNER_MISSING, f"{r.name} {r.address} {r.owner}",
                    f"device {r.address} on {r.name} is {r.status} (generation "
                    f"{r.generation}) by server {r.owner}, which does not exist")
            for r in rows]


def _allocations(s: Session) -> list[Finding]:
    a = HostAllocationRow
    rows = s.execute(select(a, HostRow.name).join(HostRow, HostRow.id == a.host_id)
                     .where(~_owner_exists(a.server_id))).all()
    return [Finding(AuditCheck.ALLOCATION_OWNER_MISSING, f"{name} {a.server_id}",
                    f"{a.vcpus} vCPU, {a.memory_mb} MB RAM, {a.disk_gb} GB disk on {name} are "
                    f"allocated to server {a.server_id}, which does not exist")
            for a, name in rows]


def _ports(s: Session) -> list[Finding]:
    """Ports bound to a server that does not exist, and ports whose binding names a VF their
    server does not hold (the network's bindings joined to the claims)."""
    b, d, h = COMPUTE_BINDINGS, PciDeviceRow, HostRow
    gone = s.execute(select(b.c.port_id, b.c.device_id, b.c.host)
                     .where(~_owner_exists(b.c.device_id))).all()
    out = [Finding(AuditCheck.PORT_SERVER_MISSING, f"{r.port_id} {r.device_id}",
                   f"port {r.port_id} is bound to host {r.host or '-'} for server "
                   f"{r.device_id}, which does not exist") for r in gone]
    elsewhere = s.execute(
        select(b.c.port_id, b.c.device_id, b.c.host, b.c.pci_slot, d.owner)
        .select_from(b.outerjoin(h, h.name == b.c.host)
                     .outerjoin(d, and_(d.host_id == h.id, d.address == b.c.pci_slot)))
        .where(b.c.pci_slot.is_not(None), b.c.host != "",
               d.owner.is_distinct_from(b.c.device_id), _owner_exists(b.c.device_id))).all()
    out += [Finding(AuditCheck.PORT_VF_NOT_OWNED, f"{r.port_id} {r.pci_slot}",
                    f"port {r.port_id} of server {r.device_id} names VF {r.pci_slot} on "
                    f"{r.host}, held by {r.owner or 'nobody'}", repairable=False)
            for r in elsewhere]
    return out


def _allocated(s: Session, host_id: str) -> tuple[int, int, int]:
    a = HostAllocationRow
    row = s.execute(select(func.coalesce(func.sum(a.vcpus), 0),
                           func.coalesce(func.sum(a.memory_mb), 0),
                           func.coalesce(func.sum(a.disk_gb), 0))
                    .where(a.host_id == host_id)).one()
    return int(row[0]), int(row[1]), int(row[2])


def _usage(s: Session) -> list[Finding]:
    """The hosts whose usage is not the sum of their allocations, compared in one statement
    (the database sends back only those, never every host)."""
    a, h = HostAllocationRow, HostRow
    sums = (select(a.host_id, func.sum(a.vcpus).label("vcpus"),
                   func.sum(a.memory_mb).label("ram"), func.sum(a.disk_gb).label("disk"))
            .group_by(a.host_id).subquery())
    want = (func.coalesce(sums.c.vcpus, 0), func.coalesce(sums.c.ram, 0),
            func.coalesce(sums.c.disk, 0))
    rows = s.execute(select(h.name, h.generation, h.vcpus_used, h.memory_mb_used,
                            h.disk_gb_used, *want)
                     .outerjoin(sums, sums.c.host_id == h.id)
                     .where(or_(h.vcpus_used != want[0], h.memory_mb_used != want[1],
                                h.disk_gb_used != want[2]))
                     .order_by(h.name)).all()
    out = []
    for name, generation, *used in rows:
        have, sum_ = tuple(used[:3]), tuple(int(n) for n in used[3:])
        out.append(Finding(AuditCheck.USAGE_DIFFERS, name,
                           f"host {name} counts {have[0]} vCPU, {have[1]} MB RAM, "
                           f"{have[2]} GB disk used; its allocations sum to {sum_[0]}, "
                           f"{sum_[1]}, {sum_[2]} (generation {generation})"))
    return out


def _servers_without_vf(s: Session) -> list[Finding]:
    """Placed servers whose recorded VF is not theirs, with the VF's owner, in one statement
    (the VF and its host joined to each server port, not read one by one)."""
    d = PciDeviceRow
    rows = s.execute(select(ServerRow.id, ServerRow.host, ServerPortRow.port_id,
                            ServerPortRow.pci_address, d.owner)
                     .join(ServerPortRow, ServerPortRow.server_id == ServerRow.id)
                     .outerjoin(HostRow, HostRow.name == ServerRow.host)
                     .outerjoin(d, and_(d.host_id == HostRow.id,
                                        d.address == ServerPortRow.pci_address))
                     .where(ServerRow.host.is_not(None), ServerPortRow.pci_address.is_not(None),
                            ServerRow.status.in_((ServerStatus.BUILD.value,
                                                  ServerStatus.ACTIVE.value)),
                            d.owner.is_distinct_from(ServerRow.id))).all()
    return [Finding(AuditCheck.SERVER_WITHOUT_VF, f"{r.id} {r.pci_address}",
                    f"server {r.id} on {r.host} records VF {r.pci_address} for port "
                    f"{r.port_id}, but the VF is held by {r.owner or 'nobody'}") for r in rows]
