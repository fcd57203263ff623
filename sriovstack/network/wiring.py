"""What a host must wire for ports, read inside the caller's transaction: each port's MAC,
vnic type, admin state and uplink status propagation, its network's segment, and its first fixed IP with the subnet's
prefix.  Compute builds a host's desired state from this in one transaction (two queries here
however many ports the host has)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from ipaddress import ip_interface, ip_network

from sqlalchemy import select
from sqlalchemy.orm import Session

from sriovstack.db.models import IpAllocationRow, NetworkRow, PortRow, SubnetRow
from sriovstack.mac import MacAddress
from sriovstack.network.networks import segment_of
from sriovstack.network.types import Segment
from sriovstack.wire import IpInterface, VnicType

__all__ = ["PortWiring", "port_wirings"]


@dataclass(frozen=True, slots=True)
class PortWiring:
    """One port as a host plugs it: ``vlan`` is the segment's id, 0 on a flat network."""

    port_id: str
    mac: MacAddress
    vnic_type: VnicType
    admin_state_up: bool
    segment: Segment
    fixed_ip: IpInterface | None
    propagate_uplink_status: bool = False

    @property
    def vlan(self) -> int:
        return self.segment.segmentation_id or 0


def port_wirings(session: Session, port_ids: Collection[str]) -> dict[str, PortWiring]:
    """The wiring of each port in ``port_ids`` that exists (a deleted one is left out)."""
    if not port_ids:
        return {}
    ids = sorted(set(port_ids))
    first_ips = _first_ips(session, ids)
    rows = session.execute(select(PortRow, NetworkRow)
                           .join(NetworkRow, NetworkRow.id == PortRow.network_id)
                           .where(PortRow.id.in_(ids))).all()
    return {port.id: PortWiring(port.id, MacAddress(port.mac_address), VnicType(port.vnic_type),
                                port.admin_state_up, segment_of(network), first_ips.get(port.id),
                                port.propagate_uplink_status)
            for port, network in rows}


def _first_ips(session: Session, ids: list[str]) -> dict[str, IpInterface]:
    """Each port's first fixed IP (lowest position) with its subnet's prefix length."""
    found: dict[str, IpInterface] = {}
    rows = session.execute(
        select(IpAllocationRow.port_id, IpAllocationRow.ip_address, SubnetRow.cidr)
        .join(SubnetRow, SubnetRow.id == IpAllocationRow.subnet_id)
        .where(IpAllocationRow.port_id.in_(ids))
        .order_by(IpAllocationRow.port_id, IpAllocationRow.position))
    for port_id, address, cidr in rows:
        if port_id not in found:
            found[port_id] = ip_interface(f"{address}/{ip_network(cidr).prefixlen}")
    return found
