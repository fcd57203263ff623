"""Interface hot-plug (os-interface) on the chapter's simulated compute0 (7 VFs on enp11s0f1):
a direct port attached to a running server claims a VF on its host, is bound there and is
hot-plugged by the compute agent with its MAC and VLAN; detach unplugs it, resets the VF and
frees it; no VF free -> 400 and nothing half-done; an attach or detach whose API worker died
half-way is rolled back by the sweep once its lease expires."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from sriovstack.compute.interface_claims import claim_port_vf
from sriovstack.db.models import ServerPortRow
from sriovstack.mac import MacAddress
from sriovstack.network import BindingProfile
from sriovstack.virt import FakeVirtDriver
from sriovstack.wire import ServerStatus
from tests.agents import cloud
from tests.agents.conftest import Agents

PF = "enp11s0f1"
V249 = {"OpenStack-API-Version": "compute 2.49"}
V270 = {"OpenStack-API-Version": "compute 2.70"}


def _attach(api: Any, server_id: str, body: dict[str, Any], status: int = 200,
            headers: dict[str, str] | None = None) -> dict[str, Any]:
    r = api.client.post(f"/compute/v2.1/servers/{server_id}/os-interface",
                        json={"interfaceAttachment": body},
                        headers={**api.admin, **(headers or {})})
    assert r.status_code == status, r.text
    out: dict[str, Any] = r.json()
    return out


def _detach(api: Any, server_id: str, port_id: str, status: int = 202) -> None:
    r = api.client.delete(f"/compute/v2.1/servers/{server_id}/os-interface/{port_id}",
                          headers=api.admin)
    assert r.status_code == status, r.text


def _devices(api: Any) -> dict[str, dict[str, Any]]:
    """compute0's VFs from os-sriov-hosts, by address."""
    r = api.client.get("/compute/v2.1/os-sriov-hosts/compute0", headers=api.admin)
    assert r.status_code == 200, r.text
    return {d["address"]: d for d in r.json()["host"]["devices"] if d["dev_type"] == "type-VF"}


def _running(api: Any, agents: Agents, segment: int) -> tuple[Any, str, str]:
    agent = agents.compute()
    agent.reconcile_once()
    agent.heartbeat()
    agents.sriov().heartbeat()
    net = cloud.network(api, segment)
    first = cloud.direct_port(api, net)
    server_id = cloud.boot(api, first["id"])
    agent.reconcile_once()
    assert cloud.server(api, server_id)["status"] == "ACTIVE"
    return agent, net, server_id


def test_a_direct_port_is_claimed_bound_hotplugged_and_detached(api: Any,
                                                                agents: Agents) -> None:
    agent, net, server_id = _running(api, agents, 17)
    p = cloud.direct_port(api, net)
    body = _attach(api, server_id, {"port_id": p["id"], "tag": "data"}, headers=V270)
    att = body["interfaceAttachment"]
    assert (att["port_id"], att["net_id"], att["mac_addr"], att["tag"]) == (
        p["id"], net, p["mac_address"], "data")
    assert att["fixed_ips"][0]["ip_address"] == p["fixed_ips"][0]["ip_address"]

    bound = cloud.port(api, p["id"])
    slot = bound["binding:profile"]["pci_slot"]
    assert (bound["binding:host_id"], bound["device_id"], bound["binding:vif_type"]) == (
        "compute0", server_id, "hw_veb")
    assert bound["binding:vif_details"]["vlan"] == "17"
    vf = _devices(api)[slot]
    assert (vf["status"], vf["server_id"], vf["port_id"]) == ("claimed", server_id, p["id"])

    done = agent.reconcile_once()
    assert slot in [str(a) for a in done.configured] and done.failed == {}
    guest = FakeVirtDriver(agents.state, agents.host.sysfs).get_guest(server_id)
    assert p["id"] in {i.port_id for i in guest.interfaces}
    state = cloud.vf_state(agents.host, PF, slot)
    assert (str(state.mac), state.vlan) == (p["mac_address"], 17)

    r = api.client.get(f"/compute/v2.1/servers/{server_id}/os-interface", headers=api.admin)
    assert [a["port_id"] for a in r.json()["interfaceAttachments"]][1:] == [p["id"]]
    r = api.client.get(f"/compute/v2.1/servers/{server_id}/os-interface/{p['id']}",
                       headers=api.admin)
    assert r.status_code == 200 and "tag" not in r.json()["interfaceAttachment"]  # < 2.70

    _detach(api, server_id, p["id"])
    after = cloud.port(api, p["id"])
    assert (after["binding:host_id"], after["device_id"]) == ("", "")
    assert _devices(api)[slot]["status"] == "available"
    done = agent.reconcile_once()
    assert slot in [str(a) for a in done.reset]
    guest = FakeVirtDriver(agents.state, agents.host.sysfs).get_guest(server_id)
    assert p["id"] not in {i.port_id for i in guest.interfaces}
    assert cloud.vf_state(agents.host, PF, slot).mac == MacAddress.ZERO
    assert cloud.server(api, server_id)["status"] == "ACTIVE"
    _detach(api, server_id, p["id"], 404)  # no longer attached

    r = api.client.get(f"/compute/v2.1/servers/{server_id}/os-instance-actions",
                       headers=api.admin)
    actions = [a["action"] for a in r.json()["instanceActions"]]
    assert actions[:2] == ["detach_interface", "attach_interface"]


