"""os-services (list, disable with a reason, forced down, delete), the AZ detail,
os-simple-tenant-usage and who sees where a server runs, as nova's API and default policy."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.compute.chapter import boot_body, direct_port, register_host

V = "/compute/v2.1"
SERVICE_KEYS_21 = {"id", "binary", "host", "zone", "status", "state", "updated_at",
                   "disabled_reason"}
HOST_ATTRIBUTES = {"OS-EXT-SRV-ATTR:host", "OS-EXT-SRV-ATTR:hypervisor_hostname",
                   "OS-EXT-SRV-ATTR:instance_name"}


@pytest.fixture(autouse=True)
def _host(compute_host: str) -> str:
    return compute_host


def _mv(version: str) -> dict[str, str]:
    return {"OpenStack-API-Version": f"compute {version}"}


def _services(api: Any, version: str = "2.1", **params: str) -> list[dict[str, Any]]:
    r = api.client.get(f"{V}/os-services", params=params, headers={**api.admin, **_mv(version)})
    assert r.status_code == 200, r.text
    services: list[dict[str, Any]] = r.json()["services"]
    return services


def test_list_has_one_nova_compute_per_host_with_nova_ids_per_version(api: Any) -> None:
    [old] = _services(api)
    assert set(old) == SERVICE_KEYS_21 and isinstance(old["id"], int)
    assert (old["binary"], old["host"], old["zone"], old["status"], old["state"]) == \
        ("nova-compute", "compute-1", "nova", "enabled", "up")
    [new] = _services(api, "2.53")
    assert new["forced_down"] is False and len(new["id"]) == 36
    assert _services(api, host="compute-1") == [old]
    assert _services(api, binary="nova-scheduler") == []
    assert _services(api, host="nope", binary="nova-compute") == []
    assert api.client.get(f"{V}/os-services", headers=api.demo).status_code == 403


def test_a_disabled_host_is_skipped_and_no_valid_host_says_why(api: Any) -> None:
    c = api.client
    r = c.put(f"{V}/os-services/disable-log-reason", headers=api.admin, json={
        "host": "compute-1", "binary": "nova-compute", "disabled_reason": "maintenance"})
    assert r.status_code == 200, r.text
    assert r.json() == {"service": {"host": "compute-1", "binary": "nova-compute",
                                    "status": "disabled", "disabled_reason": "maintenance"}}
    [svc] = _services(api)
    assert (svc["status"], svc["disabled_reason"]) == ("disabled", "maintenance")
    server_id = c.post(f"{V}/servers", json=boot_body(direct_port(api)["id"]),
                       headers=api.admin).json()["server"]["id"]
    server = c.get(f"{V}/servers/{server_id}", headers=api.admin).json()["server"]
    assert server["status"] == "ERROR"
    assert "ComputeFilter" in server["fault"]["message"]
    assert "ComputeFilter: 1 host is disabled" in server["fault"]["message"]
    r = c.put(f"{V}/os-services/enable", headers=api.admin,
              json={"host": "compute-1", "binary": "nova-compute"})
    assert r.json() == {"service": {"host": "compute-1", "binary": "nova-compute",
                                    "status": "enabled"}}


def test_253_update_by_uuid_and_forced_down(api: Any) -> None:
    c = api.client
    [svc] = _services(api, "2.53")
    r = c.put(f"{V}/os-services/{svc['id']}", headers={**api.admin, **_mv("2.53")},
              json={"forced_down": True})
    assert r.status_code == 200, r.text
    assert r.json()["service"]["forced_down"] is True
    assert r.json()["service"]["state"] == "down"
    server_id = c.post(f"{V}/servers", json=boot_body(direct_port(api)["id"]),
                       headers=api.admin).json()["server"]["id"]
    fault = c.get(f"{V}/servers/{server_id}", headers=api.admin).json()["server"]["fault"]
    assert "ComputeFilter: 1 host is forced down (os-services)" in fault["message"]
    r = c.put(f"{V}/os-services/{svc['id']}", headers={**api.admin, **_mv("2.53")},
              json={"status": "enabled", "disabled_reason": "x"})
    assert r.status_code == 400, r.text
    r = c.put(f"{V}/os-services/{'0' * 8}-0000-0000-0000-{'0' * 12}",
              headers={**api.admin, **_mv("2.53")}, json={"status": "disabled"})
    assert r.status_code == 404, r.text
    r = c.put(f"{V}/os-services/disable", headers={**api.admin, **_mv("2.53")},
              json={"host": "compute-1", "binary": "nova-compute"})
    assert r.status_code == 400, r.text  # not a uuid: the action forms end at 2.53


def test_delete_is_409_while_servers_run_there_and_204_after(api: Any) -> None:
    c = api.client
    register_host(api, "compute-2")
    services = {s["host"]: s for s in _services(api)}
    server_id = c.post(f"{V}/servers", json=boot_body(direct_port(api)["id"]),
                       headers=api.admin).json()["server"]["id"]
    host = c.get(f"{V}/servers/{server_id}",
                 headers=api.admin).json()["server"]["OS-EXT-SRV-ATTR:host"]
    busy = services[host]["id"]
    r = c.delete(f"{V}/os-services/{busy}", headers=api.admin)
    assert r.status_code == 409, r.text
    idle = services["compute-2" if host == "compute-1" else "compute-1"]["id"]
    assert c.delete(f"{V}/os-services/{idle}", headers=api.admin).status_code == 204
    assert [s["host"] for s in _services(api)] == [host]
    # The scheduler's index forgets the deleted host: the next boot goes to the other one.
    second = c.post(f"{V}/servers", json=boot_body(name="vm2"), headers=api.admin)
    assert second.status_code == 202, second.text


def test_availability_zone_detail_is_admin_only(api: Any) -> None:
    r = api.client.get(f"{V}/os-availability-zone/detail", headers=api.admin)
    assert r.status_code == 200, r.text
    [zone] = r.json()["availabilityZoneInfo"]
    assert zone["zoneName"] == "nova" and zone["zoneState"] == {"available": True}
    assert zone["hosts"]["compute-1"]["nova-compute"]["active"] is True
    assert api.client.get(f"{V}/os-availability-zone/detail",
                          headers=api.demo).status_code == 403
    assert api.client.get(f"{V}/os-availability-zone", headers=api.demo).status_code == 200


def test_simple_tenant_usage(api: Any) -> None:
    c = api.client
    c.post(f"{V}/servers", json=boot_body(direct_port(api)["id"]), headers=api.admin)
    api.clock.advance(360)  # a tenth of an hour (the tokens outlive it)
    period = {"start": "2000-01-01T00:00:00", "end": "2100-01-01T00:00:00.000000"}
    r = c.get(f"{V}/os-simple-tenant-usage", params={**period, "detailed": "1"},
              headers=api.admin)
    assert r.status_code == 200, r.text
    [usage] = r.json()["tenant_usages"]
    assert usage["tenant_id"] == api.admin_project_id and len(usage) == 8
    assert usage["total_hours"] == pytest.approx(0.1, abs=0.01)
    assert usage["total_memory_mb_usage"] == pytest.approx(51.2, abs=6)
    [server] = usage["server_usages"]
    assert server["flavor"] == "m1.tiny" and server["ended_at"] is None
    shown = c.get(f"{V}/os-simple-tenant-usage/{api.admin_project_id}", params=period,
                  headers=api.admin).json()["tenant_usage"]
    assert len(shown) == 8
    assert c.get(f"{V}/os-simple-tenant-usage/{api.demo_project_id}", params=period,
                 headers=api.demo).json() == {"tenant_usage": {}}
    assert c.get(f"{V}/os-simple-tenant-usage", params=period,
                 headers=api.demo).status_code == 403
    backwards = {"start": period["end"], "end": period["start"]}
    assert c.get(f"{V}/os-simple-tenant-usage/{api.admin_project_id}", params=backwards,
                 headers=api.admin).status_code == 400


def test_only_admins_see_where_a_server_runs(api: Any) -> None:
    c = api.client
    net = c.post("/network/v2.0/networks", headers=api.demo,
                 json={"network": {"name": "mine"}}).json()["network"]
    c.post("/network/v2.0/subnets", headers=api.demo, json={"subnet": {
        "network_id": net["id"], "cidr": "10.9.0.0/24", "ip_version": 4}})
    body = boot_body(name="mine")
    body["server"]["networks"] = [{"uuid": net["id"]}]
    server_id = c.post(f"{V}/servers", json=body, headers=api.demo).json()["server"]["id"]
    member = c.get(f"{V}/servers/{server_id}", headers=api.demo).json()["server"]
    assert not HOST_ATTRIBUTES & set(member) and member["hostId"]
    [listed] = c.get(f"{V}/servers/detail", headers=api.demo).json()["servers"]
    assert not HOST_ATTRIBUTES & set(listed)
    admin = c.get(f"{V}/servers/{server_id}", headers=api.admin).json()["server"]
    assert admin["OS-EXT-SRV-ATTR:host"] == "compute-1"
    assert admin["OS-EXT-SRV-ATTR:hypervisor_hostname"] == "compute-1"
