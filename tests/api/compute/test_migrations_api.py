"""Resize, confirm, live migration and the migration lists over HTTP (two registered hosts,
the agents' part played through the internal API): nova's statuses, os-migrations and
/servers/{id}/migrations in the shapes of the request's microversion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sriovstack.api.settings import ApiSettings
from sriovstack.conf import load_config
from sriovstack.db import Database
from tests.api.compute.chapter import CHAPTER_FILES, boot_body, direct_port, register_host

WINDOW = 300  # every test here runs with it; only the last lets the clock pass it (tokens: 1 h)


@pytest.fixture
def settings(database: Database, tmp_path: Path) -> ApiSettings:
    """The chapter's files plus a nova.conf setting [DEFAULT] resize_confirm_window."""
    extra = tmp_path / "nova-window.conf"
    extra.write_text(f"[DEFAULT]\nresize_confirm_window = {WINDOW}\n")
    return ApiSettings(base_url="http://testserver", database_url=database.url,
                       deployment=load_config([*CHAPTER_FILES, extra]))


def at(headers: dict[str, str], version: str = "2.79") -> dict[str, str]:
    return {**headers, "OpenStack-API-Version": f"compute {version}"}


def _show(api: Any, sid: str) -> dict[str, Any]:
    return api.client.get(f"/compute/v2.1/servers/{sid}",  # type: ignore[no-any-return]
                          headers=at(api.admin)).json()["server"]


def _report(api: Any, host: str, sid: str, status: str = "running") -> None:
    r = api.client.post(f"/internal/v1/hosts/{host}/servers/{sid}/status",
                        json={"status": status}, headers=api.service)
    assert r.status_code == 200, r.text


def _state(api: Any, sid: str) -> tuple[str, str, int]:
    shown = _show(api, sid)
    return shown["status"], shown["OS-EXT-STS:vm_state"], shown["OS-EXT-STS:power_state"]


def _desired(api: Any, host: str, sid: str) -> tuple[str, bool]:
    """(target, awaiting) of the server in ``host``'s desired state."""
    state = api.client.get(f"/internal/v1/hosts/{host}/desired-state",
                           headers=api.service).json()
    [server] = [s for s in state["servers"] if s["id"] == sid]
    return server["target"], server["awaiting"]


def _act(api: Any, sid: str, body: dict[str, Any], version: str = "2.79") -> Any:
    return api.client.post(f"/compute/v2.1/servers/{sid}/action", json=body,
                           headers=at(api.admin, version))


def _boot(api: Any) -> tuple[str, str, str]:
    register_host(api, "compute-1")
    register_host(api, "compute-2")
    port = direct_port(api)
    sid = api.client.post("/compute/v2.1/servers", json=boot_body(port["id"]),
                          headers=api.admin).json()["server"]["id"]
    host = _show(api, sid)["OS-EXT-SRV-ATTR:host"]
    _report(api, host, sid)
    return sid, port["id"], host


def _binding(api: Any, port_id: str) -> tuple[str, str]:
    port = api.client.get(f"/network/v2.0/ports/{port_id}", headers=api.admin).json()["port"]
    return port["binding:host_id"], port["binding:profile"]["pci_slot"]


def test_resize_then_confirm_over_http_with_os_migrations(api: Any) -> None:
    sid, port_id, source = _boot(api)
    r = _act(api, sid, {"resize": {"flavorRef": "2"}})
    assert r.status_code == 202, r.text
    shown = _show(api, sid)
    target = shown["OS-EXT-SRV-ATTR:host"]
    assert target != source and (shown["status"], shown["OS-EXT-STS:task_state"]) == (
        "RESIZE", "resize_finish")
    assert _binding(api, port_id)[0] == target
    _report(api, target, sid)
    shown = _show(api, sid)
    assert (shown["status"], shown["OS-EXT-STS:vm_state"]) == ("VERIFY_RESIZE", "resized")

    listed = api.client.get(f"/compute/v2.1/os-migrations?instance_uuid={sid}",
                            headers=at(api.admin)).json()["migrations"]
    [m] = listed
    assert (m["migration_type"], m["status"], m["source_compute"], m["dest_compute"],
            m["old_instance_type_id"], m["new_instance_type_id"]) == (
        "resize", "finished", source, target, 1, 2)
    assert "uuid" in m and "links" not in m
    old = api.client.get("/compute/v2.1/os-migrations", headers=api.admin).json()["migrations"]
    assert "migration_type" not in old[0] and "uuid" not in old[0]  # 2.1's shape
    demo = api.client.get("/compute/v2.1/os-migrations", headers=api.demo)
    assert demo.status_code == 403

    assert _act(api, sid, {"confirmResize": None}).status_code == 204
    shown = _show(api, sid)
    assert shown["status"] == "ACTIVE" and shown["flavor"]["original_name"] == "m1.small"


