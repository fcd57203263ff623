"""Health that acts: pulling a PF's cable on the simulated host (``host link``'s call) makes
the SR-IOV agent report the PF's VFs unhealthy on its next pass; the scheduler then places
nothing there and says why, the port on a VF of that PF goes DOWN, host show and /metrics
show it. Putting the cable back returns all of it."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from sriovstack.allinone import set_pf_link
from tests.agents import cloud
from tests.agents.conftest import Agents

PF = "0000:0b:00.1"  # enp11s0f1: physnet1, 7 VFs


def metrics(api: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = api.client.get("/metrics").text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def unhealthy_gauge(api: Any) -> float:
    return metrics(api)[("sriovstack_physnet_vfs_unhealthy",
                         frozenset({("host", "compute0"), ("physnet", "physnet1")}))]


def physnet1(api: Any) -> dict[str, Any]:
    r = api.client.get("/compute/v2.1/os-sriov-hosts/compute0", headers=api.admin)
    assert r.status_code == 200, r.text
    host: dict[str, Any] = r.json()["host"]
    [usage] = host["physnets"]
    return {"usage": usage, "devices": host["devices"]}


def actions(api: Any, server_id: str) -> list[dict[str, Any]]:
    """The server's instance actions, newest first, each with its events (admin, 2.62)."""
    base = f"/compute/v2.1/servers/{server_id}/os-instance-actions"
    headers = {**api.admin, "OpenStack-API-Version": "compute 2.62"}
    listed = api.client.get(base, headers=headers).json()["instanceActions"]
    return [api.client.get(f"{base}/{a['request_id']}", headers=headers)
            .json()["instanceAction"] for a in listed]


def test_a_pulled_cable_makes_the_vfs_unhealthy_and_putting_it_back_returns_all(
        api: Any, agents: Agents) -> None:
    agents.compute().reconcile_once()
    nic = agents.sriov()
    nic.heartbeat()
    net = cloud.network(api)
    first = cloud.direct_port(api, net)
    server_id = cloud.boot(api, first["id"])
    agents.compute().reconcile_once()
    nic.reconcile_once()
    assert cloud.port(api, first["id"])["status"] == "ACTIVE"
    assert unhealthy_gauge(api) == 0

    # Pull the cable: the agent's next pass reports it, the VFs are unhealthy.
    assert set_pf_link(agents.host.root, "enp11s0f1", up=False)[1] == "enp11s0f1"
    assert agents.host.sysfs.read("/sys/class/net/enp11s0f1/operstate") == "down"
    done = nic.reconcile_once()
    assert done.links_reported and done.carriers == {"enp11s0f1": False}
    assert cloud.port(api, first["id"])["status"] == "DOWN"
    view = physnet1(api)
    assert view["usage"] == {"physnet": "physnet1", "total": 7, "free": 0, "used": 1,
                             "unhealthy": 6}
    reasons = {d["unhealthy_reason"] for d in view["devices"] if d["parent_addr"] == PF}
    assert reasons == {f"PF {PF} (enp11s0f1) has no carrier (link down)"}
    assert unhealthy_gauge(api) == 6
    series = {dict(labels)["vf"]: dict(labels) for name, labels in metrics(api)
              if name == "sriovstack_vf_info"}
    vfs = [d for d in view["devices"] if d["dev_type"] == "type-VF"]
    assert len(vfs) == 7 and {series[d["address"]]["healthy"] for d in vfs} == {"false"}
    [held] = [d for d in vfs if d["server_id"]]
    assert series[held["address"]]["project"] == api.admin_project_id

    # Nothing is placed on the unhealthy VFs, and the fault says why.
    second = cloud.direct_port(api, net)
    late = cloud.boot(api, second["id"], "late")
    body = cloud.server(api, late)
    assert body["status"] == "ERROR"
    assert "unhealthy: their PF's link is down" in body["fault"]["message"], body["fault"]
    assert "PciPassthroughFilter" in body["fault"]["message"]

    # The server holding a VF of that PF has an instance action saying so (one, not per pass).
    [down, create] = actions(api, server_id)
    assert (down["action"], down["message"], create["action"]) == \
        ("pf-link-down", "Error", "create")
    [event] = down["events"]
    assert (event["event"], event["result"], event["host"]) == \
        ("sriov_pf_link_down", "Error", "compute0")
    assert event["finish_time"] and held["address"] in event["traceback"]
    assert f"PF {PF} (enp11s0f1) has no carrier" in event["traceback"]
    assert [a["action"] for a in actions(api, late)] == ["create"]  # it holds no VF

    # A pass without a change reports nothing again.
    assert not nic.reconcile_once().links_reported

    # Put it back: healthy, the port ACTIVE again, a new server is placed.
    set_pf_link(agents.host.root, PF, up=True)
    done = nic.reconcile_once()
    assert done.links_reported and done.carriers == {"enp11s0f1": True}
    assert cloud.port(api, first["id"])["status"] == "ACTIVE"
    assert physnet1(api)["usage"]["unhealthy"] == 0 and unhealthy_gauge(api) == 0
    up = actions(api, server_id)[0]
    assert (up["action"], up["message"]) == ("pf-link-up", None)
    assert [(e["event"], e["result"]) for e in up["events"]] == [("sriov_pf_link_up",
                                                                   "Success")]
    assert [a["action"] for a in actions(api, server_id)] == \
        ["pf-link-up", "pf-link-down", "create"]
    third = cloud.direct_port(api, net)
    again = cloud.boot(api, third["id"], "again")
    assert cloud.server(api, again)["status"] != "ERROR"
    assert cloud.port(api, third["id"])["binding:profile"]["pci_slot"]
    cloud.delete_server(api, server_id)


def test_the_links_are_reported_after_a_restart_even_when_unchanged(
        api: Any, agents: Agents) -> None:
    agents.compute().reconcile_once()
    set_pf_link(agents.host.root, "enp11s0f1", up=False)
    assert agents.sriov().reconcile_once().links_reported
    assert physnet1(api)["usage"]["unhealthy"] == 7
    restarted = agents.sriov()
    assert restarted.reconcile_once().links_reported  # the resync tells the API again
    assert not restarted.reconcile_once().links_reported


def test_a_host_not_registered_yet_gets_its_links_on_a_later_pass(
        api: Any, agents: Agents) -> None:
    nic = agents.sriov()
    assert not nic.reconcile_once().links_reported  # no inventory yet: 404, tried again
    agents.compute().reconcile_once()
    assert nic.reconcile_once().links_reported
