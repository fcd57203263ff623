"""The internal agent API in process: the whole SR-IOV boot driven as the agents would drive it
(inventory → boot → desired state → running → ACTIVE → delete → VF free), the long poll, and
its policy (service role only)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest

from sriovstack.api.settings import ApiSettings
from sriovstack.db import Database
from tests.api.compute.chapter import (INVENTORY, PFS, boot_body, chapter_settings,
                                       direct_port, register_host)



@pytest.fixture
def settings(database: Database) -> ApiSettings:
    """The chapter's deployment (ML2 physnet1:15:20, the 20.4 filters) over the fresh database."""
    return chapter_settings("http://testserver", database.url)


@pytest.fixture(autouse=True)
def compute_host(api: Any) -> str:
    """compute-1, registered through the internal API as a simulated 82576 host."""
    register_host(api)
    return "compute-1"


def _vf_usage(api: Any) -> dict[str, int]:
    rps = api.client.get("/placement/resource_providers", headers={
        **api.admin, "OpenStack-API-Version": "placement 1.14"}).json()  # parent uuids
    out = {}
    for rp in rps["resource_providers"]:
        if rp["parent_provider_uuid"]:
            usage = api.client.get(f"/placement/resource_providers/{rp['uuid']}/usages",
                                   headers=api.admin).json()
            out[rp["name"]] = usage["usages"]["SRIOV_NET_VF"]
    return out


def test_chapter_boot_end_to_end_through_the_internal_api(api: Any) -> None:
    c = api.client
    port = direct_port(api)
    r = c.post("/compute/v2.1/servers", json=boot_body(port["id"]), headers=api.admin)
    assert r.status_code == 202, r.text
    server_id = r.json()["server"]["id"]

    # The build ran after the 202: placed and bound, still BUILD until the agent reports.
    server = c.get(f"/compute/v2.1/servers/{server_id}", headers=api.admin).json()["server"]
    assert server["status"] == "BUILD" and server["OS-EXT-SRV-ATTR:host"] == "compute-1"
    bound = c.get(f"/network/v2.0/ports/{port['id']}", headers=api.admin).json()["port"]
    assert bound["binding:vif_type"] == "hw_veb" and bound["binding:host_id"] == "compute-1"
    slot = bound["binding:profile"]["pci_slot"]
    assert bound["binding:profile"] == {"pci_slot": slot, "pci_vendor_info": "8086:10ca",
                                        "physical_network": "physnet1"}
    assert bound["device_id"] == server_id and bound["device_owner"] == "compute:nova"
    assert sum(_vf_usage(api).values()) == 1

    # The compute agent reads its desired state and reports the guest running.
    state = c.get("/internal/v1/hosts/compute-1/desired-state", headers=api.service).json()
    assert state["host"] == "compute-1" and state["revision"] >= 1
    [desired] = state["servers"]
    assert desired["id"] == server_id and desired["memory_mb"] == 512
    assert desired["ports"] == [{
        "port_id": port["id"], "mac": port["mac_address"], "vnic_type": "direct",
        "vlan": 15, "pci_address": slot, "physnet": "physnet1", "admin_state_up": True,
        "generation": desired["ports"][0]["generation"],
        "fixed_ip": f"{port['fixed_ips'][0]['ip_address']}/24",
        "propagate_uplink_status": False}]
    assert isinstance(desired["ports"][0]["generation"], int)
    r = c.post(f"/internal/v1/hosts/compute-1/servers/{server_id}/status",
               json={"status": "running"}, headers=api.service)
    assert r.json() == {"server": {"id": server_id, "status": "ACTIVE"}}
    r = c.post("/internal/v1/hosts/compute-1/devices", headers=api.service,
               json={"mac": port["mac_address"], "pci_slot": slot, "up": True})
    assert r.status_code == 200 and r.json()["port"]["status"] == "ACTIVE"
    server = c.get(f"/compute/v2.1/servers/{server_id}", headers=api.admin).json()["server"]
    assert server["status"] == "ACTIVE" and server["OS-EXT-STS:vm_state"] == "active"
    assert server["addresses"]["web"][0]["OS-EXT-IPS-MAC:mac_addr"] == port["mac_address"]

    assert c.delete(f"/compute/v2.1/servers/{server_id}", headers=api.admin).status_code == 204
    assert c.get(f"/compute/v2.1/servers/{server_id}", headers=api.admin).status_code == 404
    assert sum(_vf_usage(api).values()) == 0
    freed = c.get(f"/network/v2.0/ports/{port['id']}", headers=api.admin).json()["port"]
    assert freed["binding:vif_type"] == "unbound" and freed["device_id"] == ""
    state = c.get("/internal/v1/hosts/compute-1/desired-state", headers=api.service).json()
    assert state["servers"] == []


def test_desired_state_poll_returns_at_once_when_a_newer_revision_exists(api: Any) -> None:
    c = api.client
    first = c.get("/internal/v1/hosts/compute-1/desired-state", headers=api.service).json()
    port = direct_port(api)
    c.post("/compute/v2.1/servers", json=boot_body(port["id"]), headers=api.admin)
    started = time.monotonic()
    r = c.get("/internal/v1/hosts/compute-1/desired-state",
              params={"since": first["revision"], "wait": 30}, headers=api.service)
    assert time.monotonic() - started < 10
    assert r.json()["revision"] > first["revision"] and len(r.json()["servers"]) == 1


