"""Atomic claims of host resources and PCI devices: each a conditional UPDATE whose rowcount
is checked, with nova's PF/VF exclusion (nova_pci.md §2.4) in the same transaction.

Lock order, the same in every transaction so PostgreSQL never deadlocks: the server row (a
build's claim is fenced by its lease), the hosts row, then PF rows by address, then VF rows by
address.

On PostgreSQL the common claim (no device, or one VF: every boot on the chapter's direct
ports) is one statement: the fence, the resources, the allocation row, the PF fence and the VF,
each a data-modifying CTE that runs only once the one before it returned its row (so the locks
are taken in the order above), and one round trip instead of five.  Any other claim, and every
claim on SQLite, runs the statements one by one.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (CTE, ColumnElement, Float, Integer, Row, Select, String, Update, and_,
                        bindparam, case, delete, exists, insert, literal, or_, select,
                        true, update)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from sriovstack.compute.build_lease import LEASE_FENCE, hold_lease
from sriovstack.compute.scheduler.model import BuildRequest, Claim, ClaimedDevice
from sriovstack.compute.scheduler.revision import TRANSACTION_STAMP, own_stamp, touch_hosts
from sriovstack.db import Database, one_of, rows_of
from sriovstack.db.models import HostAllocationRow, HostRow, PciDeviceRow
from sriovstack.errors import ClaimLost, Conflict, ErrorKind, NotFound
from sriovstack.pci import Allocation, DevType, PciAddress, PoolKey

__all__ = ["Claims", "allocated_after"]

D = PciDeviceRow
_VF, _PF = DevType.VF.value, DevType.PF.value
_HELD = ("claimed", "allocated")


class Claims:
    """Claim and release a server's host resources and devices in the database."""

    def __init__(self, db: Database, ram_ratio: float, cpu_ratio: float) -> None:
        self._db = db
        self._ram_ratio = ram_ratio
        self._cpu_ratio = cpu_ratio

    def claim(self, host_id: str, host_name: str, request: BuildRequest,
              allocations: Sequence[Allocation]) -> Claim:
        """Take the request's RAM/vCPU/disk on the host and the allocated devices, all or
        nothing. Raises ClaimLost when any conditional UPDATE finds the row already taken,
        Conflict when the server already holds a claim, NotFound when the request's build
        lease no longer holds the server (it was deleted, or another worker builds it)."""
        with self._db.transaction() as s:
            if own_stamp(s) is not None and _at_once_fits(allocations):
                return self._claim_at_once(s, host_id, host_name, request, allocations)
            if request.lease_token is not None and not hold_lease(s, request.lease_token,
                                                                  request.server_id):
                raise _lease_lost(request)
            stamped = self._take_resources(s, host_id, host_name, request)
            taken: dict[int, list[Row[Any]]] = {}
            order = sorted(range(len(allocations)), key=lambda i: allocations[i].key)
            for i in order:
                taken[i] = _take_devices(s, host_id, host_name, allocations[i],
                                         request.server_id)
            claim = Claim(request.server_id, host_name, tuple(
                _device(row, allocations[i].request.port_id)
                for i in range(len(allocations)) for row in taken[i]))
            if not stamped:  # the other processes' indexes reload this host
                touch_hosts(s, (host_id,))
            return claim

    def _take_resources(self, s: Session, host_id: str, host_name: str,
                        request: BuildRequest) -> bool:
        """Take RAM, vCPUs and disk on the host; whether its revision was stamped too (on
        PostgreSQL the same UPDATE stamps it).  The server's allocation row is the proof of
        its one claim: a second one breaks its primary key (Conflict), so no read first."""
        stamped = own_stamp(s) is not None
        result = s.execute(_TAKE_RESOURCES[stamped], self._wanted(host_id, request))
        if result.rowcount != 1:
            raise _resources_lost(host_name, request)
        try:
            s.execute(_RECORD_ALLOCATION, {
                "server_id": request.server_id, "host_id": host_id, "vcpus": request.vcpus,
                "memory_mb": request.memory_mb, "disk_gb": request.disk_gb})
        except IntegrityError as exc:  # the transaction is rolled back as this leaves it
            raise _claim_exists(request) from exc
        return stamped

    def _wanted(self, host_id: str, request: BuildRequest) -> dict[str, object]:
        """The parameters of ``_TAKE_RESOURCES``: what the request takes of the host."""
        return {"at_host": host_id, "want_memory": request.memory_mb,
                "want_vcpus": request.vcpus, "want_disk": request.disk_gb,
                "ram_ratio": self._ram_ratio, "cpu_ratio": self._cpu_ratio}

    def _claim_at_once(self, s: Session, host_id: str, host_name: str, request: BuildRequest,
                       allocations: Sequence[Allocation]) -> Claim:
        """``claim`` in one statement (PostgreSQL; no device or one VF): its row tells which
        part found nothing, and raising then rolls back the parts that did."""
        alloc = allocations[0] if allocations else None
        params = {**self._wanted(host_id, request), "server": request.server_id,
                  "token": request.lease_token}
        if alloc is not None:
            params.update(_pool_params(host_id, alloc.key), pf=str(alloc.key.pf_address),
                          claimer=request.server_id, for_port=alloc.request.port_id)
        shape = None if alloc is None else _shape(alloc.key)
        try:
            row = s.execute(_at_once(request.lease_token is not None, shape), params).one()
        except IntegrityError as exc:
            raise _claim_exists(request) from exc
        if not row.leased:
            raise _lease_lost(request)
        if not row.took:
            raise _resources_lost(host_name, request)
        if alloc is None:
            return Claim(request.server_id, host_name, ())
        taken: list[Row[Any]] = [] if row.id is None else [row]
        if not taken:  # as the statements one by one go on from here (a fresh snapshot)
            if not row.fenced:  # ClaimLost if the PF is held now
                _fence_parent_pf(s, host_id, host_name, alloc.key)
            _take_rest(s, host_name, alloc, params, taken)  # the first free VF was taken
        return Claim(request.server_id, host_name, (_device(taken[0], alloc.request.port_id),))

    def allocate(self, server_id: str, session: Session | None = None) -> int:
        """Move the server's claimed devices to allocated (its guest runs), in ``session``'s
        transaction when given; returns how many."""
        with self._db.transaction(session) as s:
            return int(s.execute(_ALLOCATE, {"server": server_id}).rowcount)

    def held_by(self, server_id: str) -> tuple[ClaimedDevice, ...]:
        """The devices the server holds now (claimed or allocated), by address."""
        with self._db.transaction() as s:
            ids = list(s.scalars(select(D.id).where(D.owner == server_id).order_by(D.address)))
            ports = dict(s.execute(select(D.id, D.request_id).where(D.id.in_(ids))).all())
            return _claimed(s, ids, ports)

    def release(self, server_id: str) -> bool:
        """Free everything the server holds; True when something was held. Idempotent."""
        with self._db.transaction() as s:
            alloc = s.get(HostAllocationRow, server_id)
            owned = s.execute(select(D.host_id, D.dev_type, D.pool_pf).where(
                D.owner == server_id).order_by(D.pool_pf, D.address)).all()
            hosts = sorted({r.host_id for r in owned} | ({alloc.host_id} if alloc else set()))
            if not hosts:
                return False
            # The host rows first, as every claim does: a release racing another release of
            # the same server (delete and build teardown) would otherwise skip the row the
            # other holds and meet it again in touch_hosts, in the other order (a deadlock).
            s.execute(select(HostRow.id).where(HostRow.id.in_(hosts)).order_by(HostRow.id)
                      .with_for_update())
            if alloc is not None:
                _return_resources(s, alloc)
            for host_id in hosts:
                if alloc is None or host_id != alloc.host_id:
                    s.execute(update(HostRow).where(HostRow.id == host_id)
                              .values(generation=HostRow.generation + 1))
            pfs = sorted({(r.host_id, r.pool_pf, r.dev_type) for r in owned})
            for host_id, pf, _ in pfs:  # lock each PF row before touching its VFs
                s.execute(update(D).where(D.host_id == host_id, D.address == pf,
                                          D.dev_type == _PF).values(status=D.status))
            _free_owned(s, server_id)
            for host_id, pf, dev_type in pfs:
                _restore_relatives(s, host_id, pf, dev_type)
            touch_hosts(s, hosts)
            return True


