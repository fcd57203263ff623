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


# ``port_wirings``'s query, built once (every desired state runs it) on the Core tables (it
# loads no ORM rows).
_P, _N = PortRow.__table__, NetworkRow.__table__
_I, _S = IpAllocationRow.__table__, SubnetRow.__table__
_WIRINGS = (select(_P.c.id, _P.c.mac_address, _P.c.vnic_type, _P.c.admin_state_up,
                   _P.c.propagate_uplink_status, _N.c.network_type, _N.c.physnet,
                   _N.c.segmentation_id, _I.c.ip_address, _S.c.cidr)
            .select_from(_P.join(_N, _N.c.id == _P.c.network_id)
                         .outerjoin(_I, _I.c.port_id == _P.c.id)
                         .outerjoin(_S, _S.c.id == _I.c.subnet_id))
            .where(_P.c.id.in_(bindparam("ports", expanding=True)))
            .order_by(_P.c.id, _I.c.position))


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
