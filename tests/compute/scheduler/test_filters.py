"""The chapter's eight filters (20.4) on in-memory host states, weighers and NoValidHost text."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from sriovstack.clock import FakeClock
from sriovstack.compute.scheduler import (CHAPTER_FILTERS, BuildRequest, HostCapabilities,
                                          HostState, ImageProperties, PciRequest,
                                          SchedulerConfig, SupportedInstance)
from sriovstack.compute.scheduler.filters import (AvailabilityZoneFilter, ComputeCapabilitiesFilter,
                                                  ComputeFilter, CoreFilter, ImagePropertiesFilter,
                                                  PciPassthroughFilter, RamFilter, RetryFilter,
                                                  build_filters, match_extra_spec)
from sriovstack.compute.scheduler.scheduler import filter_hosts
from sriovstack.compute.scheduler.weighers import best_host, build_weighers, order_hosts
from sriovstack.errors import ConfigError
from sriovstack.pci.address import PciAddress
from sriovstack.pci.device import DevType, PciDevice
from sriovstack.pci.pools import build_pools

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
CAPS = HostCapabilities("QEMU", 6002000, (SupportedInstance("x86_64", "qemu", "hvm"),),
                        (("cpu_info:arch", "x86_64"), ("cpu_info:features", "sse avx vmx"),
                         ("sriov", "true")))


def pools_on(physnet: str, vfs: int = 4):
    pf = PciAddress.parse("0000:05:00.0")
    devices = [(PciDevice(pf, "8086", "1572", DevType.PF, None, 0), physnet)]
    devices += [(PciDevice(PciAddress(0, 6, 0, i), "8086", "154c", DevType.VF, pf, 0), physnet)
                for i in range(vfs)]
    return build_pools(devices)


def make_host(name: str = "compute-0", **changes) -> HostState:
    base = HostState(id=name, name=name, enabled=True, availability_zone="nova", vcpus=8,
                     vcpus_used=0, memory_mb=8192, memory_mb_used=0, disk_gb=100,
                     disk_gb_used=0, capabilities=CAPS, pools=pools_on("physnet1"),
                     heartbeat_at=NOW.timestamp() - 5, generation=1)
    return replace(base, **changes)


def make_request(**changes) -> BuildRequest:
    base = BuildRequest(server_id="s1", project_id="p1", vcpus=1, memory_mb=512, disk_gb=1,
                        pci_requests=(PciRequest(physnet="physnet1", port_id="port-1"),))
    return replace(base, **changes)


@pytest.mark.parametrize("flt, host, request_, reason", [
    (RetryFilter(), make_host(), make_request(retry_hosts=frozenset({"compute-0"})),
     "were already tried for this server"),
    (RetryFilter(), make_host(), make_request(retry_hosts=frozenset({"compute-9"})), None),
    (AvailabilityZoneFilter(), make_host(), make_request(availability_zone="az2"),
     "are not in availability zone az2"),
    (AvailabilityZoneFilter(), make_host(availability_zone="az2"),
     make_request(availability_zone="az2"), None),
    (AvailabilityZoneFilter(), make_host(availability_zone="az2"), make_request(), None),
    # RamFilter: 8192 MB x 1.5 = 12288; 12000 used leaves 288
    (RamFilter(1.5), make_host(memory_mb_used=12000), make_request(memory_mb=512),
     "have less than 512 MB of RAM free (ram_allocation_ratio 1.5)"),
    (RamFilter(1.5), make_host(memory_mb_used=11776), make_request(memory_mb=512), None),
    (RamFilter(1.0), make_host(memory_mb_used=7800), make_request(memory_mb=512),
     "have less than 512 MB of RAM free (ram_allocation_ratio 1)"),
    # CoreFilter: 8 x 16 = 128 vCPUs
    (CoreFilter(16.0), make_host(vcpus_used=127), make_request(vcpus=1), None),
    (CoreFilter(16.0), make_host(vcpus_used=127), make_request(vcpus=2),
     "have fewer than 2 vCPUs free (cpu_allocation_ratio 16)"),
    (CoreFilter(1.0), make_host(vcpus_used=8), make_request(vcpus=1),
     "have fewer than 1 vCPUs free (cpu_allocation_ratio 1)"),
    (ComputeFilter(FakeClock(NOW), 60), make_host(enabled=False), make_request(), "are disabled"),
    (ComputeFilter(FakeClock(NOW), 60), make_host(heartbeat_at=NOW.timestamp() - 61),
     make_request(), "are down (no heartbeat in 60 s)"),
    (ComputeFilter(FakeClock(NOW), 60), make_host(heartbeat_at=None), make_request(),
     "are down (no heartbeat in 60 s)"),
    (ComputeFilter(FakeClock(NOW), 60), make_host(), make_request(), None),
    (ComputeCapabilitiesFilter(), make_host(),
     make_request(extra_specs=(("capabilities:cpu_info:arch", "x86_64"),)), None),
    (ComputeCapabilitiesFilter(), make_host(),
     make_request(extra_specs=(("capabilities:cpu_info:arch", "aarch64"),)),
     "do not satisfy extra spec capabilities:cpu_info:arch='aarch64'"),
    (ComputeCapabilitiesFilter(), make_host(),
     make_request(extra_specs=(("hw:cpu_policy", "dedicated"),)), None),  # other scope
    (ComputeCapabilitiesFilter(), make_host(),
     make_request(extra_specs=(("sriov", "true"),)), None),  # unscoped
    (ComputeCapabilitiesFilter(), make_host(),
     make_request(extra_specs=(("capabilities:vcpus", ">= 16"),)),
     "do not satisfy extra spec capabilities:vcpus='>= 16'"),
    (ImagePropertiesFilter(), make_host(), make_request(), None),
    (ImagePropertiesFilter(), make_host(),
     make_request(image_properties=ImageProperties(architecture="x86_64", hypervisor_type="QEMU")),
     None),
    (ImagePropertiesFilter(), make_host(),
     make_request(image_properties=ImageProperties(architecture="aarch64")),
     "cannot run images of aarch64"),
    (ImagePropertiesFilter(), make_host(capabilities=HostCapabilities()),
     make_request(image_properties=ImageProperties(architecture="x86_64")),
     "report no supported instance types"),
    (ImagePropertiesFilter(), make_host(),
     make_request(image_properties=ImageProperties(hypervisor_version_requires=">=6.1")), None),
    (ImagePropertiesFilter(), make_host(),
     make_request(image_properties=ImageProperties(hypervisor_version_requires=">=7.0")),
     "have a hypervisor version outside >=7.0"),
    (PciPassthroughFilter(), make_host(), make_request(), None),
    (PciPassthroughFilter(), make_host(pools=()), make_request(pci_requests=()), None),
    (PciPassthroughFilter(), make_host(pools=pools_on("physnet2")), make_request(),
     "have VFs only on physnet2"),
    (PciPassthroughFilter(), make_host(),
     make_request(pci_requests=(PciRequest(count=5, physnet="physnet1"),)),
     "have fewer than 5 free VF on physnet1"),
], ids=lambda v: "" if not isinstance(v, str) else v[:30])
def test_each_filter_passes_or_says_why(flt, host, request_, reason):
    assert flt.check(host, request_) == reason


@pytest.mark.parametrize(*test_each_filter_passes_or_says_why.pytestmark[0].args,
                         **test_each_filter_passes_or_says_why.pytestmark[0].kwargs)
def test_prepared_filters_agree_with_check(flt, host, request_, reason):
    check = flt.prepare(request_)
    assert (None if check is None else check(host)) == reason


@pytest.mark.parametrize("skip", [frozenset(), frozenset({"big"}), frozenset({"big", "small"}),
                                  frozenset({"big", "small", "plain", "idle"})])
def test_best_host_is_the_first_of_the_order(skip):
    hosts = [make_host("plain", pools=()), make_host("small", pools=pools_on("physnet1", 2)),
             make_host("big", pools=pools_on("physnet1", 8)),
             make_host("idle", memory_mb=65536, pools=pools_on("physnet1", 2))]
    weighers = build_weighers(SchedulerConfig())
    for request_ in (make_request(), make_request(pci_requests=())):
        ordered = [h for h in order_hosts(hosts, request_, weighers) if h.name not in skip]
        best = best_host(hosts, request_, weighers, skip)
        assert best == (ordered[0] if ordered else None)


@pytest.mark.parametrize("value, wanted, ok", [
    ("4", "= 4", True), ("8", "= 4", True), ("2", "= 4", False),
    ("4", "== 4", True), ("4.0", "== 4", True), ("4", "!= 4", False),
    ("abc", "s== abc", True), ("abc", "s!= abc", False), ("abc", "s< abd", True),
    ("sse avx", "<in> avx", True), ("sse avx", "<all-in> sse avx", True),
    ("sse", "<all-in> sse avx", False), ("kvm", "<or> xen <or> kvm", True),
    ("qemu", "<or> xen <or> kvm", False), ("x86_64", "x86_64", True), (None, "= 1", False),
    ("abc", "= 4", False),
])
def test_extra_spec_operators_follow_nova(value, wanted, ok):
    assert match_extra_spec(value, wanted) is ok


def test_glance_property_names_are_read():
    props = ImageProperties.from_glance([("hw_architecture", "x86_64"), ("img_hv_type", "kvm"),
                                         ("vm_mode", "hvm")])
    assert props == ImageProperties("x86_64", "kvm", "hvm", None)


@pytest.mark.parametrize("names", [
    CHAPTER_FILTERS,
    ("nova.scheduler.filters.ram_filter.RamFilter",
     "nova.scheduler.filters.pci_passthrough_filter.PciPassthroughFilter"),
])
def test_filter_names_bare_or_dotted(names):
    built = build_filters(SchedulerConfig(enabled_filters=names), FakeClock(NOW))
    assert [f.name for f in built] == [n.rsplit(".", 1)[-1] for n in names]


@pytest.mark.parametrize("name, hint", [
    ("PciPassthroughFiltr", "did you mean PciPassthroughFilter?"),
    ("NUMATopologyFilter", "known filters: RetryFilter"),
])
def test_unknown_filter_stops_the_service_with_a_clear_error(name, hint):
    config = SchedulerConfig(enabled_filters=("RamFilter", name),
                             filters_origin="nova.conf: [DEFAULT] scheduler_default_filters")
    with pytest.raises(ConfigError) as err:
        build_filters(config, FakeClock(NOW))
    text = str(err.value)
    assert "nova.conf: [DEFAULT] scheduler_default_filters" in text
    assert f"unknown scheduler filter '{name}'" in text and hint in text


def test_no_valid_host_message_names_filter_counts_and_reasons():
    hosts = [make_host(f"c{i}", pools=pools_on("physnet2", 4) if i < 3 else pools_on("physnet1", 0))
             for i in range(15)]
    hosts += [make_host("down", heartbeat_at=None)]
    filters = build_filters(SchedulerConfig(), FakeClock(NOW))
    passed, rejections = filter_hosts(hosts, make_request(), filters)
    assert passed == []
    assert rejections.message() == (
        "No valid host among 16 hosts. ComputeFilter: 1 host is down (no heartbeat in 60 s). "
        "PciPassthroughFilter: 12 hosts have no free VF on physnet1; "
        "3 hosts have VFs only on physnet2")


def test_weighers_prefer_free_pci_for_pci_requests_and_avoid_pci_hosts_otherwise():
    plain = make_host("plain", pools=())
    small = make_host("small", pools=pools_on("physnet1", 2))
    big = make_host("big", pools=pools_on("physnet1", 8))
    weighers = build_weighers(SchedulerConfig(ram_weight_multiplier=0.0))
    assert [h.name for h in order_hosts([plain, small, big], make_request(), weighers)] == \
        ["big", "small", "plain"]
    no_pci = make_request(pci_requests=())
    assert [h.name for h in order_hosts([big, small, plain], no_pci, weighers)][0] == "plain"


def test_ram_weigher_spreads_by_free_ram():
    busy = make_host("busy", memory_mb_used=6000)
    idle = make_host("idle")
    weighers = build_weighers(SchedulerConfig(pci_weight_multiplier=0.0))
    assert [h.name for h in order_hosts([busy, idle], make_request(), weighers)] == ["idle", "busy"]


@pytest.mark.parametrize("physnet, count, dev_type", [
    ("physnet1", 1, DevType.VF), ("PHYSNET1", 4, DevType.VF), ("physnet1", 5, DevType.VF),
    ("physnet2", 1, DevType.VF), ("physnet1", 1, DevType.PF), ("physnet1", 2, DevType.PF),
    (None, 1, DevType.VF),
])
def test_index_totals_agree_with_fitting_the_pools(physnet, count, dev_type):
    from sriovstack.compute.scheduler.host_state import pci_totals

    slow = make_host()
    fast = replace(slow, pci_totals=pci_totals(slow.pools))
    request = make_request(pci_requests=(PciRequest(count=count, dev_type=dev_type,
                                                    physnet=physnet),))
    assert (PciPassthroughFilter().check(fast, request) is None) == \
        (PciPassthroughFilter().check(slow, request) is None)