def _take_devices(s: Session, host_id: str, host_name: str, alloc: Allocation,
                  server_id: str) -> list[Row[Any]]:
    """Claim ``alloc.count`` devices of the pool; their rows (``_DEVICE`` columns).

    One device: one UPDATE of the pool's first free device, re-checked as it is locked (one
    another claim took meanwhile is left out).  Then, for any shortfall, one conditional
    UPDATE per further candidate, in address order (the lock order)."""
    key = alloc.key
    if key.dev_type is DevType.VF:
        _fence_parent_pf(s, host_id, host_name, key)
    shape = _shape(key)
    params = {**_pool_params(host_id, key), "claimer": server_id,
              "for_port": alloc.request.port_id}
    taken: list[Row[Any]] = []
    if alloc.count == 1:  # one row: no lock order to keep among the devices taken
        taken = list(s.execute(_TAKE_FIRST[shape], params).all())  # at most one: by id
    _take_rest(s, host_name, alloc, params, taken)
    if key.dev_type is DevType.PF:
        _fence_child_vfs(s, host_id, host_name, key)
    return taken


def _take_rest(s: Session, host_name: str, alloc: Allocation, params: dict[str, object],
               taken: list[Row[Any]]) -> None:
    """Add to ``taken`` (the pool's devices claimed so far) one conditional UPDATE per
    further free device, in address order (the lock order), until ``alloc.count``; a device
    another claim took meanwhile is passed over.  ClaimLost when the pool runs out."""
    if len(taken) == alloc.count:
        return
    mine = {row.id for row in taken}
    for dev_id in s.scalars(_POOL[_shape(alloc.key)], {**params, "room": alloc.count + 16}).all():
        if dev_id in mine:
            continue
        row = s.execute(_TAKE_ONE, {"device": dev_id, "claimer": params["claimer"],
                                    "for_port": params["for_port"]}).first()
        if row is not None:
            taken.append(row)
            if len(taken) == alloc.count:
                return
    if len(taken) < alloc.count:
        raise _pool_taken(host_name, alloc)


