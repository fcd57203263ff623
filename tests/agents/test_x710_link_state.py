"""VF admin state as link state on a NIC that has it: an X710 (i40e) host whose VFs, 8086:154c,
the deployment adds to the chapter's [ml2_sriov] supported_pci_vendor_devs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sriovstack.api.settings import ApiSettings
from sriovstack.conf.loader import load_config
from sriovstack.db import Database
from sriovstack.host.netlink import LinkState
from tests.agents import cloud
from tests.agents.conftest import Agents
from tests.agents.test_sriov_agent import boot
from tests.api.compute.chapter import CHAPTER_FILES
from tests.conftest import BASE_URL


@pytest.fixture
def settings(database: Database, tmp_path: Path) -> ApiSettings:
    """The chapter's files, and one more that also allows the X710's VFs (later files win)."""
    extra = tmp_path / "ml2_conf_sriov_x710.ini"
    extra.write_text("[ml2_sriov]\nsupported_pci_vendor_devs = 15b3:1004,8086:10ca,8086:154c\n")
    return ApiSettings(base_url=BASE_URL, database_url=database.url,
                       deployment=load_config((*CHAPTER_FILES, extra)))


def test_admin_state_is_vf_link_state_on_an_x710(api: Any, x710_agents: Agents) -> None:
    p, _, slot = boot(api, x710_agents)
    nic = x710_agents.sriov()
    done = nic.reconcile_once()
    assert {str(a): s for a, s in done.link_states.items()} == {slot: LinkState.ENABLE}
    assert cloud.port(api, p["id"])["status"] == "ACTIVE"

    cloud.set_admin_state(api, p["id"], False)
    done = nic.reconcile_once()
    assert cloud.vf_state(x710_agents.host, "ens1f0", slot).link_state is LinkState.DISABLE
    assert [str(a) for _, a in done.down] == [slot]
    assert cloud.port(api, p["id"])["status"] == "DOWN"

    cloud.set_admin_state(api, p["id"], True)
    nic.reconcile_once()
    assert cloud.vf_state(x710_agents.host, "ens1f0", slot).link_state is LinkState.ENABLE
    assert cloud.port(api, p["id"])["status"] == "ACTIVE"




def propagating_port(api: Any) -> dict[str, Any]:
    """A direct port created with propagate_uplink_status true (its view says so)."""
    r = api.client.post("/network/v2.0/ports", headers=api.admin, json={"port": {
        "network_id": cloud.network(api), "binding:vnic_type": "direct",
        "propagate_uplink_status": True}})
    assert r.status_code == 201, r.text
    port: dict[str, Any] = r.json()["port"]
    assert port["propagate_uplink_status"] is True
    return port


def test_propagate_uplink_status_sets_link_state_auto_and_disable_still_wins(
        api: Any, x710_agents: Agents) -> None:
    x710_agents.compute().reconcile_once()
    nic = x710_agents.sriov()
    nic.heartbeat()
    p = propagating_port(api)
    cloud.boot(api, p["id"])
    x710_agents.compute().reconcile_once()
    slot = cloud.port(api, p["id"])["binding:profile"]["pci_slot"]
    done = nic.reconcile_once()
    assert {str(a): s for a, s in done.link_states.items()} == {slot: LinkState.AUTO}
    assert cloud.vf_state(x710_agents.host, "ens1f0", slot).link_state is LinkState.AUTO
    shown = cloud.port(api, p["id"])
    assert shown["status"] == "ACTIVE"
    assert shown["binding:vif_details"]["uplink_status_propagation"] == "following"

    # Admin down: disable wins over auto (neutron bug 2078789); up again: auto again.
    cloud.set_admin_state(api, p["id"], False)
    nic.reconcile_once()
    assert cloud.vf_state(x710_agents.host, "ens1f0", slot).link_state is LinkState.DISABLE
    assert cloud.port(api, p["id"])["status"] == "DOWN"
    cloud.set_admin_state(api, p["id"], True)
    nic.reconcile_once()
    assert cloud.vf_state(x710_agents.host, "ens1f0", slot).link_state is LinkState.AUTO

    # Turned off on the bound port (uplink-status-propagation-updatable): enable, no note.
    r = api.client.put(f"/network/v2.0/ports/{p['id']}", headers=api.admin,
                       json={"port": {"propagate_uplink_status": False}})
    assert r.status_code == 200 and r.json()["port"]["propagate_uplink_status"] is False
    nic.reconcile_once()
    assert cloud.vf_state(x710_agents.host, "ens1f0", slot).link_state is LinkState.ENABLE
    shown = cloud.port(api, p["id"])
    assert "uplink_status_propagation" not in shown["binding:vif_details"]
    assert shown["status"] == "ACTIVE"
