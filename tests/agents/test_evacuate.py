"""evacuate on the chapter's two simulated compute hosts: refused (400) while the server's
host is up; once its agent has missed service_down_time the server is rebuilt on the other
host with a new VF claim and binding, the dead host's claim freed; when the dead host's agent
comes back it destroys the stale guest and resets the old VF (never re-plugging it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sriovstack.agents import ControlPlaneClient
from sriovstack.allinone.machines import open_host
from sriovstack.host import Host
from sriovstack.host.simulated.fixture import build_host
from sriovstack.host.simulated.topology import bundled_topology
from sriovstack.mac import MacAddress
from sriovstack.virt import FakeVirtDriver
from tests.agents import cloud
from tests.agents.conftest import PF1, Agents, enable_vfs

PF = "enp11s0f1"


@pytest.fixture
def compute1(tmp_path: Path) -> Host:
    root = tmp_path / "compute1"
    build_host(bundled_topology().host("compute1"), root)
    host = open_host(root)
    enable_vfs(host, PF1, 7)
    return host


def _evacuate(api: Any, server_id: str, status: int, body: Any = None,
              version: str = "2.79") -> Any:
    r = api.client.post(f"/compute/v2.1/servers/{server_id}/action",
                        json={"evacuate": body if body is not None else {}},
                        headers={**api.admin, "OpenStack-API-Version": f"compute {version}"})
    assert r.status_code == status, r.text
    return r


def _live(pair: Agents) -> Any:
    agent = pair.compute()
    agent.reconcile_once()
    agent.heartbeat()
    pair.sriov().heartbeat()
    return agent


def test_evacuate_rebuilds_elsewhere_and_the_returning_host_resets_the_old_vf(
        api: Any, agents: Agents, client: ControlPlaneClient, compute1: Host,
        tmp_path: Path) -> None:
    by_name = {"compute0": agents, "compute1": Agents(client, compute1,
                                                      tmp_path / "state-compute1")}
    live = {name: _live(pair) for name, pair in by_name.items()}
    port = cloud.direct_port(api, cloud.network(api, 26))
    server_id = cloud.boot(api, port["id"])
    src = cloud.server(api, server_id)["OS-EXT-SRV-ATTR:host"]
    dst = next(n for n in by_name if n != src)
    live[src].reconcile_once()
    assert cloud.server(api, server_id)["status"] == "ACTIVE"
    old_slot = cloud.port(api, port["id"])["binding:profile"]["pci_slot"]

    body = _evacuate(api, server_id, 400).json()["badRequest"]["message"]
    assert f"Compute service of {src} is still in use." in body
    _evacuate(api, server_id, 400, {"host": dst})  # a target host is refused (400)
    _evacuate(api, server_id, 400, {"host": None}, "2.1")  # onSharedStorage required then
    r = api.client.post(f"/compute/v2.1/servers/{server_id}/action", json={"evacuate": {}},
                        headers={**api.demo, "OpenStack-API-Version": "compute 2.79"})
    assert r.status_code == 404  # another project's server is not even seen

    api.clock.advance(61)  # src's agent missed service_down_time; dst's is alive
    live[dst].heartbeat()
    by_name[dst].sriov().heartbeat()
    _evacuate(api, server_id, 200)
    moved = cloud.port(api, port["id"])
    new_slot = moved["binding:profile"]["pci_slot"]
    assert (moved["binding:host_id"], moved["device_id"]) == (dst, server_id)
    assert cloud.server(api, server_id)["OS-EXT-SRV-ATTR:host"] == dst
    live[dst].reconcile_once()
    shown = cloud.server(api, server_id)
    assert (shown["status"], shown["OS-EXT-STS:task_state"]) == ("ACTIVE", None)
    state = cloud.vf_state(by_name[dst].host, PF, new_slot)
    assert (str(state.mac), state.vlan) == (port["mac_address"], 26)
    r = api.client.get(f"/compute/v2.1/os-sriov-hosts/{src}", headers=api.admin)
    old = next(d for d in r.json()["host"]["devices"] if d["address"] == old_slot)
    assert (old["status"], old["server_id"]) == ("available", None)

    # The dead host comes back: its stale guest is destroyed and the old VF reset.
    stale = cloud.vf_state(by_name[src].host, PF, old_slot)
    assert str(stale.mac) == port["mac_address"]  # still the port's until the agent acts
    back = by_name[src].compute()
    back.heartbeat()
    done = back.reconcile_once()
    assert done.destroyed == [server_id] and old_slot in [str(a) for a in done.reset]
    assert FakeVirtDriver(by_name[src].state, by_name[src].host.sysfs).list_guests() == ()
    assert cloud.vf_state(by_name[src].host, PF, old_slot).mac == MacAddress.ZERO
    assert back.reconcile_once().spawned == []  # never re-plugged there
    assert api.services.compute.audit.check().findings == ()
    r = api.client.get(f"/compute/v2.1/servers/{server_id}/os-instance-actions",
                       headers=api.admin)
    assert r.json()["instanceActions"][0]["action"] == "evacuate"
