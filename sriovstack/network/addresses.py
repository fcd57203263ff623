"""A port's addresses: MAC generation (fa:16:3e:xx:xx:xx, unique per network) and fixed-IP
allocation from the network's subnets."""

from __future__ import annotations

import ipaddress
import secrets
from itertools import islice

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sriovstack.db.models import IpAllocationRow, PortRow, SubnetRow
from sriovstack.errors import Conflict, ErrorKind, Invalid
from sriovstack.mac import MacAddress
from sriovstack.network import ipam
from sriovstack.network.types import FixedIp, FixedIpRequest, IpRange

__all__ = ["BASE_MAC", "random_mac", "invalid_mac", "choose_mac", "allocate_fixed_ips",
           "release_fixed_ips", "fixed_ips_of"]

BASE_MAC = "fa:16:3e"  # neutron's base_mac prefix


def random_mac() -> MacAddress:
    return MacAddress(BASE_MAC + "".join(f":{b:02x}" for b in secrets.token_bytes(3)))


def invalid_mac(requested: object) -> Invalid:
    """Neutron's 400 for a ``mac_address`` that is not a unicast MAC."""
    return Invalid(f"Invalid input for mac_address. Reason: '{requested}' is not a valid "
                   "unicast MAC address.", kind=ErrorKind.INVALID_INPUT, field="mac_address",
                   value=str(requested), fix="write six hex octets, e.g. fa:16:3e:12:34:56")


def choose_mac(session: Session, network_id: str, requested: MacAddress | None) -> str:
    """The requested MAC (checked: unicast, unused on the network) or a fresh random one, as
    the column stores it.

    Raises Invalid for a multicast or zero MAC and Conflict (MacAddressInUse) when taken.
    """
    def taken(mac: MacAddress) -> bool:
        return session.scalar(select(PortRow.id).where(
            PortRow.network_id == network_id, PortRow.mac_address == str(mac))) is not None
    if requested is None:
        for _attempt in range(16):
            mac = random_mac()
            if not taken(mac):
                return str(mac)
        raise Conflict(f"Unable to generate a unique mac on network {network_id}.",
                       kind=ErrorKind.MAC_ADDRESS_GENERATION_FAILURE, value=network_id)
    mac = requested
    if not mac.is_assignable:
        raise invalid_mac(requested)
    if taken(mac):
        raise Conflict(f"Unable to complete operation for network {network_id}. The mac "
                       f"address {mac} is in use.", kind=ErrorKind.MAC_ADDRESS_IN_USE,
                       field="mac_address", value=str(mac),
                       fix="omit mac_address to get a new one")
    return str(mac)


# How far ahead of a subnet's cursor an allocation looks with one query, and how many such
# looks before it reads every address the subnet holds instead (a crowded stretch).
_LOOK_AHEAD = 64
_LOOKS = 8


def _held(session: Session, subnet_id: str, among: list[str] | None = None) -> set[str]:
    """The addresses of the subnet a port holds, of ``among`` (every one when None)."""
    a = IpAllocationRow
    query = select(a.ip_address).where(a.subnet_id == subnet_id)
    if among is not None:
        query = query.where(a.ip_address.in_(among))
    return set(session.scalars(query))


def _pools(subnet: SubnetRow) -> list[IpRange]:
    return [IpRange(p["start"], p["end"]) for p in subnet.allocation_pools]


def _next_free(session: Session, subnet: SubnetRow,
               taken: frozenset[str] = frozenset()) -> str | None:
    """The first address after the subnet's cursor (the last one given out) that no port
    holds and ``taken`` (chosen for this port already) lacks, going round the pools (next
    fit, ``ipam.walk_after``); the cursor moves to it.  None when the pools are full.

    The caller holds the subnet's row lock.  A subnet holding 50,000 addresses read them all
    on each create (132 ms, bench/bench_ports.py); this reads the next 64 and rarely more.
    """
    walk = ipam.walk_after(_pools(subnet), subnet.ip_cursor)
    for _ in range(_LOOKS):
        ahead = list(islice(walk, _LOOK_AHEAD))
        held = _held(session, subnet.id, ahead) | taken if ahead else set()
        found = next((a for a in ahead if a not in held), None)
        if found is not None or not ahead:
            break
    else:  # a crowded stretch: read every held address once, walk on in Python
        held = _held(session, subnet.id) | taken
        found = next((a for a in walk if a not in held), None)
    if found is not None:
        subnet.ip_cursor = found
    return found


def _exhausted(network_id: str) -> Conflict:
    return Conflict(f"No more IP addresses available on network {network_id}.",
                    kind=ErrorKind.IP_ADDRESS_GENERATION_FAILURE, field="fixed_ips",
                    value=network_id, fix="add a subnet or free addresses")


