"""What a host must wire for ports, read inside the caller's transaction: each port's MAC,
vnic type, admin state and uplink status propagation, its network's segment, and its first fixed IP with the subnet's
prefix.  Compute builds a host's desired state from this in one transaction (one query here
however many ports the host has)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from ipaddress import ip_interface, ip_network

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from sriovstack.db.models import IpAllocationRow, NetworkRow, PortRow, SubnetRow
from sriovstack.mac import MacAddress
from sriovstack.network.types import NetworkType, Segment
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


# ``port_wirings``'s query, built once (every desired state runs it).
_WIRINGS = (select(PortRow.id, PortRow.mac_address, PortRow.vnic_type, PortRow.admin_state_up,
                   PortRow.propagate_uplink_status, NetworkRow.network_type,
                   NetworkRow.physnet, NetworkRow.segmentation_id, IpAllocationRow.ip_address,
                   SubnetRow.cidr)
            .join(NetworkRow, NetworkRow.id == PortRow.network_id)
            .outerjoin(IpAllocationRow, IpAllocationRow.port_id == PortRow.id)
            .outerjoin(SubnetRow, SubnetRow.id == IpAllocationRow.subnet_id)
            .where(PortRow.id.in_(bindparam("ports", expanding=True)))
            .order_by(PortRow.id, IpAllocationRow.position))


def port_wirings(session: Session, port_ids: Collection[str]) -> dict[str, PortWiring]:
    """The wiring of each port in ``port_ids`` that exists (a deleted one is left out), read
    in one query: a port's rows come in the order of its fixed IPs, the first one is kept."""
    if not port_ids:
        return {}
    rows = session.execute(_WIRINGS, {"ports": sorted(set(port_ids))})
    found: dict[str, PortWiring] = {}
    for row in rows:
        if row.id in found:
            continue  # a later fixed IP of a port already wired
        first_ip = (ip_interface(f"{row.ip_address}/{ip_network(row.cidr).prefixlen}")
                    if row.ip_address is not None else None)
        found[row.id] = PortWiring(
            row.id, MacAddress(row.mac_address), VnicType(row.vnic_type), row.admin_state_up,
            Segment(NetworkType(row.network_type), row.physnet, row.segmentation_id),
            first_ip, row.propagate_uplink_status)
    return found