def test_desired_state_poll_wakes_early_when_the_host_changes(api: Any) -> None:
    c = api.client
    rev = c.get("/internal/v1/hosts/compute-1/desired-state",
                headers=api.service).json()["revision"]
    port = direct_port(api)
    result: dict[str, Any] = {}

    async def poll() -> None:
        transport = httpx.ASGITransport(app=c.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as ac:
            r = await ac.get("/internal/v1/hosts/compute-1/desired-state",
                             params={"since": rev, "wait": 30}, headers=api.service)
            result["body"] = r.json()

    started = time.monotonic()
    poller = threading.Thread(target=asyncio.run, args=(poll(),))
    poller.start()
    time.sleep(0.3)
    assert poller.is_alive()  # it is waiting for a change
    c.post("/compute/v2.1/servers", json=boot_body(port["id"]), headers=api.admin)
    poller.join(timeout=20)
    assert not poller.is_alive() and time.monotonic() - started < 20
    assert result["body"]["revision"] > rev and len(result["body"]["servers"]) == 1


def test_desired_state_poll_times_out_with_the_same_revision(api: Any) -> None:
    c = api.client
    rev = c.get("/internal/v1/hosts/compute-1/desired-state",
                headers=api.service).json()["revision"]
    r = c.get("/internal/v1/hosts/compute-1/desired-state",
              params={"since": rev, "wait": 0.2}, headers=api.service)
    assert r.status_code == 200 and r.json()["revision"] == rev


@pytest.mark.parametrize("method, path, body", [
    ("post", "/internal/v1/hosts/compute-1/heartbeat",
     {"agent_type": "Compute agent", "binary": "x"}),
    ("put", "/internal/v1/hosts/compute-1/inventory", INVENTORY),
    ("get", "/internal/v1/hosts/compute-1/desired-state", None),
    ("post", "/internal/v1/hosts/compute-1/servers/x/status", {"status": "running"}),
    ("post", "/internal/v1/hosts/compute-1/devices",
     {"mac": "fa:16:3e:00:00:01", "up": True}),
])
def test_only_service_users_may_call_the_internal_api(api: Any, method: str, path: str,
                                                       body: Any) -> None:
    for headers, status in ((api.admin, 403), (api.demo, 403), ({}, 401)):
        r = api.client.request(method, path, json=body, headers=headers)
        assert r.status_code == status, r.text
        assert r.json()["error"]["code"] == status


@pytest.mark.parametrize("devices, field", [
    ([{"address": "0000:0b:10.0", "vendor_id": "8086", "product_id": "10ca",
       "dev_type": "type-VF"}], "parent_addr"),
    ([{"address": "0b:zz.0", "vendor_id": "8086", "product_id": "10ca",
       "dev_type": "type-PF"}], "not a PCI address"),
    ([{"address": "0000:0b:00.0", "vendor_id": "80866", "product_id": "10ca",
       "dev_type": "type-PF"}], "vendor_id"),
    ([{"address": "0000:0b:00.0", "vendor_id": "8086", "product_id": "10ca",
       "dev_type": "type-XX"}], "dev_type"),
    ([{"address": "0000:0b:00.0", "vendor_id": "8086", "product_id": "10c9",
       "dev_type": "type-PF", "colour": "red"}], "colour"),
])
def test_bad_inventories_are_400s_naming_the_field(api: Any, devices: list[Any],
                                                    field: str) -> None:
    body = {"resources": INVENTORY["resources"], "devices": devices}
    r = api.client.put("/internal/v1/hosts/compute-2/inventory", json=body, headers=api.service)
    assert r.status_code == 400, r.text
    assert field in r.json()["error"]["message"]


@pytest.mark.parametrize("method, path, body, field", [
    ("post", "heartbeat", {"agent_type": "Compute agent", "binary": "b", "colour": 1}, "colour"),
    ("post", "heartbeat", ["Compute agent"], "the body: expected an object"),
    ("post", "servers/x/status", {"status": "RUNNING"}, "status: expected one of running"),
    ("post", "devices", {"mac": "fa:16:3e:00:00", "up": True}, "mac: not a MAC address"),
    ("post", "devices", {"mac": "fa:16:3e:00:00:01", "pci_slot": "0b:zz.1", "up": True},
     "pci_slot: not a PCI address"),
])
def test_bad_reports_are_400s_naming_the_field(api: Any, method: str, path: str, body: Any,
                                                field: str) -> None:
    r = api.client.request(method, f"/internal/v1/hosts/compute-1/{path}", json=body,
                           headers=api.service)
    assert r.status_code == 400, r.text
    assert field in r.json()["error"]["message"]


def test_a_vanished_pf_shows_in_placement_and_a_second_host_adds_providers(api: Any) -> None:
    register_host(api, "compute-2")
    names = {rp["name"] for rp in api.client.get("/placement/resource_providers",
                                                  headers=api.admin).json()["resource_providers"]}
    assert names == {"compute-1", "compute-2"} | {f"compute-{n}:{pf}" for n in (1, 2)
                                                  for pf in PFS}


def test_status_for_a_server_on_another_host_is_409(api: Any) -> None:
    port = direct_port(api)
    server_id = api.client.post("/compute/v2.1/servers", json=boot_body(port["id"]),
                                headers=api.admin).json()["server"]["id"]
    r = api.client.post(f"/internal/v1/hosts/compute-9/servers/{server_id}/status",
                        json={"status": "running"}, headers=api.service)
    assert r.status_code == 409 and "not placed on host compute-9" in r.json()["error"]["message"]