def test_no_free_vf_is_400_and_leaves_nothing_claimed_or_bound(api: Any,
                                                               agents: Agents) -> None:
    _agent, net, server_id = _running(api, agents, 18)
    for _ in range(6):  # the boot holds one of the 7 VFs
        _attach(api, server_id, {"port_id": cloud.direct_port(api, net)["id"]})
    extra = cloud.direct_port(api, net)
    body = _attach(api, server_id, {"port_id": extra["id"]}, 400)
    assert "Failed to claim PCI device" in body["badRequest"]["message"]
    assert "no free VF on physical network physnet1" in body["badRequest"]["message"]
    port = cloud.port(api, extra["id"])
    assert (port["binding:host_id"], port["device_id"]) == ("", "")
    assert all(d["port_id"] != extra["id"] for d in _devices(api).values())
    assert sum(d["status"] == "claimed" for d in _devices(api).values()) == 6
    r = api.client.get(f"/compute/v2.1/servers/{server_id}", headers=api.admin)
    assert r.json()["server"]["status"] == "ACTIVE"


def test_a_network_gets_a_new_normal_port_deleted_again_on_detach(api: Any,
                                                                 agents: Agents) -> None:
    _agent, net, server_id = _running(api, agents, 19)
    att = _attach(api, server_id, {"net_id": net, "fixed_ips": [
        {"ip_address": "10.0.19.77"}]})["interfaceAttachment"]
    assert att["fixed_ips"][0]["ip_address"] == "10.0.19.77"
    port = cloud.port(api, att["port_id"])
    assert (port["binding:vnic_type"], port["binding:host_id"]) == ("normal", "compute0")
    _detach(api, server_id, att["port_id"])
    r = api.client.get(f"/network/v2.0/ports/{att['port_id']}", headers=api.admin)
    assert r.status_code == 404  # compute created it, compute deletes it (as nova)


