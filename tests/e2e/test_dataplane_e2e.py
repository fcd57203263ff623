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
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sriovstack.allinone import AllInOne, AllInOneOptions, live_vfs
from sriovstack.allinone.dataplane import DataplaneMode
from sriovstack.cli.allinone import clouds_of
from sriovstack.cli.cloud.servers import wait_for_gone, wait_for_status
from sriovstack.cli.cloud.session import CloudSession
from sriovstack.dataplane.netns import list_ns
from sriovstack.mac import MacAddress
from tests.dataplane.dataplane_world import root_reason

pytestmark = pytest.mark.e2e

SRIOVSTACK = Path(sys.executable).parent / "sriovstack"
_CMDLINE = "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro intel_iommu=on iommu=pt"
_TOPOLOGY = "".join(
    f'[[host]]\nname = "{name}"\nrole = "{role}"\niommu = "none"\nvfio = false\n'
    for name, role in (("controller", "controller"), ("network", "network"))) + "".join(
    f'[[host]]\nname = "compute{i}"\nrole = "compute"\niommu = "intel"\n'
    f'kernel_cmdline = "{_CMDLINE}"\ncpus = 16\nmemory_mb = 65536\n'
    '  [[host.nic]]\n  model = "intel-x710"\n  address = "0000:3b:00.0"\n'
    '  netdevs = ["ens1f0", "ens1f1"]\n  numvfs = 4\n' for i in range(2))


def _root_links() -> str:
    return subprocess.run(["ip", "-br", "link", "show"], check=True, capture_output=True,
                          text=True).stdout


def _ruleset() -> str:
    return subprocess.run(["nft", "list", "ruleset"], check=True, capture_output=True,
                          text=True).stdout


@dataclass
class Cloud:
    """The running cloud, an admin session on it, and its data plane's prefix."""

    aio: AllInOne
    s: CloudSession
    prefix: str
    nets: dict[int, str]  # VLAN -> network id

    def port(self, vlan: int, vnic_type: str = "direct") -> dict[str, Any]:
        port: dict[str, Any] = self.s.call("POST", "network", "/v2.0/ports", {"port": {
            "network_id": self.nets[vlan], "binding:vnic_type": vnic_type}})["port"]
        return port

    def boot(self, name: str, vlan: int, vnic_type: str = "direct") -> Server:
        port = self.port(vlan, vnic_type)
        images = self.s.call("GET", "image", "/v2/images")["images"]
        flavor = next(f for f in self.s.call("GET", "compute", "/flavors")["flavors"]
                      if f["name"] == "m1.tiny")
        made = self.s.call("POST", "compute", "/servers", {"server": {
            "name": name, "flavorRef": flavor["id"], "imageRef": images[0]["id"],
            "networks": [{"port": port["id"]}]}})["server"]
        view = wait_for_status(self.s, made["id"], 60.0)
        assert view["status"] == "ACTIVE", view
        return Server(made["id"], str(view["OS-EXT-SRV-ATTR:host"]), port["id"],
                      port["fixed_ips"][0]["ip_address"])

    def delete(self, server: Server) -> None:
        self.s.call("DELETE", "compute", f"/servers/{server.id}")
        wait_for_gone(self.s, server.id, 60.0)

    def ping(self, src: Server, dst: Server, count: int = 2) -> bool:
        """`sriovstack guest ping` from ``src`` to ``dst``'s fixed IP: any echo came back."""
        done = subprocess.run([str(SRIOVSTACK), "guest", "ping", "--prefix", self.prefix,
                               "--count", str(count), "--timeout", "0.5", src.id, dst.ip],
                              capture_output=True, text=True, check=False)
        assert done.returncode in (0, 1), done.stdout + done.stderr
        return done.returncode == 0

    def admin_state(self, server: Server, up: bool) -> None:
        self.s.call("PUT", "network", f"/v2.0/ports/{server.port_id}",
                    {"port": {"admin_state_up": up}})

    def port_status(self, server: Server) -> str:
        return str(self.s.call("GET", "network", f"/v2.0/ports/{server.port_id}")["port"][
            "status"])


@dataclass(frozen=True)
class Server:
    id: str
    host: str
    port_id: str
    ip: str


def until(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    """``check()`` until it holds or ``timeout`` passes (agents poll: nothing is instant)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.3)
    return True


def _start(state: Path) -> AllInOne:
    topology = state.parent / f"{state.name}-topology.toml"
    topology.write_text(_TOPOLOGY, encoding="utf-8")
    aio = AllInOne(AllInOneOptions(state_dir=state, port=0, topology=topology,
                                   dataplane=DataplaneMode.NETNS))
    aio.start()
    return aio


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    reason = root_reason()
    if reason:
        pytest.skip(reason)
    aio = _start(tmp_path_factory.mktemp("dataplane") / "aio")
    assert aio.dataplane is not None
    prefix = aio.dataplane.prefix
    try:
        with CloudSession(clouds_of(aio)[0]) as s:
            nets = {}
            for vlan in (15, 16):
                net = s.call("POST", "network", "/v2.0/networks", {"network": {
                    "name": f"vlan{vlan}", "provider:network_type": "vlan",
                    "provider:physical_network": "physnet1",
                    "provider:segmentation_id": vlan}})["network"]
                s.call("POST", "network", "/v2.0/subnets", {"subnet": {
                    "network_id": net["id"], "cidr": f"10.{vlan}.0.0/24", "ip_version": 4}})
                nets[vlan] = net["id"]
            yield Cloud(aio, s, prefix, nets)
    finally:
        aio.stop()
    assert [ns for ns in list_ns() if ns.startswith(prefix)] == []


@pytest.fixture
def pair(cloud: Cloud) -> Iterator[tuple[Server, Server]]:
    """Two VF servers on VLAN 15, on different compute hosts (RAM spreads them)."""
    a = cloud.boot("a", 15)
    b = cloud.boot("b", 15)
    assert a.host != b.host
    yield a, b
    for server in (a, b):
        cloud.delete(server)


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
    aio = _start(tmp_path / "aio")
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
