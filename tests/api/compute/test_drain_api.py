"""os-sriov-hosts drain: a plan for every server holding a VF on the host, from a scheduling
dry run that counts VF claims but claims nothing; without dry_run the host is disabled and
each ACTIVE server with a planned host is live-migrated there (the others stay, with the
reason); undrain enables it again."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.compute.chapter import INVENTORY, boot_body, register_host, vf_devices
from tests.api.compute.test_metrics_api import member_port

SMALL = {**INVENTORY, "devices": vf_devices(per_pf=1)[:1]}  # one VF only


def boot_two(api: Any) -> list[str]:
    ids = []
    for n in range(2):
        port = member_port(api, api.admin, 15 + n)
        r = api.client.post("/compute/v2.1/servers", json=boot_body(port["id"], f"web{n}"),
                            headers=api.admin)
        assert r.status_code == 202, r.text
        ids.append(r.json()["server"]["id"])
    return ids


def drain(api: Any, host: str, body: Any = None, headers: Any = None) -> Any:
    return api.client.post(f"/compute/v2.1/os-sriov-hosts/{host}/drain",
                           json={"drain": {"dry_run": True}} if body is None else body,
                           headers=headers or api.admin)


def free_vfs(api: Any, host: str) -> int:
    r = api.client.get(f"/compute/v2.1/os-sriov-hosts/{host}", headers=api.admin)
    return int(r.json()["host"]["physnets"][0]["free"])


def test_the_dry_run_plans_each_server_counting_vf_claims_and_claims_nothing(api: Any) -> None:
    register_host(api, "compute-1")
    first, second = boot_two(api)
    register_host(api, "compute-2", SMALL)  # room for one of the two servers
    r = drain(api, "compute-1")
    assert r.status_code == 200, r.text
    plan = r.json()["drain"]
    assert (plan["host"], plan["dry_run"], plan["disabled"], plan["migrated"]) == (
        "compute-1", True, False, False)
    assert plan["note"] == "dry run: nothing changed"
    steps = {s["id"]: s for s in plan["servers"]}
    assert steps.keys() == {first, second}
    assert [len(s["vfs"]) for s in steps.values()] == [1, 1]
    placed = [s for s in steps.values() if s["destination"] == "compute-2"]
    stuck = [s for s in steps.values() if s["destination"] is None]
    assert len(placed) == 1 and len(stuck) == 1  # the one VF is not promised twice
    assert "PciPassthroughFilter" in stuck[0]["reason"]
    assert "no free VF on physnet1" in stuck[0]["reason"]
    assert free_vfs(api, "compute-2") == 1 and free_vfs(api, "compute-1") == 12
    hosts = api.client.get("/compute/v2.1/os-sriov-hosts", headers=api.admin).json()["hosts"]
    assert all(h["enabled"] for h in hosts)


def test_a_real_drain_disables_the_host_says_it_moved_nothing_and_undrain_enables_it(
        api: Any) -> None:
    register_host(api, "compute-1")
    boot_two(api)
    plan = drain(api, "compute-1", {"drain": {"dry_run": False}}).json()["drain"]
    assert plan["disabled"] is True and plan["migrated"] is False
    assert "0 of 2 servers are live-migrating off it" in plan["note"]
    assert all(s["destination"] is None and "No valid host" in s["reason"]
               and s["moved"] is False for s in plan["servers"])  # there is no other host
    shown = api.client.get("/compute/v2.1/os-sriov-hosts/compute-1", headers=api.admin)
    assert shown.json()["host"]["enabled"] is False
    # A new server is not placed on the drained host.
    port = member_port(api, api.admin, 17)
    late = api.client.post("/compute/v2.1/servers", json=boot_body(port["id"], "late"),
                           headers=api.admin).json()["server"]["id"]
    body = api.client.get(f"/compute/v2.1/servers/{late}", headers=api.admin).json()["server"]
    assert body["status"] == "ERROR" and "ComputeFilter" in body["fault"]["message"]

    r = api.client.post("/compute/v2.1/os-sriov-hosts/compute-1/undrain", headers=api.admin)
    assert r.status_code == 200 and r.json()["host"]["enabled"] is True


def test_an_empty_host_drains_to_an_empty_plan(api: Any) -> None:
    register_host(api, "compute-1")
    plan = drain(api, "compute-1", {}).json()["drain"]  # dry_run defaults to true
    assert plan["servers"] == [] and plan["dry_run"] is True


@pytest.mark.parametrize("body, status, words", [
    ({"drain": {"dry_run": "maybe"}}, 400, ["dry_run"]),
    ({"drain": {"dry_run": True, "force": True}}, 400, ["force"]),
])
def test_a_bad_body_is_a_400_naming_the_field(api: Any, body: Any, status: int,
                                              words: list[str]) -> None:
    register_host(api, "compute-1")
    r = drain(api, "compute-1", body)
    assert r.status_code == status and all(w in r.text for w in words), r.text


def test_only_admins_drain_and_an_unknown_host_is_a_404(api: Any) -> None:
    register_host(api, "compute-1")
    assert drain(api, "compute-1", headers=api.demo).status_code == 403
    r = drain(api, "compute-9")
    assert r.status_code == 404 and "compute-9" in r.text
    assert api.client.post("/compute/v2.1/os-sriov-hosts/compute-9/undrain",
                           headers=api.admin).status_code == 404


def test_a_real_drain_live_migrates_the_active_servers_that_fit(api: Any) -> None:
    register_host(api, "compute-1")
    first, second = boot_two(api)
    for sid in (first, second):  # the agent's report: both run on compute-1
        r = api.client.post(f"/internal/v1/hosts/compute-1/servers/{sid}/status",
                            json={"status": "running"}, headers=api.service)
        assert r.status_code == 200, r.text
    register_host(api, "compute-2", SMALL)  # room for one of the two
    plan = drain(api, "compute-1", {"drain": {"dry_run": False}}).json()["drain"]
    assert plan["disabled"] is True and plan["migrated"] is False
    steps = {s["id"]: s for s in plan["servers"]}
    [moved] = [s for s in steps.values() if s["moved"]]
    [stayed] = [s for s in steps.values() if not s["moved"]]
    assert moved["destination"] == "compute-2" and "PciPassthroughFilter" in stayed["reason"]
    shown = api.client.get(f"/compute/v2.1/servers/{moved['id']}", headers=api.admin)
    body = shown.json()["server"]
    assert (body["status"], body["OS-EXT-SRV-ATTR:host"]) == ("MIGRATING", "compute-2")
    assert free_vfs(api, "compute-2") == 0
    r = api.client.post(f"/internal/v1/hosts/compute-2/servers/{moved['id']}/status",
                        json={"status": "running"}, headers=api.service)
    assert r.status_code == 200, r.text
    assert free_vfs(api, "compute-1") == 13  # the source VF released; the other one stays
    still = api.client.get(f"/compute/v2.1/servers/{stayed['id']}", headers=api.admin)
    assert (still.json()["server"]["status"],
            still.json()["server"]["OS-EXT-SRV-ATTR:host"]) == ("ACTIVE", "compute-1")