def test_refusals_answer_as_nova(api: Any, agents: Agents) -> None:
    agent, net, server_id = _running(api, agents, 20)
    p = cloud.direct_port(api, net)
    _attach(api, server_id, {"port_id": p["id"], "net_id": net}, 400)
    _attach(api, server_id, {"port_id": p["id"], "tag": "x"}, 400)  # tag before 2.49
    _attach(api, server_id, {"port_id": p["id"], "tag": "a/b"}, 400, V249)
    _attach(api, server_id, {"port_id": "0" * 8 + "-0000-0000-0000-" + "0" * 12}, 404)
    _attach(api, server_id, {"net_id": "0" * 8 + "-0000-0000-0000-" + "0" * 12}, 404)
    r = api.client.get(f"/compute/v2.1/servers/{server_id}/os-interface", headers=api.admin)
    boot_port = r.json()["interfaceAttachments"][0]["port_id"]
    _attach(api, server_id, {"port_id": boot_port}, 409)  # in use (by this very server)
    assert cloud.port(api, boot_port)["binding:host_id"] == "compute0"  # and left bound
    r = api.client.post(f"/compute/v2.1/servers/{server_id}/os-interface",
                        json={"interfaceAttachment": {"port_id": p["id"]}}, headers=api.demo)
    assert r.status_code == 404  # another project's server is not even seen
    r = api.client.post(f"/compute/v2.1/servers/{server_id}/action", json={"os-stop": None},
                        headers=api.admin)
    assert r.status_code == 202
    body = _attach(api, server_id, {"port_id": p["id"]}, 409)  # task_state powering-off
    assert "powering-off" in body["conflictingRequest"]["message"]
    agent.reconcile_once()  # SHUTOFF: nova attaches to a stopped server too
    _attach(api, server_id, {"port_id": p["id"]})
    assert cloud.port(api, p["id"])["binding:host_id"] == "compute0"


def test_the_sweep_rolls_back_an_attach_whose_worker_died_after_binding(
        api: Any, agents: Agents) -> None:
    agent, net, server_id = _running(api, agents, 21)
    p = cloud.direct_port(api, net)
    service = api.services.compute.interfaces
    # Steps 1-3 of an attach, then the worker "dies" before recording the port.
    lease = service.leases.take(server_id, "attach_interface", (ServerStatus.ACTIVE,))
    assert lease is not None
    with api.services.db.transaction() as s:
        dev = claim_port_vf(s, lease.token, server_id, "compute0", p["id"], "physnet1")
    api.services.network.bind_port(p["id"], "compute0", server_id, "compute:nova",
                                   BindingProfile(pci_slot=dev.address,
                                                  pci_vendor_info=dev.pci_vendor_info,
                                                  physical_network=dev.physnet))
    assert api.services.compute.recovery.recover() == ()  # the lease is still live: nothing to do yet
    _attach(api, server_id, {"port_id": cloud.direct_port(api, net)["id"]}, 409)  # leased
    api.clock.advance(31)
    assert api.services.compute.recovery.recover() == (server_id,)
    assert _devices(api)[str(dev.address)]["status"] == "available"
    assert (cloud.port(api, p["id"])["binding:host_id"], cloud.port(api, p["id"])["device_id"]
            ) == ("", "")
    assert cloud.server(api, server_id)["status"] == "ACTIVE"
    assert api.services.compute.recovery.recover() == ()  # once
    agent.reconcile_once()
    assert cloud.vf_state(agents.host, PF, dev.address).mac == MacAddress.ZERO
    # The server takes interfaces again: the rollback dropped the lease.
    _attach(api, server_id, {"port_id": p["id"]})


def test_the_sweep_finishes_a_detach_whose_worker_died_after_unrecording(
        api: Any, agents: Agents) -> None:
    agent, net, server_id = _running(api, agents, 22)
    p = cloud.direct_port(api, net)
    _attach(api, server_id, {"port_id": p["id"]})
    slot = cloud.port(api, p["id"])["binding:profile"]["pci_slot"]
    agent.reconcile_once()
    service = api.services.compute.interfaces
    lease = service.leases.take(server_id, "detach_interface", (ServerStatus.ACTIVE,))
    assert lease is not None
    with api.services.db.transaction() as s:  # step 2, then the worker dies
        row = s.scalar(select(ServerPortRow).where(ServerPortRow.port_id == p["id"]))
        s.delete(row)
    api.clock.advance(31)
    assert api.services.compute.recovery.recover() == (server_id,)
    assert _devices(api)[slot]["status"] == "available"
    assert cloud.port(api, p["id"])["binding:host_id"] == ""
    done = agent.reconcile_once()
    assert slot in [str(a) for a in done.reset]
    report = api.services.compute.audit.check()
    assert report.findings == ()
