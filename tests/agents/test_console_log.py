"""The emulated guest's console (os-getConsoleOutput, `openstack console log show`): what the
compute agent saw its virt driver do to the guest — boot, each VF plugged with its MAC and
VLAN, hot-plugged and unplugged, shutdown — reported after each pass and kept by the API."""

from __future__ import annotations

from typing import Any

import pytest

from sriovstack.errors import Invalid
from sriovstack.wire import ConsoleReport
from tests.agents import cloud
from tests.agents.conftest import Agents


def _console(api: Any, server_id: str, args: Any = None, status: int = 200) -> Any:
    r = api.client.post(f"/compute/v2.1/servers/{server_id}/action",
                        json={"os-getConsoleOutput": args}, headers=api.admin)
    assert r.status_code == status, r.text
    return r.json()


def test_the_console_shows_boot_and_each_vf_plugged_and_unplugged(api: Any,
                                                                  agents: Agents) -> None:
    agent = agents.compute()
    agent.reconcile_once()
    agent.heartbeat()
    agents.sriov().heartbeat()
    net = cloud.network(api, 28)
    first = cloud.direct_port(api, net)
    server_id = cloud.boot(api, first["id"])
    agent.reconcile_once()
    slot = cloud.port(api, first["id"])["binding:profile"]["pci_slot"]
    out = _console(api, server_id)["output"].splitlines()
    assert "boot: guest webserver01 started with 1 vCPU and 512 MB" in out[0]
    assert f"VF {slot} plugged: MAC {first['mac_address']} VLAN 28" in out[1]

    extra = cloud.direct_port(api, net)
    r = api.client.post(f"/compute/v2.1/servers/{server_id}/os-interface",
                        json={"interfaceAttachment": {"port_id": extra["id"]}},
                        headers=api.admin)
    assert r.status_code == 200, r.text
    agent.reconcile_once()
    [last] = _console(api, server_id, {"length": 1})["output"].splitlines()
    assert f"hot-plugged: MAC {extra['mac_address']} VLAN 28 (port {extra['id']})" in last
    r = api.client.delete(f"/compute/v2.1/servers/{server_id}/os-interface/{extra['id']}",
                          headers=api.admin)
    assert r.status_code == 202
    agent.reconcile_once()
    [last] = _console(api, server_id, {"length": "1"})["output"].splitlines()
    assert f"unplugged (port {extra['id']}, MAC {extra['mac_address']}, VLAN 28)" in last
    assert len(_console(api, server_id, {"length": -1})["output"].splitlines()) == 4
    assert _console(api, server_id, {"length": 0})["output"] == ""
    _console(api, server_id, {"length": "many"}, 400)
    _console(api, server_id, {"length": -2}, 400)
    _console(api, server_id, {"lines": 2}, 400)

    _act = api.client.post(f"/compute/v2.1/servers/{server_id}/action",
                           json={"reboot": {"type": "HARD"}}, headers=api.admin)
    assert _act.status_code == 202
    agent.reconcile_once()
    tail = _console(api, server_id, {"length": 3})["output"].splitlines()
    assert "guest shut down (running, to be booted again)" in tail[0]
    assert "boot:" in tail[1] and f"VF {slot} plugged" in tail[2]

    r = api.client.post(f"/compute/v2.1/servers/{server_id}/action", json={"shelve": None},
                        headers={**api.admin, "OpenStack-API-Version": "compute 2.79"})
    assert r.status_code == 202
    _console(api, server_id, None, 409)  # no host, no console


def test_a_console_report_is_refused_from_another_host_and_malformed_lines() -> None:
    with pytest.raises(Invalid, match="newline"):
        ConsoleReport.from_json({"lines": ["one\ntwo"]})
    with pytest.raises(Invalid, match="lines"):
        ConsoleReport.from_json({"lines": "one"})
    with pytest.raises(Invalid, match="unknown field"):
        ConsoleReport.from_json({"lines": [], "extra": 1})
    assert ConsoleReport.from_json({"lines": ["a", "b"]}).lines == ("a", "b")


def test_the_internal_api_keeps_console_lines_only_from_the_servers_host(
        api: Any, agents: Agents) -> None:
    agent = agents.compute()
    agent.reconcile_once()
    agent.heartbeat()
    agents.sriov().heartbeat()
    server_id = cloud.boot(api, cloud.direct_port(api, cloud.network(api, 29))["id"])
    r = api.client.put(f"/internal/v1/hosts/compute9/servers/{server_id}/console",
                       json={"lines": ["stale"]}, headers=api.auth(api.service_token))
    assert r.status_code == 409, r.text
    r = api.client.put(f"/internal/v1/hosts/compute0/servers/{server_id}/console",
                       json={"lines": ["x"] * 1001}, headers=api.auth(api.service_token))
    assert r.status_code == 400, r.text