def _lease_lost(request: BuildRequest) -> NotFound:
    return NotFound(f"Instance {request.server_id} is no longer built under lease "
                    f"{request.lease_token} (deleted, or taken over).",
                    kind=ErrorKind.INSTANCE_NOT_FOUND, value=request.server_id)


def _resources_lost(host_name: str, request: BuildRequest) -> ClaimLost:
    return ClaimLost(f"host {host_name} no longer has {request.memory_mb} MB RAM and "
                     f"{request.vcpus} vCPUs free (or was disabled)", host=host_name)


def _claim_exists(request: BuildRequest) -> Conflict:
    return Conflict(f"server {request.server_id} already holds a claim; release it first",
                    kind=ErrorKind.CLAIM_EXISTS, field="server_id", value=request.server_id)


def _pf_held(host_name: str, pf: str, held: str) -> ClaimLost:
    return ClaimLost(f"host {host_name}: PF {pf} is {held}, so its VFs cannot be claimed",
                     host=host_name)


def _pool_taken(host_name: str, alloc: Allocation) -> ClaimLost:
    return ClaimLost(f"host {host_name}: {alloc.count} {alloc.request.describe()} under PF "
                     f"{alloc.key.pf_address} were taken by another build", host=host_name)


def _shape(key: PoolKey) -> tuple[bool, bool]:
    """Which of ``_SHAPES``' statements the pool's devices are read with: whether it has no
    physnet, and no NUMA node (NULL is matched with IS NULL, not with a parameter)."""
    return key.physnet is None, key.numa_node is None