def test_live_migration_over_http_and_the_servers_migrations(api: Any) -> None:
    sid, port_id, source = _boot(api)
    assert api.client.get(f"/compute/v2.1/servers/{sid}/migrations",
                          headers=at(api.admin, "2.22")).status_code == 404
    r = _act(api, sid, {"os-migrateLive": {"host": None, "block_migration": "auto"}})
    assert r.status_code == 202, r.text
    shown = _show(api, sid)
    target = shown["OS-EXT-SRV-ATTR:host"]
    assert (shown["status"], shown["OS-EXT-STS:task_state"]) == ("MIGRATING", "migrating")
    running = api.client.get(f"/compute/v2.1/servers/{sid}/migrations",
                             headers=at(api.admin)).json()["migrations"]
    assert [(m["status"], m["dest_compute"], m["server_uuid"]) for m in running] == [
        ("running", target, sid)]
    one = api.client.get(f"/compute/v2.1/servers/{sid}/migrations/{running[0]['id']}",
                         headers=at(api.admin))
    assert one.status_code == 200 and one.json()["migration"]["id"] == running[0]["id"]
    _report(api, target, sid)
    assert _show(api, sid)["status"] == "ACTIVE"
    assert api.client.get(f"/compute/v2.1/servers/{sid}/migrations",
                          headers=at(api.admin)).json()["migrations"] == []
    assert _binding(api, port_id)[0] == target


def test_live_migration_to_the_own_host_is_400(api: Any) -> None:
    sid, _, source = _boot(api)
    r = _act(api, sid, {"os-migrateLive": {"host": source, "block_migration": "auto"}})
    assert r.status_code == 400 and "own host" in r.json()["badRequest"]["message"]
    assert _show(api, sid)["status"] == "ACTIVE"


def test_a_stopped_server_migrates_and_resizes_staying_shutoff(api: Any) -> None:
    sid, port_id, source = _boot(api)
    assert _act(api, sid, {"os-stop": None}).status_code == 202
    _report(api, source, sid, "stopped")
    r = _act(api, sid, {"os-migrateLive": {"host": None, "block_migration": "auto"}})
    assert r.status_code == 409 and "vm_state shutoff" in r.json()["conflictingRequest"][
        "message"]

    assert _act(api, sid, {"migrate": None}).status_code == 202
    target, slot = _binding(api, port_id)
    assert target != source and _state(api, sid) == ("RESIZE", "stopped", 4)
    assert _desired(api, target, sid) == ("stopped", True)  # the guest is not started
    _report(api, target, sid, "stopped")
    assert _state(api, sid) == ("VERIFY_RESIZE", "resized", 4)  # nova: power SHUTDOWN
    assert _act(api, sid, {"confirmResize": None}).status_code == 204
    shown = _show(api, sid)
    assert (shown["status"], shown["OS-EXT-STS:vm_state"], shown["OS-EXT-SRV-ATTR:host"]) == (
        "SHUTOFF", "stopped", target)
    assert _binding(api, port_id) == (target, slot)

    assert _act(api, sid, {"resize": {"flavorRef": "2"}}).status_code == 202
    moved = _binding(api, port_id)
    assert moved[0] == source
    _report(api, source, sid, "stopped")
    assert _act(api, sid, {"revertResize": None}).status_code == 202
    assert _binding(api, port_id) == (target, slot)
    assert _desired(api, target, sid) == ("stopped", True)
    _report(api, target, sid, "stopped")
    shown = _show(api, sid)
    assert (shown["status"], shown["OS-EXT-SRV-ATTR:host"], shown["flavor"]["original_name"]) \
        == ("SHUTOFF", target, "m1.tiny")
    migrations = api.client.get(f"/compute/v2.1/os-migrations?instance_uuid={sid}",
                                headers=at(api.admin)).json()["migrations"]
    assert [(m["migration_type"], m["status"]) for m in migrations] == [
        ("resize", "reverted"), ("migration", "confirmed")]


def test_the_sweep_confirms_a_migration_left_past_resize_confirm_window(api: Any) -> None:
    sid, port_id, source = _boot(api)
    assert _act(api, sid, {"migrate": None}, "2.1").status_code == 202
    target = _binding(api, port_id)
    _report(api, target[0], sid)
    migrations = api.services.compute.migrations
    api.clock.advance(WINDOW - 1)
    assert migrations.recover() == ()  # what every API worker's sweep runs
    assert _show(api, sid)["status"] == "VERIFY_RESIZE"
    api.clock.advance(2)
    assert len(migrations.recover()) == 1
    shown = _show(api, sid)
    assert (shown["status"], shown["OS-EXT-SRV-ATTR:host"]) == ("ACTIVE", target[0])
    assert _binding(api, port_id) == target
    actions = api.client.get(f"/compute/v2.1/servers/{sid}/os-instance-actions",
                             headers=at(api.admin)).json()["instanceActions"]
    assert [(a["action"], a["user_id"]) for a in actions[:2]] == [
        ("confirmResize", None), ("migrate", actions[1]["user_id"])]
    assert actions[1]["user_id"] and actions[0]["request_id"].startswith("req-")
    listed = api.client.get(f"/compute/v2.1/os-migrations?instance_uuid={sid}",
                            headers=at(api.admin)).json()["migrations"]
    assert [m["status"] for m in listed] == ["confirmed"]
    hosts = api.client.get(f"/compute/v2.1/os-sriov-hosts/{source}", headers=api.admin)
    assert [d for d in hosts.json()["host"]["devices"]
            if d["dev_type"] == "type-VF" and d["status"] != "available"] == []