def _default_ips(session: Session, network_id: str,
                 subnets: list[SubnetRow]) -> list[FixedIp]:
    """One address from the first IPv4 subnet with room and one from the first IPv6 one."""
    chosen: list[FixedIp] = []
    for version in (4, 6):
        candidates = [s for s in subnets if s.ip_version == version]
        for subnet in candidates:
            address = _next_free(session, subnet)
            if address is not None:
                chosen.append(FixedIp(subnet.id, address))
                break
        else:
            if candidates:
                raise _exhausted(network_id)
    return chosen


def _requested_ip(session: Session, network_id: str, subnets: list[SubnetRow],
                  item: FixedIpRequest, taken: set[tuple[str, str]]) -> FixedIp:
    by_id = {s.id: s for s in subnets}
    if item.subnet_id is not None and item.subnet_id not in by_id:
        raise Invalid(f"Invalid input for operation: subnet {item.subnet_id} is not on "
                      f"network {network_id}.", kind=ErrorKind.INVALID_INPUT, field="fixed_ips",
                      value=item.subnet_id, fix="use a subnet of the port's network")
    if item.ip_address is None:
        assert item.subnet_id is not None
        subnet = by_id[item.subnet_id]
        address = _next_free(session, subnet,
                             frozenset(ip for sid, ip in taken if sid == subnet.id))
        if address is None:
            raise _exhausted(network_id)
        return FixedIp(subnet.id, address)
    if item.subnet_id is not None:
        subnet = by_id[item.subnet_id]
    else:
        subnet = _subnet_holding(network_id, subnets, item.ip_address)
    address = ipam.check_address(item.ip_address, subnet.cidr)
    if (subnet.id, address) in taken or _held(session, subnet.id, [address]):
        raise Conflict(f"IP address {address} already allocated in subnet {subnet.id}",
                       kind=ErrorKind.IP_ADDRESS_ALREADY_ALLOCATED, field="fixed_ips",
                       value=address, fix="choose another address or omit ip_address")
    return FixedIp(subnet.id, address)


def _subnet_holding(network_id: str, subnets: list[SubnetRow], address: str) -> SubnetRow:
    try:
        addr = ipaddress.ip_address(address)
    except ValueError:
        addr = None
    for subnet in subnets:
        if addr is not None and addr in ipaddress.ip_network(subnet.cidr):
            return subnet
    raise Invalid(f"IP address {address} is not a valid IP for any of the subnets on the "
                  f"network {network_id}.",
                  kind=ErrorKind.INVALID_IP_FOR_NETWORK, field="fixed_ips",
                  value=address, fix="choose an address inside one of the network's subnets")


def allocate_fixed_ips(session: Session, port_id: str, network_id: str,
                       requested: tuple[FixedIpRequest, ...] | None) -> tuple[FixedIp, ...]:
    """Allocate and record the port's addresses; None = the default choice, () = none.

    The network's subnet rows are locked first (PostgreSQL: SELECT ... FOR UPDATE, by id so
    two transactions lock them in one order), so concurrent allocations on a subnet take
    turns and each sees the addresses its predecessor committed: two creates never pick
    the same address (a unique-key clash is still retried by the caller's ``retry_races``).
    """
    subnets = list(session.scalars(select(SubnetRow).where(SubnetRow.network_id == network_id)
                                   .order_by(SubnetRow.id).with_for_update()
                                   .execution_options(populate_existing=True)))
    subnets.sort(key=lambda s: (s.created_at, s.id))
    if requested is None:
        chosen = _default_ips(session, network_id, subnets)
    else:
        chosen = []
        taken: set[tuple[str, str]] = set()
        for item in requested:
            fixed = _requested_ip(session, network_id, subnets, item, taken)
            taken.add((fixed.subnet_id, fixed.ip_address))
            chosen.append(fixed)
    session.add_all(IpAllocationRow(subnet_id=f.subnet_id, ip_address=f.ip_address,
                                    port_id=port_id, position=i) for i, f in enumerate(chosen))
    session.flush()
    return tuple(chosen)


def release_fixed_ips(session: Session, port_id: str) -> None:
    session.execute(delete(IpAllocationRow).where(IpAllocationRow.port_id == port_id))


def fixed_ips_of(session: Session, port_ids: list[str]) -> dict[str, tuple[FixedIp, ...]]:
    found: dict[str, list[FixedIp]] = {pid: [] for pid in port_ids}
    if port_ids:
        rows = session.scalars(select(IpAllocationRow)
                               .where(IpAllocationRow.port_id.in_(port_ids))
                               .order_by(IpAllocationRow.position))
        for row in rows:
            found[row.port_id].append(FixedIp(row.subnet_id, row.ip_address))
    return {pid: tuple(ips) for pid, ips in found.items()}
