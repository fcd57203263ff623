"""The compute agent driving the netns virt driver: the VF guest gets the port's fixed IP, a
normal (Open vSwitch) port is plugged onto its network's segment and reaches the VF guest
(20.1), and a deleted server's guest is gone and its VF back at the baseline.

The packet tests need root (skipped otherwise) and leave no namespace of their prefix behind.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from sriovstack.agents import (ComputeAgent, ComputeAgentSettings, VirtKind, load_whitelist,
                               open_virt)
from sriovstack.agents.vfconfig import is_baseline
from sriovstack.allinone.machines import open_simulated
from sriovstack.conf.parsers import DeviceMapping
from sriovstack.dataplane import (HostDataplane, cleanup_dataplane, disable_dataplane,
                                  enable_dataplane, list_ns, ns_exists)
from sriovstack.errors import NotSupported
from sriovstack.host import open_real_host
from sriovstack.virt import NetnsVirtDriver
from sriovstack.virt.netns import ping_from_guest
from tests.agents import cloud
from tests.agents.conftest import Agents
from tests.dataplane.dataplane_world import root_reason


def test_the_netns_driver_refuses_a_real_host(tmp_path: Path) -> None:
    with pytest.raises(NotSupported, match="simulated host"):
        open_virt(VirtKind.NETNS, open_real_host("/"), tmp_path)


@pytest.fixture
def netns_agents(agents: Agents) -> Iterator[_NetnsAgents]:
    """compute0 with its netns data plane on (physnet1 on enp11s0f1), under a fresh prefix."""
    reason = root_reason()
    if reason:
        pytest.skip(reason)
    prefix = f"a{uuid.uuid4().hex[:4]}-"
    host, plane = open_simulated(agents.host.root)
    enable_dataplane(plane, (DeviceMapping("physnet1", "enp11s0f1"),), prefix=prefix)
    netns = _NetnsAgents(agents.client, host, agents.state, prefix=prefix, plane=plane)
    try:
        yield netns
    finally:
        driver = netns.driver()
        for guest in driver.list_guests():
            driver.destroy(guest.server_id)
        disable_dataplane(plane)
        left = [ns for ns in list_ns() if ns.startswith(prefix)]
        cleanup_dataplane(prefix)
        assert left == []


class _NetnsAgents(Agents):
    """The agents of the conftest, the compute agent with the netns virt driver."""

    def __init__(self, *args: Any, prefix: str, plane: HostDataplane) -> None:
        super().__init__(*args)
        self.prefix = prefix
        self.plane = plane

    def driver(self) -> NetnsVirtDriver:
        return NetnsVirtDriver(self.host, self.plane, self.state, prefix=self.prefix)

    def compute(self, netlink: Any = None) -> ComputeAgent:
        settings = ComputeAgentSettings(self.name, (str(self.nova_conf),), self.state,
                                        disk_gb=100)
        return ComputeAgent(settings, self.client, self.host,
                            open_virt(VirtKind.NETNS, self.host, self.state, prefix=self.prefix,
                                      plane=self.plane),
                            load_whitelist([self.nova_conf], self.host.sysfs))


def _normal_port(api: Any, net_id: str) -> dict[str, Any]:
    r = api.client.post("/network/v2.0/ports", headers=api.admin, json={"port": {
        "network_id": net_id, "name": "ovs"}})
    assert r.status_code == 201, r.text
    port: dict[str, Any] = r.json()["port"]
    return port


def _ip(port: dict[str, Any]) -> str:
    return str(port["fixed_ips"][0]["ip_address"])


def test_vf_and_normal_port_guests_reach_each_other_and_delete_leaves_nothing(
        api: Any, netns_agents: _NetnsAgents) -> None:
    agents = netns_agents
    agents.compute().reconcile_once()
    agents.sriov().heartbeat()
    net_id = cloud.network(api)
    direct = cloud.direct_port(api, net_id)
    normal = _normal_port(api, net_id)
    vf_server = cloud.boot(api, direct["id"], "vf-guest")
    ovs_server = cloud.boot(api, normal["id"], "ovs-guest")
    done = agents.compute().reconcile_once()
    assert sorted(done.spawned) == sorted([vf_server, ovs_server]) and not done.failed

    driver = agents.driver()
    vf_ns, ovs_ns = driver.guest_netns(vf_server), driver.guest_netns(ovs_server)
    shown = subprocess.run(["ip", "-n", vf_ns, "-br", "addr", "show", "eth0"], check=True,
                           capture_output=True, text=True).stdout
    assert f"{_ip(direct)}/24" in shown
    assert driver.plugged_ports(ovs_server) == (normal["id"],)
    prefix = agents.prefix
    assert ping_from_guest(ovs_server, IPv4Address(_ip(direct)), prefix=prefix).received == 3
    assert ping_from_guest(vf_server, IPv4Address(_ip(normal)), prefix=prefix).received == 3

    slot = cloud.port(api, direct["id"])["binding:profile"]["pci_slot"]
    cloud.delete_server(api, vf_server)
    cloud.delete_server(api, ovs_server)
    done = agents.compute().reconcile_once()
    assert sorted(done.destroyed) == sorted([vf_server, ovs_server])
    assert not ns_exists(vf_ns) and not ns_exists(ovs_ns)
    assert is_baseline(cloud.vf_state(agents.host, "enp11s0f1", slot))
