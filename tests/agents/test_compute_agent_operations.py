"""The compute agent carries out a placed server's power operations on the chapter's simulated
compute0: stop keeps the VF configured and held (not reset), start and a hard reboot destroy
and spawn the guest again with the VF re-plugged and its settings re-applied, a soft reboot
leaves the guest alone; each reported so the API completes the operation."""

from __future__ import annotations

from typing import Any

from sriovstack.host.netlink import VfVlan
from sriovstack.virt import FakeVirtDriver
from tests.agents import cloud
from tests.agents.conftest import Agents


def _act(api: Any, server_id: str, body: dict[str, Any]) -> None:
    r = api.client.post(f"/compute/v2.1/servers/{server_id}/action", json=body,
                        headers=api.admin)
    assert r.status_code == 202, r.text


def test_stop_start_and_reboots_keep_the_vf_and_replug_it(api: Any, agents: Agents) -> None:
    agent = agents.compute()
    agent.reconcile_once()
    agent.heartbeat()
    agents.sriov().heartbeat()
    net = cloud.network(api, 17)
    p = cloud.direct_port(api, net)
    server_id = cloud.boot(api, p["id"])
    slot = cloud.port(api, p["id"])["binding:profile"]["pci_slot"]
    agent.reconcile_once()
    assert cloud.server(api, server_id)["status"] == "ACTIVE"
    virt = FakeVirtDriver(agents.state, agents.host.sysfs)

    _act(api, server_id, {"os-stop": None})
    done = agent.reconcile_once()
    assert done.destroyed == [server_id] and done.reset == []  # the VF stays the server's
    assert cloud.server(api, server_id)["status"] == "SHUTOFF"
    assert virt.list_guests() == ()
    vf = cloud.vf_state(agents.host, "enp11s0f1", slot)
    assert (str(vf.mac), vf.vlan) == (p["mac_address"], 17)
    assert agent.reconcile_once().destroyed == []  # stopped is stable: nothing more to do

    # Someone changes the VF behind our back while the server is off: start re-applies.
    agents.host.netlink.set_vf("enp11s0f1", vf.vf, VfVlan(99))
    _act(api, server_id, {"os-start": None})
    done = agent.reconcile_once()
    assert done.spawned == [server_id]
    assert cloud.vf_state(agents.host, "enp11s0f1", slot).vlan == 17
    assert cloud.server(api, server_id)["status"] == "ACTIVE"

    _act(api, server_id, {"reboot": {"type": "HARD"}})
    done = agent.reconcile_once()
    assert (done.destroyed, done.spawned) == ([server_id], [server_id])
    assert cloud.server(api, server_id)["status"] == "ACTIVE"
    [vf_if] = virt.get_guest(server_id).interfaces
    assert (str(vf_if.pci_address), str(vf_if.mac)) == (slot, p["mac_address"])

    _act(api, server_id, {"reboot": {"type": "SOFT"}})
    done = agent.reconcile_once()
    assert (done.destroyed, done.spawned) == ([], [])  # the guest reboots itself
    assert cloud.server(api, server_id)["status"] == "ACTIVE"

    cloud.delete_server(api, server_id)
    done = agent.reconcile_once()
    assert [str(a) for a in done.reset] == [slot]


def test_an_agent_killed_mid_reboot_finishes_it_when_it_comes_back(api: Any,
                                                                   agents: Agents) -> None:
    agent = agents.compute()
    agent.reconcile_once()
    agent.heartbeat()
    agents.sriov().heartbeat()
    p = cloud.direct_port(api, cloud.network(api, 17))
    server_id = cloud.boot(api, p["id"])
    agent.reconcile_once()
    _act(api, server_id, {"reboot": {"type": "HARD"}})
    # The agent destroyed the guest and died before spawning it again (kill -9 between the
    # two steps): the guest is gone, the server still HARD_REBOOT, the VF still claimed.
    FakeVirtDriver(agents.state, agents.host.sysfs).destroy(server_id)
    assert cloud.server(api, server_id)["status"] == "HARD_REBOOT"
    done = agents.compute().reconcile_once()  # a new agent process, the same state dir
    assert done.spawned == [server_id] and done.reset == []
    assert cloud.server(api, server_id)["status"] == "ACTIVE"
    slot = cloud.port(api, p["id"])["binding:profile"]["pci_slot"]
    assert str(cloud.vf_state(agents.host, "enp11s0f1", slot).mac) == p["mac_address"]
