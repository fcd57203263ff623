"""Server create as tempest's ServersTestJSON sends it: adminPass echoed in the 202, the
access IPs stored in their canonical form, disk_config AUTO accepted."""

from __future__ import annotations

from typing import Any

from tests.api.compute.chapter import boot_body, direct_port


def test_admin_pass_is_echoed_and_ipv6_is_canonical(api: Any, compute_host: str) -> None:
    body = boot_body(direct_port(api)["id"])
    body["server"].update({"adminPass": "s3cret-Pass", "metadata": {"hello": "world"},
                           "accessIPv4": "1.1.1.1", "OS-DCF:diskConfig": "AUTO",
                           "accessIPv6": "0000:0000:0000:0000:0000:babe:220.12.22.2"})
    r = api.client.post("/compute/v2.1/servers", json=body, headers=api.admin)
    assert r.status_code == 202, r.text
    created = r.json()["server"]
    assert created["adminPass"] == "s3cret-Pass"
    shown = api.client.get(f"/compute/v2.1/servers/{created['id']}",
                           headers=api.admin).json()["server"]
    assert (shown["accessIPv4"], shown["accessIPv6"]) == ("1.1.1.1", "::babe:dc0c:1602")
    assert shown["metadata"] == {"hello": "world"}


def test_without_admin_pass_one_is_generated(api: Any, compute_host: str) -> None:
    r = api.client.post("/compute/v2.1/servers", json=boot_body(direct_port(api)["id"]),
                        headers=api.admin)
    assert r.status_code == 202 and len(r.json()["server"]["adminPass"]) >= 8


def test_delete_answers_with_the_microversion_headers(api: Any, compute_host: str) -> None:
    # tempest checks them on every answer, the 204 of its class clean-up's delete too
    server_id = api.client.post("/compute/v2.1/servers", json=boot_body(
        direct_port(api)["id"]), headers=api.admin).json()["server"]["id"]
    r = api.client.delete(f"/compute/v2.1/servers/{server_id}", headers=api.admin)
    assert r.status_code == 204 and r.content == b""
    assert r.headers["x-openstack-nova-api-version"] == "2.1"
    assert r.headers["openstack-api-version"] == "compute 2.1"
