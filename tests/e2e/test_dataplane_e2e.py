"""Real packets through the whole cloud: an all-in-one with the netns data plane, driven over its
API, reached with the `sriovstack guest ping` command (UDP echo from inside an emulated guest).

The topology is the chapter's with an X710 (i40e: VF link-state control, which the chapter's
82576 lacks) on each compute node, so admin_state_up can act on traffic (20.6).  Checked: VF
guests on one VLAN network on different hosts reach each other, another VLAN cannot (20.1
isolation), admin_state_up false cuts and true restores, spoof check drops a changed MAC, a
normal port and a direct port on one network reach each other (20.1), a deleted server's guest
is gone and reaches nothing, and stopping the cloud leaves no namespace, link or rule behind.
Skipped cleanly when not root.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sriovstack.allinone import live_vfs
from sriovstack.cli.allinone import clouds_of
from sriovstack.cli.cloud.session import CloudSession
from sriovstack.dataplane.netns import list_ns
from sriovstack.mac import MacAddress
from tests.dataplane.dataplane_world import root_reason
from tests.e2e.netns_cloud import SRIOVSTACK, Cloud, Server, start_cloud, until

pytestmark = pytest.mark.e2e


def _root_links() -> str:
    return subprocess.run(["ip", "-br", "link", "show"], check=True, capture_output=True,
                          text=True).stdout


def _ruleset() -> str:
    return subprocess.run(["nft", "list", "ruleset"], check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture
def pair(cloud: Cloud) -> Iterator[tuple[Server, Server]]:
    """Two VF servers on VLAN 15, on different compute hosts (RAM spreads them)."""
    with cloud.booted(("a", 15), ("b", 15)) as (a, b):
        assert a.host != b.host
        yield a, b


def test_two_servers_on_one_vlan_on_different_hosts_exchange_udp(
        cloud: Cloud, pair: tuple[Server, Server]) -> None:
    a, b = pair
    assert until(lambda: cloud.ping(a, b) and cloud.ping(b, a))


def test_servers_on_another_vlan_network_cannot_reach_them(
        cloud: Cloud, pair: tuple[Server, Server]) -> None:
    a, b = pair
    c = cloud.boot("c", 16)
    d = cloud.boot("d", 16)
    try:
        assert until(lambda: cloud.ping(c, d))  # VLAN 16 itself works
        assert until(lambda: cloud.ping(a, b))
        for src, dst in ((c, a), (c, b), (a, c), (b, d)):
            assert not cloud.ping(src, dst), f"{src.ip} reached {dst.ip} across VLANs"
    finally:
        cloud.delete(c)
        cloud.delete(d)


def test_admin_state_up_false_cuts_traffic_and_true_restores_it(
        cloud: Cloud, pair: tuple[Server, Server]) -> None:
    a, b = pair
    assert until(lambda: cloud.ping(a, b))
    cloud.admin_state(b, False)
    # The SR-IOV agent's pass sets `state disable` on the X710 VF (20.6).
    assert until(lambda: cloud.port_status(b) == "DOWN")
    assert until(lambda: not cloud.ping(a, b, count=1))
    assert not cloud.ping(b, a)
    cloud.admin_state(b, True)
    assert until(lambda: cloud.port_status(b) == "ACTIVE")
    assert until(lambda: cloud.ping(a, b) and cloud.ping(b, a))


def test_a_guest_that_changes_its_mac_is_dropped_by_spoof_check(
        cloud: Cloud, pair: tuple[Server, Server]) -> None:
    a, b = pair
    assert until(lambda: cloud.ping(a, b))
    subprocess.run([str(SRIOVSTACK), "guest", "exec", "--prefix", cloud.prefix, a.id, "--",
                    "ip", "link", "set", "dev", "eth0", "address", "fa:16:3e:66:66:66"],
                   check=True)
    assert not cloud.ping(a, b)


def test_a_normal_port_and_a_direct_port_on_one_network_reach_each_other(
        cloud: Cloud, pair: tuple[Server, Server]) -> None:
    a, _ = pair
    n = cloud.boot("n", 15, vnic_type="normal")
    try:
        assert until(lambda: cloud.ping(n, a) and cloud.ping(a, n))
    finally:
        cloud.delete(n)


def test_after_delete_nothing_of_the_old_guest_reaches_the_network(cloud: Cloud) -> None:
    a = cloud.boot("a", 15)
    b = cloud.boot("b", 15)
    try:
        assert until(lambda: cloud.ping(a, b))
        slot = cloud.s.call("GET", "network", f"/v2.0/ports/{b.port_id}")["port"][
            "binding:profile"]["pci_slot"]
        cloud.delete(b)
        root = cloud.aio.options.state_dir / "hosts" / b.host
        assert until(lambda: live_vfs(root)[slot].state.mac == MacAddress.ZERO)
        gone = subprocess.run([str(SRIOVSTACK), "guest", "exec", "--prefix", cloud.prefix,
                               b.id, "--", "true"], capture_output=True, text=True)
        assert gone.returncode != 0 and "no emulated guest" in gone.stdout + gone.stderr
        assert not cloud.ping(a, b)
    finally:
        cloud.delete(a)


def test_stopping_the_cloud_leaves_nothing_behind(tmp_path: Path) -> None:
    reason = root_reason()
    if reason:
        pytest.skip(reason)
    links, rules = _root_links(), _ruleset()
    aio = start_cloud(tmp_path / "aio")
    assert aio.dataplane is not None
    prefix = aio.dataplane.prefix
    try:
        with CloudSession(clouds_of(aio)[0]) as s:
            net = s.call("POST", "network", "/v2.0/networks", {"network": {
                "name": "web", "provider:network_type": "vlan",
                "provider:physical_network": "physnet1",
                "provider:segmentation_id": 15}})["network"]
            s.call("POST", "network", "/v2.0/subnets", {"subnet": {
                "network_id": net["id"], "cidr": "10.0.0.0/24", "ip_version": 4}})
            Cloud(aio, s, prefix, {15: net["id"]}).boot("left-running", 15)
            assert any(ns.startswith(f"{prefix}g-") for ns in list_ns())
    finally:
        aio.stop()
    assert [ns for ns in list_ns() if ns.startswith(prefix)] == []
    assert _root_links() == links
    assert _ruleset() == rules