def _pool_params(host_id: str, key: PoolKey) -> dict[str, object]:
    """The parameters of ``_POOL``'s (and ``_TAKE_FIRST``'s) statements for a pool."""
    return {"at_host": host_id, "pool_of": str(key.pf_address), "kind": key.dev_type.value,
            "vendor": key.vendor_id, "product": key.product_id, "net": key.physnet,
            "numa": key.numa_node}


def _fence_parent_pf(s: Session, host_id: str, host_name: str, key: PoolKey) -> None:
    """A VF claim makes its PF unclaimable; a PF already held makes the VF unclaimable."""
    pf = str(key.pf_address)
    result = s.execute(_FENCE_PF, {"at_host": host_id, "pf": pf})
    if result.rowcount == 0:
        held = s.scalar(_PF_STATUS, {"at_host": host_id, "pf": pf})
        if held is not None:
            raise _pf_held(host_name, pf, held)


def _fence_child_vfs(s: Session, host_id: str, host_name: str, key: PoolKey) -> None:
    """A PF claim makes its free VFs unclaimable; a VF already held means the PF is lost."""
    pf = str(key.pf_address)
    s.execute(update(D).where(D.host_id == host_id, D.pool_pf == pf, D.dev_type == _VF,
                              D.status == "available").values(status="unclaimable")
              .execution_options(synchronize_session=False))
    busy = s.scalar(select(D.id).where(D.host_id == host_id, D.pool_pf == pf,
                                       D.dev_type == _VF, D.status.in_(_HELD)).limit(1))
    if busy is not None:
        raise ClaimLost(f"host {host_name}: a VF of PF {pf} is in use", host=host_name)


def _return_resources(s: Session, alloc: HostAllocationRow) -> None:
    gone = s.execute(delete(HostAllocationRow).where(
        HostAllocationRow.server_id == alloc.server_id)).rowcount
    if gone != 1:  # a concurrent release got there first
        return
    h = HostRow
    s.execute(update(h).where(h.id == alloc.host_id).values(
        memory_mb_used=h.memory_mb_used - alloc.memory_mb, vcpus_used=h.vcpus_used - alloc.vcpus,
        disk_gb_used=h.disk_gb_used - alloc.disk_gb, generation=h.generation + 1)
        .execution_options(synchronize_session=False))


def _free_owned(s: Session, server_id: str) -> None:
    # A device that left the whitelist while in use is removed, not re-pooled (nova §2.6).
    s.execute(update(D).where(D.owner == server_id, D.status.in_(_HELD)).values(
        status=case((D.removed_when_freed.is_(True), "removed"), else_="available"),
        owner=None, request_id=None, removed_when_freed=False, generation=D.generation + 1)
        .execution_options(synchronize_session=False))


def _restore_relatives(s: Session, host_id: str, pf: str, dev_type: str) -> None:
    """A PF becomes claimable once no VF of it is held; a freed PF's VFs become claimable."""
    if dev_type == _PF:
        s.execute(update(D).where(D.host_id == host_id, D.pool_pf == pf, D.dev_type == _VF,
                                  D.status == "unclaimable").values(status="available")
                  .execution_options(synchronize_session=False))
        return
    sibling = aliased(PciDeviceRow)
    held = exists().where(and_(sibling.host_id == host_id, sibling.pool_pf == pf,
                               sibling.dev_type == _VF, sibling.status.in_(_HELD)))
    s.execute(update(D).where(D.host_id == host_id, D.address == pf, D.dev_type == _PF,
                              D.status == "unclaimable", ~held).values(status="available")
              .execution_options(synchronize_session=False))


