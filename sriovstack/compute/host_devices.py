"""The operator's view of SR-IOV hosts: VFs free/used per physnet, and each PF and VF with its
owner server and port and the MAC and VLAN the control plane asks the host to set."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy import and_, select

from sriovstack.compute.desired_state import DesiredStateService
from sriovstack.compute.hosts import HostInfo, HostRegistry
from sriovstack.db import Database
from sriovstack.db.models import HostRow, PciDeviceRow, ServerPortRow, ServerRow
from sriovstack.identity import Caller, policy
from sriovstack.mac import MacAddress
from sriovstack.pci import PciAddress

__all__ = ["PhysnetUsage", "SriovHost", "HostDevice", "VfRecord", "HostDeviceService",
           "CloudView", "VfView"]

_HELD = frozenset({"claimed", "allocated"})


@dataclass(frozen=True, slots=True)
class PhysnetUsage:
    """VFs of one physnet on one host: ``free`` + ``used`` + ``unhealthy`` = ``total`` (removed
    ones left out; ``unhealthy``: not held, but their PF has no carrier, so not offered)."""

    physnet: str
    total: int
    free: int
    used: int
    unhealthy: int = 0


@dataclass(frozen=True, slots=True)
class SriovHost:
    """A compute host with its VF usage per physnet."""

    info: HostInfo
    physnets: tuple[PhysnetUsage, ...]


@dataclass(frozen=True, slots=True)
class HostDevice:
    """One whitelisted PF or VF; owner fields are None while it is free."""

    address: PciAddress
    dev_type: str
    parent_addr: PciAddress | None
    vendor_id: str
    product_id: str
    physnet: str | None
    status: str
    server_id: str | None = None
    server_name: str | None = None
    port_id: str | None = None
    mac: MacAddress | None = None
    vlan: int | None = None
    admin_state_up: bool | None = None
    unhealthy_reason: str | None = None
    propagate_uplink_status: bool = False


@dataclass(frozen=True, slots=True)
class VfRecord:
    """One VF of the cloud with its host, PF and owner (the metrics' census).

    ``used`` is what ``host show`` counts as used: claimed, allocated or unavailable.
    """

    host: str
    address: PciAddress
    pf: PciAddress
    physnet: str | None
    status: str
    server_id: str | None
    port_id: str | None
    project_id: str | None
    unhealthy_reason: str | None = None

    @property
    def used(self) -> bool:
        """Held by a server or otherwise not offered (as ``host show`` counts it)."""
        return _used(self.status)

    @property
    def unhealthy(self) -> bool:
        """Not used, and held back because its PF has no carrier."""
        return not self.used and self.unhealthy_reason is not None


def _used(status: str) -> bool:
    return status in _HELD or status == "unavailable"


@dataclass(frozen=True, slots=True)
class VfView:
    """One VF as the dashboard shows it: where it is, its device view and its project."""

    host: str
    device: HostDevice
    project_id: str | None


@dataclass(frozen=True, slots=True)
class CloudView:
    """What one caller may see: every host and VF (privileged), or its project's VFs."""

    hosts: tuple[SriovHost, ...]
    vfs: tuple[VfView, ...]


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
        servers = self._desired.desired_state(host).servers
        owners = {port.pci_address: (server, port) for server in servers
                  for port in server.ports if port.pci_address is not None}
        # A flavor's pci_passthrough:alias devices: held by the server, no port.
        by_alias = {address: server for server in servers for address in server.hostdevs}
        out = []
        for row in self._rows(host):
            address = PciAddress.parse(row.address)
            device = HostDevice(address, row.dev_type,
                                PciAddress.parse(row.parent_addr) if row.parent_addr else None,
                                row.vendor_id, row.product_id, row.physnet, row.status,
                                unhealthy_reason=row.unhealthy_reason)
            if address in owners:
                server, port = owners[address]
                device = dataclasses.replace(
                    device, server_id=server.server_id, server_name=server.name,
                    port_id=port.port_id, mac=port.mac, vlan=port.vlan,
                    admin_state_up=port.admin_state_up,
                    propagate_uplink_status=port.propagate_uplink_status)
            elif address in by_alias:
                device = dataclasses.replace(device, server_id=by_alias[address].server_id,
                                             server_name=by_alias[address].name)
            out.append(device)
        return tuple(out)

    def view_for(self, caller: Caller) -> CloudView:
        """Every host with its VFs for an admin (or service); for anyone else only the VFs
        held by servers of the caller's project, and no hosts."""
        projects = {(r.host, r.address): r.project_id for r in self.census()}
        everything = policy.is_privileged(caller)
        hosts = self.list_hosts() if everything else ()
        names = [h.info.name for h in hosts] if everything else sorted(
            {host for (host, _), project in projects.items()
             if project is not None and project == caller.project_id})
        vfs = []
        for name in names:
            for device in self.devices(name):
                project = projects.get((name, device.address))
                if device.dev_type != "type-VF":
                    continue
                if everything or (project is not None and project == caller.project_id):
                    vfs.append(VfView(name, device, project))
        return CloudView(hosts, tuple(vfs))

    def census(self) -> tuple[VfRecord, ...]:
        """Every VF of every host (removed ones left out), by host and address, in one
        query: its owner server, port and project when held."""
        d, sp = PciDeviceRow, ServerPortRow
        query = (select(HostRow.name, d.address, d.pool_pf, d.physnet, d.status, d.owner,
                        sp.port_id, ServerRow.project_id, d.unhealthy_reason)
                 .join(HostRow, HostRow.id == d.host_id)
                 .outerjoin(sp, and_(sp.server_id == d.owner, sp.pci_address == d.address))
                 .outerjoin(ServerRow, ServerRow.id == d.owner)
                 .where(d.dev_type == "type-VF", d.status != "removed")
                 .order_by(HostRow.name, d.address))
        with self._db.transaction() as s:
            return tuple(VfRecord(host, PciAddress.parse(address), PciAddress.parse(pf),
                                  physnet, status, owner, port, project, why)
                         for host, address, pf, physnet, status, owner, port, project, why
                         in s.execute(query))

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
            tally = counts.setdefault(row.physnet, [0, 0, 0])  # total, used, unhealthy
            used = _used(row.status)
            tally[0] += 1
            tally[1] += used
            tally[2] += not used and row.unhealthy_reason is not None
        usage = tuple(PhysnetUsage(name, total, total - used - sick, used, sick)
                      for name, (total, used, sick) in sorted(counts.items()))
        return SriovHost(info, usage)
