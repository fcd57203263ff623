"""A flavor's PCI side: alias requests, the affinity policy and the guest's NUMA nodes, and
how the scheduler fits them on hosts whose devices sit on different NUMA nodes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sriovstack.compute.flavor_requests import flavor_pci
from sriovstack.compute.scheduler.filters import PciPassthroughFilter, fit_on_host
from sriovstack.errors import Invalid
from sriovstack.pci import DevType, Fit, NumaPolicy, PciAddress, PciDevice, parse_aliases
from sriovstack.pci.pools import build_pools
from tests.compute.scheduler.test_filters import make_host, make_request

ALIASES = parse_aliases([
    ('{"name": "vf", "vendor_id": "8086", "product_id": "10ca", "device_type": "type-VF"}', None),
    ('{"name": "pf", "vendor_id": "8086", "product_id": "10c9", "device_type": "type-PF"}', None),
])


def _pools(vfs_per_node: dict[int, int]):
    """One 82576 PF per NUMA node with that many VFs, tagged physnet1."""
    devices = []
    for node, count in vfs_per_node.items():
        pf = PciAddress(0, 1 + node, 0, 0)
        devices.append((PciDevice(pf, "8086", "10c9", DevType.PF, None, node), "physnet1"))
        devices += [(PciDevice(PciAddress(0, 1 + node, 0x10, i), "8086", "10ca", DevType.VF,
                               pf, node), "physnet1") for i in range(count)]
    return build_pools(devices)


def test_specs_become_requests_policy_and_cells() -> None:
    got = flavor_pci({"pci_passthrough:alias": "vf:2, pf:1", "hw:numa_nodes": "2",
                      "hw:pci_numa_affinity_policy": "required"}, ALIASES)
    assert [(r.dev_type, r.count) for r in got.requests] == [(DevType.VF, 2), (DevType.PF, 1)]
    assert got.numa_policy is NumaPolicy.REQUIRED and got.numa_cells == 2
    assert all(r.numa_policy is NumaPolicy.REQUIRED for r in got.requests)
    assert flavor_pci({"hw:cpu_policy": "dedicated"}, ALIASES).numa_cells == 1
    assert flavor_pci({}, ALIASES) == type(got)()


def test_an_undefined_alias_is_400() -> None:
    with pytest.raises(Invalid, match="PCI alias gpu is not defined"):
        flavor_pci({"pci_passthrough:alias": "gpu:1"}, ALIASES)


def test_alias_vfs_come_from_any_physnet_on_one_node_when_required() -> None:
    host = make_host(pools=_pools({0: 1, 1: 3}))
    wants = flavor_pci({"pci_passthrough:alias": "vf:2", "hw:numa_nodes": "1",
                        "hw:pci_numa_affinity_policy": "required"}, ALIASES)
    request = make_request(pci_requests=wants.requests, guest_numa_cells=1)
    fit = fit_on_host(host, request)
    assert isinstance(fit, Fit) and {a.key.numa_node for a in fit.allocations} == {1}
    assert PciPassthroughFilter().check(host, request) is None
    short = make_host(pools=_pools({0: 1, 1: 1}))
    reason = PciPassthroughFilter().check(short, request)
    assert reason is not None and "NUMA node" in reason
    spread = flavor_pci({"pci_passthrough:alias": "vf:2", "hw:numa_nodes": "1",
                         "hw:pci_numa_affinity_policy": "preferred"}, ALIASES)
    assert PciPassthroughFilter().check(short, replace(request, pci_requests=spread.requests)) \
        is None


def test_two_guest_nodes_may_use_both_host_nodes_and_three_do_not_fit() -> None:
    host = make_host(pools=_pools({0: 1, 1: 1}))
    wants = flavor_pci({"pci_passthrough:alias": "vf:2", "hw:numa_nodes": "2",
                        "hw:pci_numa_affinity_policy": "required"}, ALIASES)
    request = make_request(pci_requests=wants.requests, guest_numa_cells=2)
    assert PciPassthroughFilter().check(host, request) is None
    three = replace(request, guest_numa_cells=3)
    assert "fewer than 3 NUMA nodes" in (PciPassthroughFilter().check(host, three) or "")


def test_a_pf_alias_takes_a_whole_port_only_while_none_of_its_vfs_is_held() -> None:
    host = make_host(pools=_pools({0: 2}))
    wants = flavor_pci({"pci_passthrough:alias": "pf:1"}, ALIASES)
    fit = fit_on_host(host, make_request(pci_requests=wants.requests))
    assert isinstance(fit, Fit) and fit.allocations[0].key.dev_type is DevType.PF
    assert all(p.count == 0 for p in fit.remaining)  # its VFs went with it
