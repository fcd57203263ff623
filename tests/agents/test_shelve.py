"""shelve / unshelve on the chapter's simulated compute0 (nova with shelved_offload_time 0):
shelve offloads at once (SHELVED_OFFLOADED, no host), the VF freed and reset by the agent,
the port kept by the server without a binding host; unshelve builds it again with a new VF
claim and binding; a shelve whose API worker died after offloading is finished by the sweep."""

from __future__ import annotations

from typing import Any

import pytest

from sriovstack.mac import MacAddress
from tests.agents import cloud
from tests.agents.conftest import Agents

PF = "enp11s0f1"


def _act(api: Any, server_id: str, body: dict[str, Any], status: int = 202,
         version: str = "2.79") -> Any:
    r = api.client.post(f"/compute/v2.1/servers/{server_id}/action", json=body,
                        headers={**api.admin, "OpenStack-API-Version": f"compute {version}"})
    assert r.status_code == status, r.text
    return r


def _vf_status(api: Any, slot: str) -> tuple[str, str | None]:
    r = api.client.get("/compute/v2.1/os-sriov-hosts/compute0", headers=api.admin)
    [vf] = [d for d in r.json()["host"]["devices"] if d["address"] == slot]
    return vf["status"], vf["server_id"]


def _booted(api: Any, agents: Agents, segment: int) -> tuple[Any, dict[str, Any], str, str]:
    agent = agents.compute()
    agent.reconcile_once()
    agent.heartbeat()
    agents.sriov().heartbeat()
    port = cloud.direct_port(api, cloud.network(api, segment))
    server_id = cloud.boot(api, port["id"])
    agent.reconcile_once()
    assert cloud.server(api, server_id)["status"] == "ACTIVE"
    return agent, port, server_id, cloud.port(api, port["id"])["binding:profile"]["pci_slot"]


def test_shelve_releases_the_vf_and_unshelve_claims_one_again(api: Any,
                                                              agents: Agents) -> None:
    agent, port, server_id, slot = _booted(api, agents, 24)
    _act(api, server_id, {"shelve": None})
    shown = cloud.server(api, server_id)
    assert (shown["status"], shown["OS-EXT-STS:task_state"], shown["OS-EXT-STS:vm_state"],
            shown["OS-EXT-SRV-ATTR:host"]) == ("SHELVED_OFFLOADED", None,
                                               "shelved_offloaded", None)
    assert _vf_status(api, slot) == ("available", None)
    kept = cloud.port(api, port["id"])
    assert (kept["binding:host_id"], kept["device_id"], kept["binding:profile"]) == (
        "", server_id, {})
    done = agent.reconcile_once()
    assert done.destroyed == [server_id] and slot in [str(a) for a in done.reset]
    assert cloud.vf_state(agents.host, PF, slot).mac == MacAddress.ZERO
    _act(api, server_id, {"shelve": None}, 409)  # already offloaded
    _act(api, server_id, {"os-start": None}, 409)

    _act(api, server_id, {"unshelve": {"availability_zone": "nova"}}, 400, "2.76")
    _act(api, server_id, {"unshelve": {"availability_zone": "nowhere"}}, 400)
    _act(api, server_id, {"unshelve": {"availability_zone": "nova"}})  # the build ran
    assert cloud.server(api, server_id)["OS-EXT-SRV-ATTR:host"] == "compute0"
    rebound = cloud.port(api, port["id"])
    new_slot = rebound["binding:profile"]["pci_slot"]
    assert (rebound["binding:host_id"], rebound["device_id"]) == ("compute0", server_id)
    assert _vf_status(api, new_slot) == ("claimed", server_id)
    agent.reconcile_once()
    shown = cloud.server(api, server_id)
    assert (shown["status"], shown["OS-EXT-STS:task_state"]) == ("ACTIVE", None)
    state = cloud.vf_state(agents.host, PF, new_slot)
    assert (str(state.mac), state.vlan) == (port["mac_address"], 24)
    assert _vf_status(api, new_slot) == ("allocated", server_id)
    _act(api, server_id, {"unshelve": None}, 409)  # not shelved
    r = api.client.get(f"/compute/v2.1/servers/{server_id}/os-instance-actions",
                       headers=api.admin)
    assert [a["action"] for a in r.json()["instanceActions"]][:2] == ["unshelve", "shelve"]
    assert api.services.compute.audit.check().findings == ()


def test_the_sweep_finishes_a_shelve_whose_worker_died_after_offloading(
        api: Any, agents: Agents, monkeypatch: pytest.MonkeyPatch) -> None:
    agent, port, server_id, slot = _booted(api, agents, 25)
    shelves = api.services.compute.shelves

    def killed(lease: Any) -> None:
        raise RuntimeError("the API worker is killed here")

    monkeypatch.setattr(shelves, "finish_offload", killed)
    _act(api, server_id, {"shelve": None}, 500)  # the edge's 500 guard answers
    shown = cloud.server(api, server_id)
    assert (shown["status"], shown["OS-EXT-STS:task_state"]) == ("SHELVED_OFFLOADED",
                                                                 "shelving_offloading")
    assert _vf_status(api, slot)[0] == "allocated"  # not yet released
    assert api.services.compute.recovery.recover() == ()  # the lease is live
    api.clock.advance(31)
    assert api.services.compute.recovery.recover() == (server_id,)
    shown = cloud.server(api, server_id)
    assert (shown["status"], shown["OS-EXT-STS:task_state"]) == ("SHELVED_OFFLOADED", None)
    assert _vf_status(api, slot) == ("available", None)
    assert cloud.port(api, port["id"])["binding:host_id"] == ""
    agent.reconcile_once()
    assert cloud.vf_state(agents.host, PF, slot).mac == MacAddress.ZERO
    assert api.services.compute.audit.check().findings == ()
