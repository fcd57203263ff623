"""The host registry: compute hosts and their PCI inventory from agent reports, up/down from
heartbeat time, enable/disable. Never removes or re-pools a device that a server holds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from sriovstack.clock import Clock, SystemClock
from sriovstack.compute.instance_actions import EventRecord, InstanceActionLog
from sriovstack.compute.scheduler.revision import touch_hosts
from sriovstack.db import Database
from sriovstack.db.models import HostRow, PciDeviceRow, ServerRow
from sriovstack.errors import ErrorKind, NotFound
from sriovstack.wire import (InventoryCounts, InventoryDevice, InventoryReport, LinkAnswer,
                             LinkReport)

__all__ = ["HostInfo", "HostRegistry"]

_HELD = ("claimed", "allocated")
_BEAT = (update(HostRow.__table__).where(HostRow.__table__.c.name == bindparam("host"))
         .values(last_heartbeat=bindparam("now")))  # every compute agent's, every 10 s


@dataclass(frozen=True, slots=True)
class HostInfo:
    """A host as views show it (os-hypervisors, placement)."""

    id: str
    name: str
    enabled: bool
    disabled_reason: str | None
    up: bool
    availability_zone: str
    vcpus: int
    vcpus_used: int
    memory_mb: int
    memory_mb_used: int
    disk_gb: int
    disk_gb_used: int
    pci_total: int
    pci_free: int
    last_heartbeat: datetime | None


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


class HostRegistry:
    """Hosts and inventories in the database (``update_inventory``, heartbeats, enable)."""

    def __init__(self, db: Database, clock: Clock | None = None,
                 service_down_time: float = 60.0) -> None:
        self._db = db
        self._clock = clock or SystemClock()
        self._down_time = service_down_time

    def update_inventory(self, host_name: str, report: InventoryReport) -> InventoryCounts:
        """Upsert the host and its devices; mark vanished devices removed, or removed when
        freed if a server holds them. Counts as a heartbeat."""
        with self._db.transaction() as s:
            host = self._upsert_host(s, host_name, report)
            result = _sync_devices(s, host.id, report.devices)
            touch_hosts(s, (host.id,))
            return result

    def report_links(self, host_name: str, report: LinkReport, request_id: str = "",
                     user_id: str = "") -> LinkAnswer:
        """Mark the devices of each PF without carrier unhealthy (with the reason) and those
        of each PF with carrier healthy again; NotFound for an unregistered host. A change
        bumps the scheduler revision, so the next decision sees it, and each server holding
        a VF whose health changed gets an instance action saying so (``pf-link-down`` with
        an Error event, ``pf-link-up`` with a Success one), in the same transaction."""
        with self._db.transaction() as s:
            host = _host(s, host_name)
            rows = list(s.scalars(select(PciDeviceRow).where(
                PciDeviceRow.host_id == host.id, PciDeviceRow.status != "removed")))
            reasons = {str(pf.address): None if pf.carrier else
                       f"PF {pf.address} ({pf.netdev}) has no carrier (link down)"
                       for pf in report.pfs}
            changed: list[PciDeviceRow] = []
            for row in rows:
                if row.pool_pf in reasons and row.unhealthy_reason != reasons[row.pool_pf]:
                    row.unhealthy_reason = reasons[row.pool_pf]
                    changed.append(row)
            if changed:
                host.generation += 1
                s.flush()
                touch_hosts(s, (host.id,))
                self._record_health(s, host_name, report, changed,
                                    request_id or f"req-{uuid.uuid4()}", user_id)
            return LinkAnswer(sum(r.unhealthy_reason is not None for r in rows), len(changed))

    def _record_health(self, s: Session, host_name: str, report: LinkReport,
                       changed: list[PciDeviceRow], request_id: str, user_id: str) -> None:
        """One instance action per (server, direction) for the held devices that changed."""
        netdevs = {str(pf.address): pf.netdev for pf in report.pfs}
        held: dict[tuple[str, bool], list[PciDeviceRow]] = {}
        for row in changed:
            if row.status in _HELD and row.owner:
                held.setdefault((row.owner, row.unhealthy_reason is None), []).append(row)
        live = set(s.scalars(select(ServerRow.id).where(
            ServerRow.id.in_({server for server, _ in held}))))
        now = self._clock.now()
        for (server, healthy), devices in sorted(held.items()):
            if server not in live:
                continue
            vfs = ", ".join(sorted(d.address for d in devices))
            pfs = ", ".join(sorted({f"{d.pool_pf} ({netdevs.get(d.pool_pf, '?')})"
                                    for d in devices}))
            details = (f"PF {pfs} has carrier again: VF {vfs} of this server is healthy; "
                       "its port goes ACTIVE when the SR-IOV agent reports it up"
                       if healthy else
                       f"PF {pfs} has no carrier (link down): VF {vfs} of this server is "
                       "unhealthy and its port goes DOWN until the link returns")
            InstanceActionLog().record(
                s, server, "pf-link-up" if healthy else "pf-link-down",
                "sriov_pf_link_up" if healthy else "sriov_pf_link_down",
                EventRecord(request_id, user_id, host_name, now,
                            "Success" if healthy else "Error", details))

    def record_heartbeat(self, host: str, session: Session | None = None) -> None:
        """Note that the host's agent is alive now (in ``session`` when given, else in a
        transaction of its own); NotFound for a host never reported."""
        with self._db.transaction(session) as s:
            if s.execute(_BEAT, {"host": host, "now": self._clock.now()}).rowcount != 1:
                raise NotFound(f"compute host {host!r} is not registered; its agent must "
                               "report an inventory first",
                               kind=ErrorKind.COMPUTE_HOST_NOT_FOUND, field="host", value=host)

    def set_enabled(self, host: str, enabled: bool, reason: str | None = None) -> HostInfo:
        """Enable or disable scheduling onto the host (ComputeFilter honours it)."""
        with self._db.transaction() as s:
            row = _host(s, host)
            row.enabled = enabled
            row.disabled_reason = None if enabled else reason
            row.generation += 1
            s.flush()
            touch_hosts(s, (row.id,))
            return self._info(s, row)

    def get(self, host: str) -> HostInfo:
        """One host; NotFound if unknown."""
        with self._db.transaction() as s:
            return self._info(s, _host(s, host))

    def list(self) -> tuple[HostInfo, ...]:
        """Every host, by name."""
        with self._db.transaction() as s:
            return tuple(self._info(s, r) for r in s.scalars(select(HostRow)
                                                                .order_by(HostRow.name)))

    def _upsert_host(self, s: Session, name: str, report: InventoryReport) -> HostRow:
        res = report.resources
        row = s.scalar(select(HostRow).where(HostRow.name == name).with_for_update())
        if row is None:
            row = HostRow(name=name, generation=0)
            s.add(row)
        row.vcpus, row.memory_mb, row.disk_gb = res.vcpus, res.memory_mb, res.disk_gb
        row.availability_zone = res.availability_zone
        row.capabilities = res.capabilities.to_json()
        row.numa_topology = [c.to_json() for c in res.numa_cells]
        row.last_heartbeat = self._clock.now()
        row.generation = (row.generation or 0) + 1
        s.flush()
        return row

    def _info(self, s: Session, row: HostRow) -> HostInfo:
        d = PciDeviceRow
        counts = dict(s.execute(select(d.status, func.count()).where(
            d.host_id == row.id, d.status != "removed").group_by(d.status)).all())
        beat = _aware(row.last_heartbeat)
        up = (not row.forced_down and beat is not None
              and (self._clock.now() - beat).total_seconds() <= self._down_time)
        return HostInfo(row.id, row.name, row.enabled, row.disabled_reason, up,
                        row.availability_zone, row.vcpus, row.vcpus_used, row.memory_mb,
                        row.memory_mb_used, row.disk_gb, row.disk_gb_used,
                        sum(counts.values()), counts.get("available", 0), beat)


def _host(s: Session, name: str) -> HostRow:
    row = s.scalar(select(HostRow).where(HostRow.name == name))
    if row is None:
        raise NotFound(f"compute host {name!r} not found", kind=ErrorKind.COMPUTE_HOST_NOT_FOUND,
                       field="host", value=name)
    return row


def _sync_devices(s: Session, host_id: str,
                  devices: tuple[InventoryDevice, ...]) -> InventoryCounts:
    existing = {r.address: r for r in s.scalars(select(PciDeviceRow)
                                                .where(PciDeviceRow.host_id == host_id))}
    reported = {str(d.address): d for d in devices}
    added = updated = removed = kept = 0
    new_rows: list[dict[str, object]] = []
    for address, dev in reported.items():
        row = existing.get(address)
        if row is None:
            new_rows.append(_new_row(host_id, dev))
            added += 1
        elif row.owner is not None:
            row.removed_when_freed = False  # back in the whitelist; changes wait for free
            kept += 1
        elif _apply(row, dev):
            updated += 1
    for address, row in existing.items():
        if address in reported or row.status == "removed":
            continue
        if row.owner is not None:  # never drop a held device (nova bug 1633120)
            row.removed_when_freed = True
            kept += 1
        else:
            row.status = "removed"
            removed += 1
    s.flush()
    if new_rows:  # one executemany: a new host brings hundreds of VFs
        s.execute(insert(PciDeviceRow), new_rows)
    _settle_relatives(s, host_id)
    return InventoryCounts(added, updated, removed, kept)


def _fields(dev: InventoryDevice) -> dict[str, object]:
    d = dev.device
    return {"vendor_id": d.vendor_id, "product_id": d.product_id, "dev_type": d.dev_type.value,
            "parent_addr": str(d.parent_addr) if d.parent_addr else None,
            "pool_pf": str(dev.pool_pf), "numa_node": d.numa_node, "physnet": dev.physnet,
            "tags": dict(dev.tags)}


def _new_row(host_id: str, dev: InventoryDevice) -> dict[str, object]:
    return {"id": str(uuid.uuid4()), "host_id": host_id, "address": str(dev.address),
            "status": "available", "generation": 0, "removed_when_freed": False,
            "unhealthy_reason": None, "owner": None, "request_id": None, **_fields(dev)}


def _apply(row: PciDeviceRow, dev: InventoryDevice) -> bool:
    changed = row.status == "removed"
    for name, value in _fields(dev).items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    if row.status == "removed":
        row.status = "available"
    return changed


def _settle_relatives(s: Session, host_id: str) -> None:
    """Re-apply §2.4 after an inventory change: a PF with a held VF is unclaimable, VFs of a
    held PF are unclaimable, and nothing stays unclaimable without a reason."""
    d = PciDeviceRow
    if not s.scalar(select(func.count()).where(
            d.host_id == host_id, d.status.in_((*_HELD, "unclaimable")))):
        return  # nothing held, nothing unclaimable: every device stays as it is
    rows = list(s.scalars(select(PciDeviceRow).where(PciDeviceRow.host_id == host_id,
                                                     PciDeviceRow.status != "removed")))
    held_pfs = {r.pool_pf for r in rows if r.status in _HELD}
    for r in rows:
        if r.status not in ("available", "unclaimable"):
            continue
        relative_held = r.pool_pf in held_pfs and any(
            o.pool_pf == r.pool_pf and o.status in _HELD and o.dev_type != r.dev_type
            for o in rows)
        r.status = "unclaimable" if relative_held else "available"
    s.flush()