# The claim's statements, built once with bind parameters (every build runs them), on the
# Core tables: a claim's transaction holds no ORM rows to flush first or synchronize.
_H, _D = HostRow.__table__, PciDeviceRow.__table__
# What a claim reads back of each device it took (in the UPDATE that takes it).
_DEVICE = (_D.c.id, _D.c.address, _D.c.vendor_id, _D.c.product_id, _D.c.dev_type, _D.c.physnet,
           _D.c.parent_addr, _D.c.generation)
# ``allocate``'s statement: every boot's status report runs it.
_ALLOCATE = (update(_D).where(_D.c.owner == bindparam("server"), _D.c.status == "claimed")
             .values(status="allocated"))


def allocated_after(gate: ColumnElement[bool]) -> CTE:
    """``allocate`` as a CTE of a caller's PostgreSQL statement, run only where ``gate``
    holds (the devices of ``:server``; returns their ids)."""
    return _ALLOCATE.where(gate).returning(_D.c.id).cte("allocated")


def _take_resources_statement(stamped: bool) -> Update:
    """Take ``:want_*`` of the host ``:at_host`` if it has them under its allocation ratios;
    ``stamped``: stamp its revision too (PostgreSQL: the transaction's id)."""
    h = _H.c
    memory, vcpus = bindparam("want_memory"), bindparam("want_vcpus")
    return (update(_H).where(
        h.id == bindparam("at_host"), h.enabled.is_(True),
        h.memory_mb_used + memory <= h.memory_mb * bindparam("ram_ratio", type_=Float),
        h.vcpus_used + vcpus <= h.vcpus * bindparam("cpu_ratio", type_=Float))
        .values(memory_mb_used=h.memory_mb_used + memory, vcpus_used=h.vcpus_used + vcpus,
                disk_gb_used=h.disk_gb_used + bindparam("want_disk"),
                generation=h.generation + 1,
                **({"revision": TRANSACTION_STAMP} if stamped else {})))


def _pool_statement(physnet_null: bool, numa_null: bool) -> Select[Any]:
    """The free, healthy devices of one pool (``_pool_params``), in address order (the lock
    order); a pool with no physnet or NUMA node matches NULL there."""
    d = _D.c
    return (select(d.id).where(
        d.host_id == bindparam("at_host"), d.status == "available",
        d.unhealthy_reason.is_(None), d.pool_pf == bindparam("pool_of"),
        d.dev_type == bindparam("kind"), d.vendor_id == bindparam("vendor"),
        d.product_id == bindparam("product"),
        d.physnet.is_(None) if physnet_null else d.physnet == bindparam("net"),
        d.numa_node.is_(None) if numa_null else d.numa_node == bindparam("numa"))
        .order_by(d.address))


def _claim_statement(which: ColumnElement[bool]) -> Update:
    """Claim the device(s) ``which`` picks if still free and healthy (a PF may lose
    carrier) for ``:claimer``'s port ``:for_port``, returning ``_DEVICE``."""
    d = _D.c
    return (update(_D).where(which, d.status == "available", d.unhealthy_reason.is_(None))
            .values(status="claimed", owner=bindparam("claimer"),
                    request_id=bindparam("for_port"), generation=d.generation + 1)
            .returning(*_DEVICE))


_SHAPES = [(physnet_null, numa_null) for physnet_null in (False, True)
           for numa_null in (False, True)]
_TAKE_RESOURCES = {stamped: _take_resources_statement(stamped) for stamped in (False, True)}
_RECORD_ALLOCATION = insert(HostAllocationRow.__table__)
_POOL = {shape: _pool_statement(*shape).limit(bindparam("room", type_=Integer))
         for shape in _SHAPES}
_TAKE_FIRST = {shape: _claim_statement(
    _D.c.id.in_(_pool_statement(*shape).limit(1).scalar_subquery())) for shape in _SHAPES}
