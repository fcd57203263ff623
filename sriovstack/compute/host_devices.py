"""The operator's view of SR-IOV hosts: VFs free/used per physnet, and each PF and VF with its
owner server and port and the MAC and VLAN the control plane asks the host to set."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from sriovstack.compute.desired_state import DesiredStateService
from sriovstack.compute.hosts import HostInfo, HostRegistry
from sriovstack.db import Database
from sriovstack.db.models.hosts import HostRow, PciDeviceRow

__all__ = ["PhysnetUsage", "SriovHost", "HostDevice", "HostDeviceService"]

_HELD = frozenset({"claimed", "allocated"})


@dataclass(frozen=True, slots=True)
class PhysnetUsage:
    """VFs of one physnet on one host: ``free`` + ``used`` = ``total`` (removed ones left out)."""

    physnet: str
    total: int
    free: int
    used: int


@dataclass(frozen=True, slots=True)
class SriovHost:
    """A compute host with its VF usage per physnet."""

    info: HostInfo
    physnets: tuple[PhysnetUsage, ...]


@dataclass(frozen=True, slots=True)
class HostDevice:
    """One whitelisted PF or VF; owner fields are None while it is free."""

    address: str
    dev_type: str
    parent_addr: str | None
    vendor_id: str
    product_id: str
    physnet: str | None
    status: str
    server_id: str | None = None
    server_name: str | None = None
    port_id: str | None = None
    mac: str | None = None
    vlan: int | None = None
    admin_state_up: bool | None = None


class HostDeviceService:
    """Reads hosts, devices and desired state; changes nothing."""

    def __init__(self, db: Database, hosts: HostRegistry, desired: DesiredStateService) -> None:
        self._db = db
        self._hosts = hosts
        self._desired = desired

    def list_hosts(self) -> tuple[SriovHost, ...]:
        """Every compute host, by name, with its per-physnet VF counts."""
        return tuple(self._with_usage(info) for info in self._hosts.list())

    def show_host(self, host: str) -> SriovHost:
        """One host; NotFound (ComputeHostNotFound) when unknown."""
        return self._with_usage(self._hosts.get(host))

    def devices(self, host: str) -> tuple[HostDevice, ...]:
        """The host's devices in address order, each VF with its owner; NotFound if unknown."""
        self._hosts.get(host)
        owners = {}
        for server in self._desired.desired_state(host).servers:
            for port in server.ports:
                if port.pci_address:
                    owners[port.pci_address] = (server, port)
        out = []
        for row in self._rows(host):
            device = HostDevice(row.address, row.dev_type, row.parent_addr, row.vendor_id,
                                row.product_id, row.physnet, row.status)
            if row.address in owners:
                server, port = owners[row.address]
                device = HostDevice(row.address, row.dev_type, row.parent_addr, row.vendor_id,
                                    row.product_id, row.physnet, row.status, server.server_id,
                                    server.name, port.port_id, port.mac or None, port.vlan,
                                    port.admin_state_up)
            out.append(device)
        return tuple(out)

    def _rows(self, host: str) -> list[PciDeviceRow]:
        with self._db.transaction() as s:
            rows = s.scalars(select(PciDeviceRow).join(HostRow, HostRow.id == PciDeviceRow.host_id)
                             .where(HostRow.name == host, PciDeviceRow.status != "removed")
                             .order_by(PciDeviceRow.address)).all()
            s.expunge_all()
            return list(rows)

    def _with_usage(self, info: HostInfo) -> SriovHost:
        counts: dict[str, list[int]] = {}
        for row in self._rows(info.name):
            if row.dev_type != "type-VF" or row.physnet is None:
                continue
            total_used = counts.setdefault(row.physnet, [0, 0])
            total_used[0] += 1
            total_used[1] += row.status in _HELD or row.status == "unavailable"
        usage = tuple(PhysnetUsage(name, total, total - used, used)
                      for name, (total, used) in sorted(counts.items()))
        return SriovHost(info, usage)
