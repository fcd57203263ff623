"""The SR-IOV NIC agent against the in-process API: its heartbeat (NIC Switch agent with
device_mappings), the port going ACTIVE once the VF carries its MAC, admin state applied as
VF link state where the NIC has it (X710/i40e) and not where it does not (82576/igb),
exclude_devices, and the resync after a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sriovstack.host.netlink import LinkState
from tests.agents import cloud
from tests.agents.conftest import Agents


def boot(api: Any, agents: Agents, admin_state_up: bool = True) -> tuple[dict[str, Any], str,
                                                                         str]:
    """Both agents registered, a server booted and wired by the compute agent."""
    agents.compute().reconcile_once()
    agents.sriov().heartbeat()
    p = cloud.direct_port(api, cloud.network(api), admin_state_up)
    server_id = cloud.boot(api, p["id"])
    agents.compute().reconcile_once()
    slot = cloud.port(api, p["id"])["binding:profile"]["pci_slot"]
    return p, server_id, slot


def test_heartbeat_reports_the_nic_switch_agent_with_its_device_mappings(
        api: Any, agents: Agents) -> None:
    agents.sriov().heartbeat()
    r = api.client.get("/network/v2.0/agents", headers=api.admin)
    [agent] = [a for a in r.json()["agents"] if a["host"] == "compute0"]
    assert agent["agent_type"] == "NIC Switch agent"
    assert agent["binary"] == "neutron-sriov-nic-agent" and agent["alive"] is True
    assert agent["configurations"]["device_mappings"] == {"physnet1": ["enp11s0f1"]}


def test_the_port_goes_active_after_the_nic_agent_pass(api: Any, agents: Agents) -> None:
    p, _, slot = boot(api, agents)
    assert cloud.port(api, p["id"])["status"] == "DOWN"
    done = agents.sriov().reconcile_once()
    assert [(str(m), str(a)) for m, a in done.up] == [(p["mac_address"], slot)]
    assert cloud.port(api, p["id"])["status"] == "ACTIVE"
    # igb has no VF link-state control: nothing was set, the VF follows the PF.
    assert done.link_states == {}
    assert cloud.vf_state(agents.host, "enp11s0f1", slot).link_state is LinkState.AUTO


def test_admin_down_on_igb_reports_the_port_down_without_link_control(
        api: Any, agents: Agents) -> None:
    p, _, slot = boot(api, agents, admin_state_up=False)
    done = agents.sriov().reconcile_once()
    assert [str(a) for _, a in done.down] == [slot] and done.up == []
    assert cloud.port(api, p["id"])["status"] == "DOWN"


def test_propagate_uplink_status_on_igb_says_unsupported_and_the_port_still_goes_active(
        api: Any, agents: Agents, caplog: Any) -> None:
    agents.compute().reconcile_once()
    nic = agents.sriov()
    nic.heartbeat()
    r = api.client.post("/network/v2.0/ports", headers=api.admin, json={"port": {
        "network_id": cloud.network(api), "binding:vnic_type": "direct",
        "propagate_uplink_status": True}})
    assert r.status_code == 201, r.text
    p = r.json()["port"]
    cloud.boot(api, p["id"])
    agents.compute().reconcile_once()
    slot = cloud.port(api, p["id"])["binding:profile"]["pci_slot"]
    done = nic.reconcile_once()
    # igb has no ndo_set_vf_link_state: EOPNOTSUPP, the VF keeps what igb reports (auto).
    assert done.link_states == {}
    assert {str(a): u.value for a, u in done.uplinks.items()} == {slot: "unsupported"}
    assert "cannot propagate the uplink status" in caplog.text
    shown = cloud.port(api, p["id"])
    assert shown["status"] == "ACTIVE" and shown["propagate_uplink_status"] is True
    assert shown["binding:vif_details"]["uplink_status_propagation"] == "unsupported"
    assert shown["binding:vif_details"]["vlan"] == "15"  # the binding's own details kept
    assert nic.reconcile_once().up == []  # nothing new to say
    # A restarted agent learns it again (the resync re-reports every device).
    assert agents.sriov().reconcile_once().uplinks != {}


def test_an_excluded_vf_is_left_alone(api: Any, agents: Agents, tmp_path: Path) -> None:
    p, _, slot = boot(api, agents)
    ini = tmp_path / "sriov_agent.ini"
    ini.write_text(f"[sriov_nic]\nphysical_device_mappings = physnet1:enp11s0f1\n"
                   f"exclude_devices = enp11s0f1:{slot}\n")
    agents.sriov_ini = ini
    done = agents.sriov().reconcile_once()
    assert done.up == [] and done.down == []
    assert cloud.port(api, p["id"])["status"] == "DOWN"


def test_a_restarted_agent_re_reports_every_device(api: Any, agents: Agents) -> None:
    p, _, slot = boot(api, agents)
    first = agents.sriov()
    first.reconcile_once()
    assert first.reconcile_once().up == []  # nothing changed: nothing re-sent
    restarted = agents.sriov()  # same state dir
    assert [str(a) for _, a in restarted.reconcile_once().up] == [slot]
    assert cloud.port(api, p["id"])["status"] == "ACTIVE"


def test_a_vf_released_while_the_agent_was_down_is_reported_down(api: Any,
                                                                 agents: Agents) -> None:
    p, server_id, slot = boot(api, agents)
    agents.sriov().reconcile_once()
    # The NIC agent is down; the server is deleted and its VF reset by the compute agent.
    cloud.delete_server(api, server_id)
    assert [str(a) for a in agents.compute().reconcile_once().reset] == [slot]
    done = agents.sriov().reconcile_once()
    assert [(str(m), str(a)) for m, a in done.down] == [(p["mac_address"], slot)]
    assert cloud.port(api, p["id"])["status"] == "DOWN"
    assert agents.sriov().reconcile_once().down == []  # reported once, then forgotten