_TAKE_ONE = _claim_statement(_D.c.id == bindparam("device"))
# The PF ``:pf`` of the host ``:at_host``: fenced by a VF claim, or read for why it cannot be.
_THE_PF = and_(_D.c.host_id == bindparam("at_host"), _D.c.address == bindparam("pf"),
               _D.c.dev_type == _PF)
_FENCE_PF = (update(_D).where(_THE_PF, one_of(_D.c.status, ("available", "unclaimable")))
             .values(status="unclaimable"))
_PF_STATUS = select(_D.c.status).where(_THE_PF, _D.c.status != "removed")


def _at_once_fits(allocations: Sequence[Allocation]) -> bool:
    """Whether ``_at_once`` can make this claim: no device, or one VF."""
    return not allocations or (len(allocations) == 1 and allocations[0].count == 1
                               and allocations[0].key.dev_type is DevType.VF)


@functools.lru_cache(maxsize=16)
def _at_once(leased: bool, shape: tuple[bool, bool] | None) -> Select[Any]:
    """The claim as one statement (PostgreSQL): a chain of data-modifying CTEs, each gated on
    an EXISTS of the one before, so each runs, and locks its row, only after the one before
    returned its row: the lease fence (``leased``), the host's resources with its revision
    stamped, the allocation row, then for a VF of the pool ``shape`` (``_SHAPES``; None: no
    device) its PF fenced and the pool's first free VF taken.  A PF held by another server
    (its row there but not fenced) leaves the VF alone.  One row: ``leased``, ``took``,
    ``fenced`` and the VF's ``_DEVICE`` columns (NULL when none was taken)."""
    gate: ColumnElement[bool] = true()
    held: ColumnElement[Any] = literal(1)
    if leased:
        lease = LEASE_FENCE.cte("lease")
        gate, held = exists(select(lease.c.id)), rows_of(lease)
    took = _TAKE_RESOURCES[True].where(gate).returning(_H.c.id).cte("took")
    recorded = _RECORD_ALLOCATION.from_select(
        ["server_id", "host_id", "vcpus", "memory_mb", "disk_gb"],
        select(bindparam("server", type_=String), took.c.id,
               bindparam("want_vcpus", type_=Integer), bindparam("want_memory", type_=Integer),
               bindparam("want_disk", type_=Integer))).returning(
        HostAllocationRow.__table__.c.server_id).cte("recorded")
    columns = [held.label("leased"), rows_of(took).label("took")]
    if shape is None:  # a CTE is rendered only where the statement names it
        return select(*columns, rows_of(recorded).label("recorded"))
    d = _D.c
    fenced = (_FENCE_PF.where(exists(select(recorded.c.server_id)))
              .returning(d.id).cte("fenced"))
    pf_there = _PF_STATUS.with_only_columns(d.id)
    taken = _claim_statement(and_(
        d.id.in_(_pool_statement(*shape).limit(1).scalar_subquery()),
        exists(select(recorded.c.server_id)),
        or_(exists(select(fenced.c.id)), ~pf_there.exists()))).cte("taken")
    one = select(literal(1).label("one")).subquery("one")
    return (select(*columns, rows_of(fenced).label("fenced"), *taken.c)
            .select_from(one.outerjoin(taken, true())))


def _device(r: Any, port_id: str | None) -> ClaimedDevice:
    return ClaimedDevice(
        address=PciAddress.parse(r.address), vendor_id=r.vendor_id, product_id=r.product_id,
        dev_type=DevType(r.dev_type), physnet=r.physnet,
        parent_addr=PciAddress.parse(r.parent_addr) if r.parent_addr else None,
        generation=r.generation, port_id=port_id)


def _claimed(s: Session, ids: Sequence[str],
             ports: dict[str, str | None]) -> tuple[ClaimedDevice, ...]:
    if not ids:
        return ()
    rows = {r.id: r for r in s.scalars(select(D).where(D.id.in_(ids)))}
    return tuple(_device(rows[i], ports.get(i)) for i in ids)
