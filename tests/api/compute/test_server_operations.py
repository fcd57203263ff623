"""A placed SR-IOV server's power operations over HTTP, the agent's part played through the
internal API: nova's statuses and task states, the desired state each step hands the agent
(target, replug, awaiting), the VF claim and port binding untouched, 409 where nova refuses,
and every operation in os-instance-actions with its events."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.compute.chapter import CIRROS_ID, boot_body, direct_port


def at(headers: dict[str, str], version: str = "2.79") -> dict[str, str]:
    return {**headers, "OpenStack-API-Version": f"compute {version}"}


def _desired(api: Any, sid: str) -> dict[str, Any]:
    state = api.client.get("/internal/v1/hosts/compute-1/desired-state",
                           headers=api.service).json()
    [server] = [s for s in state["servers"] if s["id"] == sid]
    return server  # type: ignore[no-any-return]


def _report(api: Any, sid: str, status: str) -> dict[str, Any]:
    r = api.client.post(f"/internal/v1/hosts/compute-1/servers/{sid}/status",
                        json={"status": status}, headers=api.service)
    assert r.status_code == 200, r.text
    return r.json()["server"]  # type: ignore[no-any-return]


def _show(api: Any, sid: str) -> dict[str, Any]:
    return api.client.get(f"/compute/v2.1/servers/{sid}",  # type: ignore[no-any-return]
                          headers=at(api.admin)).json()["server"]


def _act(api: Any, sid: str, body: dict[str, Any], status: int = 202) -> Any:
    r = api.client.post(f"/compute/v2.1/servers/{sid}/action", json=body, headers=at(api.admin))
    assert r.status_code == status, r.text
    return r


@pytest.fixture
def active(api: Any, compute_host: str) -> tuple[str, dict[str, Any]]:
    """A server on compute-1 holding a VF, reported running: ACTIVE."""
    port = direct_port(api)
    sid = api.client.post("/compute/v2.1/servers", json=boot_body(port["id"]),
                          headers=api.admin).json()["server"]["id"]
    assert _report(api, sid, "running")["status"] == "ACTIVE"
    bound = api.client.get(f"/network/v2.0/ports/{port['id']}", headers=api.admin).json()["port"]
    return sid, bound


# (action body, status and task while the agent works, desired target/replug, report, final)
CYCLE = [
    ({"os-stop": None}, ("ACTIVE", "powering-off"), ("stopped", False), "stopped", "SHUTOFF"),
    ({"os-start": None}, ("SHUTOFF", "powering-on"), ("running", True), "running", "ACTIVE"),
    ({"pause": None}, ("ACTIVE", "pausing"), ("paused", False), "paused", "PAUSED"),
    ({"unpause": None}, ("PAUSED", "unpausing"), ("running", False), "running", "ACTIVE"),
    ({"suspend": None}, ("ACTIVE", "suspending"), ("stopped", False), "stopped", "SUSPENDED"),
    ({"resume": None}, ("SUSPENDED", "resuming"), ("running", True), "running", "ACTIVE"),
    ({"reboot": {"type": "SOFT"}}, ("REBOOT", "rebooting"), ("running", False), "running",
     "ACTIVE"),
    ({"reboot": {"type": "HARD"}}, ("HARD_REBOOT", "reboot_started_hard"), ("running", True),
     "running", "ACTIVE"),
    ({"rebuild": {"imageRef": CIRROS_ID, "name": "rebuilt"}}, ("REBUILD", "rebuild_spawning"),
     ("running", True), "running", "ACTIVE"),
]


def test_every_operation_in_turn_keeps_the_vf_and_the_binding(
        api: Any, active: tuple[str, dict[str, Any]]) -> None:
    sid, bound = active
    for body, (status, task), (target, replug), report, final in CYCLE:
        _act(api, sid, body)
        shown = _show(api, sid)
        assert (shown["status"], shown["OS-EXT-STS:task_state"]) == (status, task), body
        desired = _desired(api, sid)
        assert (desired["target"], desired["replug"], desired["awaiting"]) == \
            (target, replug, True), body
        [port] = desired["ports"]
        assert port["pci_address"] == bound["binding:profile"]["pci_slot"]  # the same VF
        assert _report(api, sid, report)["status"] == final, body
        shown = _show(api, sid)
        assert shown["OS-EXT-STS:task_state"] is None and not _desired(api, sid)["awaiting"]
    assert _show(api, sid)["name"] == "rebuilt"
    again = api.client.get(f"/network/v2.0/ports/{bound['id']}", headers=api.admin).json()
    assert again["port"]["binding:profile"] == bound["binding:profile"]
    assert again["port"]["binding:host_id"] == "compute-1"


@pytest.mark.parametrize("setup, body, text", [
    ([], {"os-start": None}, "while it is in vm_state active"),
    ([], {"unpause": None}, "vm_state active"),
    ([], {"resume": None}, "vm_state active"),
    ([{"os-stop": None}], {"pause": None}, "task_state powering-off"),
    ([{"os-stop": None}], {"reboot": {"type": "HARD"}}, "task_state powering-off"),
])
def test_nova_refuses_an_operation_from_the_wrong_state_with_409(
        api: Any, active: tuple[str, dict[str, Any]], setup: list[dict[str, Any]],
        body: dict[str, Any], text: str) -> None:
    sid, _bound = active
    for step in setup:
        _act(api, sid, step)
    r = _act(api, sid, body, 409)
    assert text in r.json()["conflictingRequest"]["message"]


@pytest.mark.parametrize("body, text", [
    ({"reboot": {"type": "WARM"}}, "'WARM' is not one of"),
    ({"reboot": {}}, "'type' is a required"),
    ({"os-stop": {"force": True}}, "'force' was unexpected"),
    ({"rebuild": {"name": "x"}}, "'imageRef' is a required"),
    ({"rebuild": {"imageRef": "nope"}}, "Can not find requested image nope"),
])
def test_bad_action_bodies_are_400(api: Any, active: tuple[str, dict[str, Any]],
                                   body: dict[str, Any], text: str) -> None:
    sid, _bound = active
    r = _act(api, sid, body, 400)
    assert text in r.json()["badRequest"]["message"]


def test_an_unplaced_server_cannot_be_stopped(api: Any) -> None:
    port = direct_port(api)  # no host registered: the build fails, the server is ERROR
    sid = api.client.post("/compute/v2.1/servers", json=boot_body(port["id"]),
                          headers=api.admin).json()["server"]["id"]
    assert _act(api, sid, {"os-stop": None}, 409).status_code == 409


def test_an_agent_error_ends_the_task_in_error_with_a_fault(
        api: Any, active: tuple[str, dict[str, Any]]) -> None:
    sid, _bound = active
    _act(api, sid, {"reboot": {"type": "HARD"}})
    r = api.client.post(f"/internal/v1/hosts/compute-1/servers/{sid}/status",
                        json={"status": "error", "message": "VF gone"}, headers=api.service)
    assert r.json()["server"]["status"] == "ERROR"
    shown = _show(api, sid)
    assert shown["fault"]["message"] == "VF gone" and shown["OS-EXT-STS:task_state"] is None
    _act(api, sid, {"reboot": {"type": "HARD"}})  # nova: a hard reboot may recover ERROR
    assert _report(api, sid, "running")["status"] == "ACTIVE"


def test_instance_actions_record_each_request_with_its_events(
        api: Any, active: tuple[str, dict[str, Any]]) -> None:
    sid, _bound = active
    r = _act(api, sid, {"os-stop": None})
    stop_request = r.headers["x-openstack-request-id"]
    _report(api, sid, "stopped")
    base = f"/compute/v2.1/servers/{sid}/os-instance-actions"
    listed = api.client.get(base, headers=at(api.admin)).json()["instanceActions"]
    assert [a["action"] for a in listed] == ["stop", "create"]
    assert listed[0]["request_id"] == stop_request and "updated_at" in listed[0]
    shown = api.client.get(f"{base}/{stop_request}", headers=at(api.admin)).json()
    [event] = shown["instanceAction"]["events"]
    assert (event["event"], event["result"], event["host"]) == \
        ("compute_stop_instance", "Success", "compute-1")
    assert event["finish_time"] and event["hostId"]
    # Members see events from 2.51, never the host; below 2.58 no updated_at.
    member = api.client.get(f"{base}/{stop_request}", headers=at(api.admin, "2.50")).json()
    assert "events" in member["instanceAction"]  # admins always see events
    old = api.client.get(base, headers=at(api.admin, "2.57")).json()["instanceActions"]
    assert "updated_at" not in old[0]
    assert api.client.get(f"{base}/req-nope", headers=api.admin).status_code == 404
    assert api.client.get("/compute/v2.1/servers/nope/os-instance-actions",
                          headers=api.admin).status_code == 404


def test_member_views_of_events_follow_251_and_262(api: Any, compute_host: str) -> None:
    body = boot_body()
    body["server"]["networks"] = "none"
    r = api.client.post("/compute/v2.1/servers", json=body, headers=at(api.demo))
    sid, request_id = r.json()["server"]["id"], r.headers["x-openstack-request-id"]
    path = f"/compute/v2.1/servers/{sid}/os-instance-actions/{request_id}"
    old = api.client.get(path, headers=at(api.demo, "2.50")).json()["instanceAction"]
    assert old["action"] == "create" and "events" not in old
    new = api.client.get(path, headers=at(api.demo, "2.62")).json()["instanceAction"]
    [event] = new["events"]
    assert "host" not in event and "traceback" not in event and "hostId" in event


def test_shelve_offloads_on_either_database_and_unshelve_claims_a_vf_again(
        api: Any, active: tuple[str, dict[str, Any]]) -> None:
    # SHELVED_OFFLOADED has 17 characters: servers.status held 16 and PostgreSQL refused it.
    sid, bound = active
    _act(api, sid, {"shelve": None})
    shown = _show(api, sid)
    assert (shown["status"], shown["OS-EXT-SRV-ATTR:host"]) == ("SHELVED_OFFLOADED", None)
    _act(api, sid, {"unshelve": None})
    assert _report(api, sid, "running")["status"] == "ACTIVE"
    port = api.client.get(f"/network/v2.0/ports/{bound['id']}", headers=api.admin).json()
    assert port["port"]["binding:host_id"] == "compute-1"
    assert port["port"]["binding:profile"]["pci_slot"]
