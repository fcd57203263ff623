"""IPAM rules: default gateway and pools, given pools, overlaps, address checks, picking."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sriovstack.errors import Conflict, Invalid
from sriovstack.network.ipam import (check_address, check_overlap, in_pools, walk_after,
                                     plan_subnet)
from sriovstack.network.types import IpRange


@pytest.mark.parametrize(("cidr", "version", "gateway", "pools"), [
    # neutron: gateway = first host, pool = the rest minus network/broadcast
    ("192.0.2.0/24", 4, "192.0.2.1", (("192.0.2.2", "192.0.2.254"),)),
    ("10.0.0.0/30", 4, "10.0.0.1", (("10.0.0.2", "10.0.0.2"),)),
    ("10.0.0.0/31", 4, None, (("10.0.0.0", "10.0.0.1"),)),  # point-to-point: all hosts
    ("10.0.0.5/32", 4, None, (("10.0.0.5", "10.0.0.5"),)),
    ("2001:db8::/64", 6, "2001:db8::1",
     (("2001:db8::2", "2001:db8::ffff:ffff:ffff:ffff"),)),
])
def test_default_gateway_and_pools(cidr: str, version: int, gateway: str | None,
                                   pools: tuple[tuple[str, str], ...]) -> None:
    plan = plan_subnet(cidr, version, None, False, None)
    assert plan.gateway_ip == gateway
    assert plan.allocation_pools == tuple(IpRange(a, b) for a, b in pools)


def test_gateway_in_the_middle_splits_the_pool() -> None:
    plan = plan_subnet("10.0.0.0/29", 4, "10.0.0.4", True, None)
    assert plan.allocation_pools == (IpRange("10.0.0.1", "10.0.0.3"),
                                     IpRange("10.0.0.5", "10.0.0.6"))


def test_no_gateway_keeps_every_host_in_the_pool() -> None:
    plan = plan_subnet("10.0.0.0/29", 4, None, True, None)
    assert plan.gateway_ip is None
    assert plan.allocation_pools == (IpRange("10.0.0.1", "10.0.0.6"),)


@pytest.mark.parametrize(("cidr", "version", "gateway", "field"), [
    ("10.0.0.0/33", 4, None, "cidr"),
    ("10.0.0.1/24", 4, None, "cidr"),          # host bits set
    ("web", 4, None, "cidr"),
    ("10.0.0.0/24", 6, None, "ip_version"),
    ("10.0.0.0/24", 5, None, "ip_version"),
    ("10.0.0.0/24", 4, "10.0.1.1", "gateway_ip"),
    ("10.0.0.0/24", 4, "nope", "gateway_ip"),
])
def test_bad_subnets_name_the_field(cidr: str, version: int, gateway: str | None,
                                    field: str) -> None:
    with pytest.raises(Invalid) as err:
        plan_subnet(cidr, version, gateway, gateway is not None, None)
    assert err.value.field == field


def test_given_pools_are_checked() -> None:
    plan = plan_subnet("10.0.0.0/24", 4, None, False,
                       (IpRange("10.0.0.100", "10.0.0.110"), IpRange("10.0.0.10", "10.0.0.20")))
    assert plan.allocation_pools[0] == IpRange("10.0.0.10", "10.0.0.20")
    with pytest.raises(Invalid, match="not in subnet"):
        plan_subnet("10.0.0.0/24", 4, None, False, (IpRange("10.0.1.1", "10.0.1.5"),))
    with pytest.raises(Invalid, match="before its start"):
        plan_subnet("10.0.0.0/24", 4, None, False, (IpRange("10.0.0.9", "10.0.0.5"),))
    with pytest.raises(Invalid, match="overlaps"):
        plan_subnet("10.0.0.0/24", 4, None, False,
                    (IpRange("10.0.0.5", "10.0.0.9"), IpRange("10.0.0.9", "10.0.0.12")))
    with pytest.raises(Conflict, match="conflicts with allocation pool"):
        plan_subnet("10.0.0.0/24", 4, None, False, (IpRange("10.0.0.1", "10.0.0.9"),))


def test_overlap_message_is_the_one_tempest_looks_for() -> None:
    check_overlap("10.0.1.0/24", [("a", "10.0.0.0/24"), ("b", "2001:db8::/64")])
    with pytest.raises(Invalid, match="overlaps with another subnet"):
        check_overlap("10.0.0.128/25", [("a", "10.0.0.0/24")])


def test_address_checks() -> None:
    assert check_address("10.0.0.7", "10.0.0.0/24") == "10.0.0.7"
    with pytest.raises(Invalid) as err:
        check_address("10.0.1.7", "10.0.0.0/24")
    assert err.value.kind == "InvalidIpForSubnet"
    with pytest.raises(Invalid):
        check_address("ten", "10.0.0.0/24")


def test_the_walk_goes_on_after_the_last_address_given_out_and_round() -> None:
    pools = (IpRange("10.0.0.10", "10.0.0.10"), IpRange("10.0.0.2", "10.0.0.3"))
    assert list(walk_after(pools, None)) == ["10.0.0.2", "10.0.0.3", "10.0.0.10"]
    assert list(walk_after(pools, "10.0.0.2")) == ["10.0.0.3", "10.0.0.10", "10.0.0.2"]
    assert list(walk_after(pools, "10.0.0.10")) == ["10.0.0.2", "10.0.0.3", "10.0.0.10"]
    # a cursor outside the pools (they changed since): on from the next address above it
    assert list(walk_after(pools, "10.0.0.5")) == ["10.0.0.10", "10.0.0.2", "10.0.0.3"]
    assert list(walk_after((), "10.0.0.5")) == []
    assert in_pools("10.0.0.10", pools) and not in_pools("10.0.0.4", pools)


def test_the_walk_keeps_ipv6_addresses_ipv6_at_the_bottom_of_the_space() -> None:
    pools = (IpRange("::2", "::3"),)
    assert list(walk_after(pools, "::2")) == ["::3", "::2"]


@given(prefix=st.integers(min_value=24, max_value=30), offset=st.integers(0, 255),
       cursor=st.integers(0, 300))
def test_the_walk_visits_every_pool_address_once_and_nothing_else(
        prefix: int, offset: int, cursor: int) -> None:
    net = ipaddress.ip_network(f"10.{offset}.0.0/{prefix}")
    plan = plan_subnet(str(net), 4, None, False, None)
    hosts = [str(a) for p in plan.allocation_pools for a in ipaddress.summarize_address_range(
        ipaddress.ip_address(p.start), ipaddress.ip_address(p.end)) for a in a]
    after = str(net.network_address + cursor)
    walked = list(walk_after(plan.allocation_pools, after))
    assert sorted(walked, key=ipaddress.ip_address) == hosts
    above = [h for h in hosts if ipaddress.ip_address(h) > ipaddress.ip_address(after)]
    assert walked[:len(above)] == above  # next fit: the addresses above the cursor first
    assert plan.gateway_ip not in walked
