"""One port's VF on a placed server's host: claimed when a direct port is hot-plugged, released
when it is detached (or when an attach whose worker died is rolled back).

The same ledger and lock order as ``claims.py`` (the server row, the host row, PF rows by
address, then VF rows): the claim is one conditional UPDATE per candidate VF
(``available -> claimed`` only if still available and healthy, its PF fenced unclaimable as a
VF claim makes it, nova_pci.md §2.4); the server's RAM and vCPUs are already counted, so only
the device moves.  A device row names its port (``request_id``), so a release frees exactly
that port's VF and nothing else the server holds.
"""

from __future__ import annotations

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session, aliased

from sriovstack.compute.build_lease import hold_lease
from sriovstack.compute.scheduler.model import ClaimedDevice
from sriovstack.compute.scheduler.revision import touch_hosts
from sriovstack.db.models import HostRow, PciDeviceRow
from sriovstack.errors import ClaimLost, ErrorKind, NotFound
from sriovstack.pci import DevType, PciAddress

__all__ = ["claim_port_vf", "release_port_devices", "orphan_devices"]

D = PciDeviceRow
_VF, _PF = DevType.VF.value, DevType.PF.value
_HELD = ("claimed", "allocated")


def claim_port_vf(s: Session, lease_token: str, server_id: str, host: str, port_id: str,
                  physnet: str | None) -> ClaimedDevice:
    """In ``s``: claim one free, healthy VF on ``physnet`` of ``host`` for ``port_id`` of
    ``server_id``, fenced by the server's operation lease ``lease_token``.

    Raises NotFound when the lease no longer holds the server (deleted meanwhile), ClaimLost
    naming the host and physnet when no VF is free there (nothing is left claimed)."""
    if not hold_lease(s, lease_token, server_id):
        raise NotFound(f"Instance {server_id} changed while its interface was being "
                       "attached (deleted, or another operation took it).",
                       kind=ErrorKind.INSTANCE_NOT_FOUND, value=server_id)
    host_id = s.scalar(select(HostRow.id).where(HostRow.name == host).with_for_update())
    if host_id is None:
        raise ClaimLost(f"host {host} is not known to the scheduler", host=host)
    physnet_clause = D.physnet.is_(None) if physnet is None else D.physnet == physnet
    candidates = s.execute(select(D.id, D.pool_pf).where(
        D.host_id == host_id, D.dev_type == _VF, D.status == "available",
        D.unhealthy_reason.is_(None), physnet_clause).order_by(D.pool_pf, D.address)).all()
    for dev_id, pf in candidates:
        if not _fence_pf(s, host_id, pf):
            continue  # the PF itself is passed through: its VFs cannot be used
        taken = s.execute(update(D).where(D.id == dev_id, D.status == "available",
                                          D.unhealthy_reason.is_(None))
                          .values(status="claimed", owner=server_id, request_id=port_id,
                                  generation=D.generation + 1)
                          .execution_options(synchronize_session=False))
        if taken.rowcount == 1:
            touch_hosts(s, (host_id,))
            row = s.get(D, dev_id)
            assert row is not None
            s.refresh(row)
            return _claimed(row, port_id)
        _restore_pf(s, host_id, pf)
    raise ClaimLost(f"host {host} has no free VF on physical network {physnet or '(none)'} "
                    f"for port {port_id}", host=host)


def release_port_devices(s: Session, server_id: str, port_ids: tuple[str, ...]) -> int:
    """In ``s``: free the devices ``server_id`` holds for ``port_ids`` (their PFs become
    claimable again once no VF of theirs is held); returns how many. Idempotent."""
    if not port_ids:
        return 0
    owned = s.execute(select(D.id, D.host_id, D.pool_pf).where(
        D.owner == server_id, D.request_id.in_(port_ids), D.status.in_(_HELD))
        .order_by(D.pool_pf, D.address)).all()
    if not owned:
        return 0
    hosts = sorted({r.host_id for r in owned})
    s.execute(select(HostRow.id).where(HostRow.id.in_(hosts)).order_by(HostRow.id)
              .with_for_update())
    freed = s.execute(update(D).where(D.id.in_([r.id for r in owned]), D.owner == server_id)
                      .values(status="available", owner=None, request_id=None,
                              generation=D.generation + 1)
                      .execution_options(synchronize_session=False)).rowcount
    for host_id, pf in sorted({(r.host_id, r.pool_pf) for r in owned}):
        _restore_pf(s, host_id, pf)
    s.execute(update(HostRow).where(HostRow.id.in_(hosts))
              .values(generation=HostRow.generation + 1)
              .execution_options(synchronize_session=False))
    touch_hosts(s, hosts)
    return int(freed)


def orphan_devices(s: Session, server_id: str, ports: set[str]) -> tuple[str, ...]:
    """The ports for which ``server_id`` holds a device although ``ports`` (its recorded
    ports) does not list them: what an attach or detach that died half-way left."""
    held = s.scalars(select(D.request_id).where(D.owner == server_id,
                                                D.status.in_(_HELD))).all()
    return tuple(sorted({p for p in held if p is not None and p not in ports}))


def _fence_pf(s: Session, host_id: str, pf: str) -> bool:
    """Make the VF's PF unclaimable (a VF of it is about to be held); False when the PF is
    held itself."""
    result = s.execute(update(D).where(D.host_id == host_id, D.address == pf, D.dev_type == _PF,
                                       D.status.in_(("available", "unclaimable")))
                       .values(status="unclaimable").execution_options(synchronize_session=False))
    if result.rowcount == 1:
        return True
    held = s.scalar(select(D.status).where(D.host_id == host_id, D.address == pf,
                                           D.dev_type == _PF, D.status != "removed"))
    return held is None  # no PF row whitelisted: nothing to fence


def _restore_pf(s: Session, host_id: str, pf: str) -> None:
    """The PF becomes claimable again once none of its VFs is held."""
    sibling = aliased(PciDeviceRow)
    held = exists().where(and_(sibling.host_id == host_id, sibling.pool_pf == pf,
                               sibling.dev_type == _VF, sibling.status.in_(_HELD)))
    s.execute(update(D).where(D.host_id == host_id, D.address == pf, D.dev_type == _PF,
                              D.status == "unclaimable", ~held).values(status="available")
              .execution_options(synchronize_session=False))


def _claimed(row: PciDeviceRow, port_id: str) -> ClaimedDevice:
    return ClaimedDevice(
        address=PciAddress.parse(row.address), vendor_id=row.vendor_id,
        product_id=row.product_id, dev_type=DevType(row.dev_type), physnet=row.physnet,
        parent_addr=PciAddress.parse(row.parent_addr) if row.parent_addr else None,
        generation=row.generation, port_id=port_id)
