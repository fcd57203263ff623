"""Pools and request fitting: nova's pool keys, PF/VF rules (§2.1, §2.2, §2.4), NUMA table (§2.3)."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from sriovstack.errors import Invalid
from sriovstack.pci.address import PciAddress
from sriovstack.pci.device import DevType, PciDevice
from sriovstack.pci.pools import (Fit, NumaContext, NumaPolicy, PciRequest, Pool, PoolKey,
                                  Shortfall, build_pools, filter_pools, fit_requests)

PF0 = PciAddress.parse("0000:05:00.0")
PF1 = PciAddress.parse("0000:05:00.1")


def vfs(pf: PciAddress, n: int, numa: int | None = 0, product: str = "154c") -> list[PciDevice]:
    return [PciDevice(PciAddress(0, 6 + pf.function, i // 8, i % 8), "8086", product,
                      DevType.VF, pf, numa) for i in range(n)]


def pf(address: PciAddress, numa: int | None = 0) -> PciDevice:
    return PciDevice(address, "8086", "1572", DevType.PF, None, numa)


def host(pf_vfs: int = 4, physnets: tuple[str, str] = ("physnet1", "physnet1")) -> tuple[Pool, ...]:
    devices = [(pf(PF0), physnets[0]), (pf(PF1), physnets[1])]
    devices += [(d, physnets[0]) for d in vfs(PF0, pf_vfs)]
    devices += [(d, physnets[1]) for d in vfs(PF1, pf_vfs)]
    return build_pools(devices)


def test_all_vfs_of_one_pf_share_a_pool_and_each_pf_has_its_own():
    pools = host(4)
    assert len(pools) == 4
    vf_pools = [p for p in pools if p.key.dev_type is DevType.VF]
    assert {p.key.pf_address for p in vf_pools} == {PF0, PF1}
    assert all(p.count == 4 for p in vf_pools)
    assert all(p.count == 1 for p in pools if p.key.dev_type is DevType.PF)


def test_pool_key_splits_on_numa_node_and_physnet():
    devices = [(d, "physnet1") for d in vfs(PF0, 2, numa=0)]
    devices += [(PciDevice(PciAddress(0, 9, 0, 0), "8086", "154c", DevType.VF, PF0, 1), "physnet1"),
                (PciDevice(PciAddress(0, 9, 0, 1), "8086", "154c", DevType.VF, PF0, 0), "physnet2")]
    assert sorted(p.count for p in build_pools(devices)) == [1, 1, 2]


# The PF/VF table of nova's test_stats (2 PFs x 4 VFs) and §2.4's exclusions.
@pytest.mark.parametrize("requests, fits", [
    ([PciRequest(count=2, physnet="physnet1"), PciRequest(dev_type=DevType.PF, physnet="physnet1")], True),
    ([PciRequest(count=5, physnet="physnet1"), PciRequest(dev_type=DevType.PF, physnet="physnet1")], False),
    ([PciRequest(count=8, physnet="physnet1")], True),
    ([PciRequest(count=9, physnet="physnet1")], False),
    ([PciRequest(count=2, dev_type=DevType.PF, physnet="physnet1")], True),
    ([PciRequest(count=3, dev_type=DevType.PF, physnet="physnet1")], False),
    ([PciRequest(dev_type=DevType.PF, physnet="physnet1"), PciRequest(count=5, physnet="physnet1")], False),
    ([PciRequest(dev_type=DevType.PF, physnet="physnet1"), PciRequest(count=4, physnet="physnet1")], True),
    ([PciRequest(physnet="PHYSNET1")], True),  # physnets compare without case
    ([PciRequest(physnet=None)], False),  # a tunnelled network matches only untagged pools
    ([PciRequest(physnet="physnet1", vendor_id="15b3")], False),
    ([PciRequest(physnet="physnet1", vendor_id="8086", product_id="154C")], True),
], ids=["2vf+pf", "5vf+pf", "8vf", "9vf", "2pf", "3pf", "pf-then-5vf", "pf-then-4vf",
        "physnet-case", "no-physnet", "other-vendor", "vendor-product"])
def test_fit_follows_pf_vf_rules(requests, fits):
    result = fit_requests(host(4), requests)
    assert isinstance(result, Fit) is fits


def test_vf_requests_never_take_pfs_with_the_same_product():
    # nova test_stats: PF and VF share product 1515; 9 of it fail because PFs are not requested.
    devices = [(PciDevice(PF0, "8086", "1515", DevType.PF, None, 0), "p")]
    devices += [(d, "p") for d in vfs(PF0, 8, product="1515")]
    assert isinstance(fit_requests(build_pools(devices), [PciRequest(9, physnet="p")]), Shortfall)
    assert isinstance(fit_requests(build_pools(devices), [PciRequest(8, physnet="p")]), Fit)


def test_taking_a_vf_leaves_its_pf_unclaimable_and_prefers_a_busy_pf():
    first = fit_requests(host(4), [PciRequest(physnet="physnet1")])
    assert isinstance(first, Fit)
    used_pf = first.allocations[0].key.pf_address
    left = {p.key: p.count for p in first.remaining}
    assert left[next(k for k in left if k.dev_type is DevType.PF and k.pf_address == used_pf)] == 0
    second = fit_requests(first.remaining, [PciRequest(physnet="physnet1")])
    assert isinstance(second, Fit)
    assert second.allocations[0].key.pf_address == used_pf  # the other PF stays whole


def test_a_pf_claim_empties_its_vf_pool():
    result = fit_requests(host(4), [PciRequest(dev_type=DevType.PF, physnet="physnet1")])
    assert isinstance(result, Fit)
    taken = result.allocations[0].key.pf_address
    assert [p.count for p in result.remaining
            if p.key.dev_type is DevType.VF and p.key.pf_address == taken] == [0]


@pytest.mark.parametrize("physnets, request_, reason", [
    (("physnet2", "physnet2"), PciRequest(physnet="physnet1"), "have VFs only on physnet2"),
    (("physnet2", "physnet3"), PciRequest(physnet="physnet1"), "have VFs only on physnet2, physnet3"),
    (("physnet1", "physnet1"), PciRequest(count=9, physnet="physnet1"),
     "have fewer than 9 free VF on physnet1"),
    (("physnet1", "physnet2"), PciRequest(physnet="physnet1", vendor_id="15b3"),
     "have no free VF 15b3:* on physnet1"),
])
def test_shortfall_reasons_say_why(physnets, request_, reason):
    result = fit_requests(host(4, physnets), [request_])
    assert isinstance(result, Shortfall)
    assert result.reason == reason


def test_no_devices_at_all():
    result = fit_requests((), [PciRequest(physnet="physnet1")])
    assert isinstance(result, Shortfall) and result.reason == "have no free VF on physnet1"


# nova's NUMA table (test_stats): pr0 on node 0, pr1 on node 1, pr_none without a node,
# p2 (vendor v2) on node 1.
def numa_pools() -> tuple[Pool, ...]:
    def key(vendor: str, numa: int | None, fn: int) -> PoolKey:
        return PoolKey(vendor, "0001", DevType.VF, "physnet1", numa, PciAddress(0, 1, 0, fn))
    return (Pool(key("aaaa", 0, 0), 1), Pool(key("aaaa", 1, 1), 1),
            Pool(key("aaaa", None, 2), 1), Pool(key("bbbb", 1, 3), 1))


NAMES = {0: "pr0", 1: "pr1", 2: "pr_none", 3: "p2"}


@pytest.mark.parametrize("policy, cells, count, vendor, expected", [
    (NumaPolicy.REQUIRED, {0}, 1, "aaaa", ["pr0"]),
    (NumaPolicy.REQUIRED, {999}, 1, "aaaa", None),
    (NumaPolicy.REQUIRED, {0}, 1, "cccc", None),
    (NumaPolicy.LEGACY, {0}, 1, "aaaa", ["pr0"]),
    (NumaPolicy.LEGACY, {999}, 1, "aaaa", ["pr_none"]),
    (NumaPolicy.LEGACY, {0}, 1, "bbbb", None),
    (NumaPolicy.PREFERRED, {0}, 1, "aaaa", ["pr0"]),
    (NumaPolicy.PREFERRED, {999}, 1, "aaaa", ["pr_none"]),
    (NumaPolicy.PREFERRED, {0}, 1, "bbbb", ["p2"]),
    (NumaPolicy.PREFERRED, {0}, 2, "aaaa", ["pr0", "pr_none"]),
    (NumaPolicy.PREFERRED, {0}, 3, "aaaa", ["pr0", "pr_none", "pr1"]),
])
def test_numa_policies_follow_novas_table(policy, cells, count, vendor, expected):
    request = PciRequest(count=count, physnet="physnet1", vendor_id=vendor, numa_policy=policy)
    result = fit_requests(numa_pools(), [request], NumaContext(frozenset(cells)))
    if expected is None:
        assert isinstance(result, Shortfall)
    else:
        assert isinstance(result, Fit)
        assert sorted(NAMES[a.key.pf_address.function] for a in result.allocations) == sorted(expected)


def test_socket_policy_without_socket_info_has_no_pools():
    request = PciRequest(physnet="physnet1", vendor_id="aaaa", numa_policy=NumaPolicy.SOCKET)
    assert filter_pools(numa_pools(), request, NumaContext(frozenset({0}))) == ()


def test_socket_policy_allows_other_nodes_of_the_same_socket():
    request = PciRequest(physnet="physnet1", vendor_id="bbbb", numa_policy=NumaPolicy.SOCKET)
    numa = NumaContext(frozenset({0}), {0: 0, 1: 0})
    assert [p.key.vendor_id for p in filter_pools(numa_pools(), request, numa)] == ["bbbb"]
    numa_apart = NumaContext(frozenset({0}), {0: 0, 1: 1})
    assert filter_pools(numa_pools(), request, numa_apart) == ()


def test_no_guest_numa_topology_means_any_node():
    request = PciRequest(count=3, physnet="physnet1", vendor_id="aaaa", numa_policy=NumaPolicy.REQUIRED)
    assert isinstance(fit_requests(numa_pools(), [request], None), Fit)


def test_a_request_for_zero_devices_is_refused():
    with pytest.raises(Invalid, match="count of 1 or more"):
        PciRequest(count=0)


@given(st.lists(st.tuples(st.sampled_from(["vf", "pf"]), st.integers(1, 5)), max_size=6))
def test_fit_never_takes_more_than_free_nor_a_pf_beside_its_vfs(plan):
    pools = host(4)
    requests = [PciRequest(count=n, dev_type=DevType.VF if kind == "vf" else DevType.PF,
                           physnet="physnet1") for kind, n in plan]
    result = fit_requests(pools, requests)
    if isinstance(result, Shortfall):
        return
    free = {p.key: p.count for p in pools}
    taken: dict[PoolKey, int] = {}
    for a in result.allocations:
        taken[a.key] = taken.get(a.key, 0) + a.count
    assert all(taken[k] <= free[k] for k in taken)
    for k in taken:
        assert not any(o.pf_address == k.pf_address and o.dev_type is not k.dev_type
                       for o in taken)
    assert sum(a.count for a in result.allocations) == sum(r.count for r in requests)
