"""Pure IPAM: subnet CIDR, gateway and allocation-pool rules, overlap checks, address picking."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sriovstack.errors import Conflict, ErrorKind, Invalid
from sriovstack.network.types import HostRoute, IpRange

__all__ = ["SubnetPlan", "plan_subnet", "replan_subnet", "check_overlap", "check_address",
           "check_dns", "check_routes", "walk_after", "in_pools", "MAX_DNS_NAMESERVERS",
           "MAX_HOST_ROUTES"]

MAX_DNS_NAMESERVERS = 5  # neutron's max_dns_nameservers default
MAX_HOST_ROUTES = 20  # neutron's max_subnet_host_routes default

IpNet = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddr = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class SubnetPlan:
    """A checked subnet layout: normalised CIDR, gateway (or None) and pools."""

    cidr: str
    ip_version: int
    gateway_ip: str | None
    allocation_pools: tuple[IpRange, ...]


def _bad(field: str, value: object, message: str, fix: str) -> Invalid:
    return Invalid(f"Invalid input for {field}. Reason: {message}.", fix=fix, field=field,
                   value=value, kind=ErrorKind.INVALID_INPUT)


def _network(cidr: str, ip_version: int) -> IpNet:
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError as exc:
        raise _bad("cidr", cidr, f"'{cidr}' is not a valid IP subnet ({exc})",
                   "write the network address and prefix, e.g. 10.0.0.0/24") from exc
    if net.version != ip_version:
        raise _bad("ip_version", ip_version, f"cidr {cidr} is not an IPv{ip_version} subnet",
                   f"set ip_version to {net.version} or give an IPv{ip_version} cidr")
    return net


def _address(field: str, text: str, net: IpNet) -> IpAddr:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError as exc:
        raise _bad(field, text, f"'{text}' is not a valid IP address",
                   "write a dotted IPv4 or an IPv6 address") from exc
    if addr not in net:
        raise _bad(field, text, f"{text} is not in subnet {net}",
                   f"choose an address inside {net}")
    return addr


def _host_range(net: IpNet) -> tuple[IpAddr, IpAddr]:
    """The usable hosts: IPv4 drops network and broadcast except on /31 and /32."""
    if net.version == 4 and net.prefixlen < 31:
        return net.network_address + 1, net.broadcast_address - 1
    if net.version == 6 and net.prefixlen < 127:
        return net.network_address + 1, net.broadcast_address
    return net.network_address, net.broadcast_address


def _default_pools(net: IpNet, gateway: IpAddr | None) -> tuple[IpRange, ...]:
    first, last = _host_range(net)
    pools: list[tuple[IpAddr, IpAddr]] = [(first, last)]
    if gateway is not None and first <= gateway <= last:
        pools = [(first, gateway - 1), (gateway + 1, last)]
    return tuple(IpRange(str(a), str(b)) for a, b in pools if a <= b)


def _checked_pools(pools: Iterable[IpRange], net: IpNet,
                   gateway: IpAddr | None) -> tuple[IpRange, ...]:
    spans: list[tuple[IpAddr, IpAddr]] = []
    first, last = _host_range(net)
    for pool in pools:
        start = _address("allocation_pools", pool.start, net)
        end = _address("allocation_pools", pool.end, net)
        if start < first or end > last:  # the network or broadcast address (neutron)
            raise Invalid(f"The allocation pool {pool.start}-{pool.end} spans beyond the "
                          f"subnet cidr {net}.", kind=ErrorKind.OUT_OF_BOUNDS_ALLOCATION_POOL,
                          field="allocation_pools", value=f"{pool.start}-{pool.end}",
                          fix=f"keep pools within {first}-{last}")
        if end < start:
            raise _bad("allocation_pools", f"{pool.start}-{pool.end}",
                       f"pool end {pool.end} is before its start {pool.start}",
                       "write the lower address as start")
        if gateway is not None and start <= gateway <= end:
            raise Conflict(f"Gateway ip {gateway} conflicts with allocation pool "
                           f"{pool.start}-{pool.end}.",
                           kind=ErrorKind.GATEWAY_CONFLICT_WITH_ALLOCATION_POOLS,
                           fix="move the gateway out of the pool or split the pool",
                           field="gateway_ip", value=str(gateway))
        spans.append((start, end))
    spans.sort()
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        if b0 <= a1:
            raise _bad("allocation_pools", f"{b0}-{b1}", f"pool {b0}-{b1} overlaps {a0}-{a1}",
                       "make the pools disjoint")
    return tuple(IpRange(str(a), str(b)) for a, b in spans)


def plan_subnet(cidr: str, ip_version: int, gateway_ip: str | None, gateway_given: bool,
                pools: tuple[IpRange, ...] | None) -> SubnetPlan:
    """Check a subnet request; default gateway = first host, pools = the rest of the hosts.

    ``gateway_given`` False means "pick the default"; True with None means "no gateway".
    Raises Invalid (400) naming the field; Conflict when the gateway sits in a given pool.
    """
    if ip_version not in (4, 6):
        raise _bad("ip_version", ip_version, f"{ip_version} is not 4 or 6", "use 4 or 6")
    net = _network(cidr, ip_version)
    gateway: IpAddr | None
    if gateway_given:
        gateway = None if gateway_ip is None else _gateway(gateway_ip, net)
    else:
        gateway = _host_range(net)[0] if net.num_addresses > 2 else None
    plan_pools = _default_pools(net, gateway) if pools is None \
        else _checked_pools(pools, net, gateway)
    return SubnetPlan(str(net), ip_version, None if gateway is None else str(gateway),
                      plan_pools)


def _gateway(text: str, net: IpNet) -> IpAddr:
    gateway = _address("gateway_ip", text, net)
    if net.version == 4 and net.prefixlen < 31 and gateway in (net.network_address,
                                                                net.broadcast_address):
        raise Invalid("Invalid input for operation: Gateway is not valid on subnet.",
                      kind=ErrorKind.INVALID_INPUT, field="gateway_ip", value=text,
                      fix="the network and broadcast addresses cannot be the gateway")
    return gateway


def replan_subnet(current: SubnetPlan, gateway_ip: str | None, gateway_given: bool,
                  pools: tuple[IpRange, ...] | None) -> SubnetPlan:
    """``current`` after a subnet update of its gateway and/or pools, checked as at create:
    the gateway stays out of the pools (409), pools stay inside the hosts (400)."""
    net = _network(current.cidr, current.ip_version)
    gateway: IpAddr | None
    if gateway_given:
        gateway = None if gateway_ip is None else _gateway(gateway_ip, net)
    else:
        gateway = None if current.gateway_ip is None else ipaddress.ip_address(
            current.gateway_ip)
    checked = _checked_pools(current.allocation_pools if pools is None else pools, net,
                             gateway)
    return SubnetPlan(current.cidr, current.ip_version,
                      None if gateway is None else str(gateway), checked)


def check_dns(nameservers: Iterable[str]) -> tuple[str, ...]:
    """The nameservers, each a valid address, no duplicates, at most MAX_DNS_NAMESERVERS."""
    out: list[str] = []
    for ns in nameservers:
        try:
            addr = str(ipaddress.ip_address(ns))
        except ValueError as exc:
            raise _bad("dns_nameservers", ns, f"'{ns}' is not a valid nameserver. '{ns}' is "
                       "not a valid IP address", "write each nameserver as an IP") from exc
        if addr in out:
            raise _bad("dns_nameservers", ns, f"Duplicate nameserver '{ns}'",
                       "list each nameserver once")
        out.append(addr)
    if len(out) > MAX_DNS_NAMESERVERS:
        raise Invalid(f"Unable to complete operation for the subnet. The number of DNS "
                      f"nameservers exceeds the limit {MAX_DNS_NAMESERVERS}.",
                      kind=ErrorKind.DNS_NAMESERVERS_EXHAUSTED, field="dns_nameservers",
                      value=len(out))
    return tuple(out)


def _route(route: HostRoute, ip_version: int) -> HostRoute:
    try:
        dest = ipaddress.ip_network(route.destination, strict=True)
        hop = ipaddress.ip_address(route.nexthop)
    except ValueError as exc:
        raise _bad("host_routes", f"{route.destination} via {route.nexthop}",
                   f"{route.destination} via {route.nexthop} is not a valid route "
                   f"({exc})", "destination is a CIDR, nexthop an IP address") from exc
    if dest.version != ip_version or hop.version != ip_version:
        raise _bad("host_routes", route.destination, f"route {route.destination} via "
                   f"{route.nexthop} is not IPv{ip_version}", "match the subnet's version")
    return HostRoute(str(dest), str(hop))


def check_routes(routes: Iterable[HostRoute], ip_version: int) -> tuple[HostRoute, ...]:
    """The host routes, each valid for ``ip_version``, no duplicates, at most
    MAX_HOST_ROUTES."""
    out: list[HostRoute] = []
    for route in routes:
        checked = _route(route, ip_version)
        if checked in out:
            raise _bad("host_routes", route.destination, f"Duplicate hostroute "
                       f"'{route.destination}'", "list each route once")
        out.append(checked)
    if len(out) > MAX_HOST_ROUTES:
        raise Invalid(f"Unable to complete operation for the subnet. The number of host "
                      f"routes exceeds the limit {MAX_HOST_ROUTES}.",
                      kind=ErrorKind.HOST_ROUTES_EXHAUSTED, field="host_routes",
                      value=len(out))
    return tuple(out)


def check_overlap(cidr: str, others: Iterable[tuple[str, str]]) -> None:
    """Raise Invalid when ``cidr`` overlaps a (subnet_id, cidr) of the same network.

    The message says "overlaps with another subnet": tempest retries the next CIDR on it.
    """
    net = ipaddress.ip_network(cidr)
    for subnet_id, other in others:
        other_net = ipaddress.ip_network(other)
        if other_net.version == net.version and net.overlaps(other_net):
            raise Invalid(f"Invalid input for operation: Requested subnet with cidr: {cidr} "
                          f"for network overlaps with another subnet ({subnet_id}, {other}).",
                          kind=ErrorKind.INVALID_INPUT, field="cidr", value=cidr,
                          fix="choose a CIDR that no other subnet of the network covers")


def in_pools(address: str, pools: Iterable[IpRange]) -> bool:
    addr = ipaddress.ip_address(address)
    return any(ipaddress.ip_address(p.start) <= addr <= ipaddress.ip_address(p.end)
               for p in pools)


def check_address(address: str, cidr: str) -> str:
    """The canonical text of ``address``; Invalid (InvalidIpForSubnet) if outside ``cidr``."""
    try:
        addr = ipaddress.ip_address(address)
    except ValueError as exc:
        raise Invalid(f"Invalid input for ip_address. Reason: '{address}' is not a valid IP "
                      "address.", kind=ErrorKind.INVALID_INPUT, field="fixed_ips", value=address,
                      fix="write a dotted IPv4 or an IPv6 address") from exc
    net = ipaddress.ip_network(cidr)
    low, high = _host_range(net)
    if addr not in net or not low <= addr <= high:  # neutron: not the network/broadcast address
        raise Invalid(f"IP address {address} is not a valid IP for the specified subnet.",
                      kind=ErrorKind.INVALID_IP_FOR_SUBNET, field="fixed_ips", value=address,
                      fix=f"choose an address from {low} to {high}")
    return str(addr)


def walk_after(pools: Iterable[IpRange], after: str | None) -> Iterator[str]:
    """Every pool address once (text form), in address order, beginning with the first one
    above ``after`` and going round to the pools' lowest address (next fit); from the lowest
    one when ``after`` is None.  ``after`` need not lie in a pool (the pools may have
    changed since it was given out).

    Next fit rather than neutron's random pick or the lowest free address: reproducible, an
    address freed is given out again only after the rest of the pools (a stale ARP entry
    does not find a new port at once), and the caller reads a few addresses ahead of the
    last one given out instead of every address held.
    """
    ranges = sorted((ipaddress.ip_address(p.start), ipaddress.ip_address(p.end))
                    for p in pools)
    if not ranges:
        return
    make = type(ranges[0][0])
    mark = -1 if after is None else int(ipaddress.ip_address(after))
    for lo, hi in ranges:  # above the mark
        for n in range(max(int(lo), mark + 1), int(hi) + 1):
            yield str(make(n))
    for lo, hi in ranges:  # then round from the lowest address up to the mark
        for n in range(int(lo), min(int(hi), mark) + 1):
            yield str(make(n))
