"""os-sriov-hosts: the admin view of VF usage per physnet and of each VF's owner server, port,
MAC and VLAN, before, during and after the chapter's boot (20.7)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.compute.chapter import boot_body, direct_port


@pytest.fixture(autouse=True)
def _host(compute_host: str) -> str:
    return compute_host


def test_list_shows_14_free_vfs_on_physnet1(api: Any) -> None:
    r = api.client.get("/compute/v2.1/os-sriov-hosts", headers=api.admin)
    assert r.status_code == 200, r.text
    [host] = r.json()["hosts"]
    assert host["host"] == "compute-1" and host["up"] is True and host["enabled"] is True
    assert host["physnets"] == [{"physnet": "physnet1", "total": 14, "free": 14, "used": 0,
                                 "unhealthy": 0}]


def test_show_names_the_owner_server_port_mac_and_vlan_of_the_claimed_vf(api: Any) -> None:
    c = api.client
    port = direct_port(api)
    server_id = c.post("/compute/v2.1/servers", json=boot_body(port["id"]),
                       headers=api.admin).json()["server"]["id"]
    slot = c.get(f"/network/v2.0/ports/{port['id']}",
                 headers=api.admin).json()["port"]["binding:profile"]["pci_slot"]
    r = c.get("/compute/v2.1/os-sriov-hosts/compute-1", headers=api.admin)
    assert r.status_code == 200, r.text
    body = r.json()["host"]
    assert body["physnets"] == [{"physnet": "physnet1", "total": 14, "free": 13, "used": 1,
                                 "unhealthy": 0}]
    devices = body["devices"]
    assert len(devices) == 14 and [d["address"] for d in devices] == sorted(
        d["address"] for d in devices)
    [held] = [d for d in devices if d["server_id"]]
    # BUILD: the VF stays claimed until the compute agent reports the guest running.
    assert held == {"address": slot, "dev_type": "type-VF", "parent_addr": held["parent_addr"],
                    "vendor_id": "8086", "product_id": "10ca", "physnet": "physnet1",
                    "status": "claimed", "server_id": server_id, "server_name": "webserver01",
                    "port_id": port["id"], "mac": port["mac_address"], "vlan": 15,
                    "admin_state_up": True, "unhealthy_reason": None,
                    "propagate_uplink_status": False}
    assert held["parent_addr"] in ("0000:0b:00.0", "0000:0b:00.1")
    assert all(d["status"] == "available" and d["mac"] is None
               for d in devices if d is not held)

    assert c.delete(f"/compute/v2.1/servers/{server_id}", headers=api.admin).status_code == 204
    after = c.get("/compute/v2.1/os-sriov-hosts/compute-1", headers=api.admin).json()["host"]
    assert after["physnets"][0]["free"] == 14
    assert not any(d["server_id"] for d in after["devices"])


@pytest.mark.parametrize("path", ["/compute/v2.1/os-sriov-hosts",
                                  "/compute/v2.1/os-sriov-hosts/compute-1"])
def test_members_and_agents_may_not_look(api: Any, path: str) -> None:
    for headers in (api.demo, api.service):
        r = api.client.get(path, headers=headers)
        assert r.status_code == 403 and "admin only" in r.text


def test_an_unknown_host_is_a_404_naming_it(api: Any) -> None:
    r = api.client.get("/compute/v2.1/os-sriov-hosts/compute-9", headers=api.admin)
    assert r.status_code == 404 and "compute-9" in r.text
