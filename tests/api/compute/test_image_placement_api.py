"""Image v2 (read-only, cirros seeded) and the placement subset (a provider per host, a child
per PF with SRIOV_NET_VF inventory and usage) over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.compute.chapter import CIRROS_ID, PFS, boot_body, direct_port

IMAGE_KEYS = {"id", "name", "status", "visibility", "disk_format", "container_format",
              "min_disk", "min_ram", "size", "protected", "tags", "owner", "os_hidden",
              "checksum", "created_at", "updated_at", "file", "self", "schema"}


def test_image_version_document_needs_no_token(api: Any) -> None:
    r = api.client.get("/image")
    assert r.status_code == 200
    assert r.json()["versions"][0]["links"][0]["href"] == "http://testserver/image/v2/"


def test_cirros_is_a_bare_object_with_glances_fields(api: Any) -> None:
    image = api.client.get(f"/image/v2/images/{CIRROS_ID}", headers=api.demo).json()
    assert IMAGE_KEYS <= set(image)
    assert (image["name"], image["status"], image["visibility"]) == ("cirros", "active",
                                                                     "public")


@pytest.mark.parametrize("query, names", [
    ("", ["cirros"]),
    ("?name=cirros", ["cirros"]),
    ("?name=fedora", []),
    (f"?id=in:{CIRROS_ID},nope", ["cirros"]),
    ("?id=in:nope", []),
])
def test_image_list_filters(api: Any, query: str, names: list[str]) -> None:
    body = api.client.get(f"/image/v2/images{query}", headers=api.demo).json()
    assert [i["name"] for i in body["images"]] == names
    assert body["schema"] == "/v2/schemas/images" and body["first"] == "/v2/images"


def test_an_image_name_used_as_an_id_is_404_in_glances_envelope(api: Any) -> None:
    r = api.client.get("/image/v2/images/cirros",
                       headers={**api.demo, "Accept": "application/json"})
    assert r.status_code == 404
    assert r.json()["code"] == "404 Not Found" and "cirros" in r.json()["message"]


def test_placement_root_needs_no_token(api: Any) -> None:
    doc = api.client.get("/placement/").json()
    assert doc["versions"][0]["min_version"] == "1.0"


def _providers(api: Any) -> dict[str, dict[str, Any]]:
    body = api.client.get("/placement/resource_providers", headers={
        **api.admin, "OpenStack-API-Version": "placement 1.14"}).json()
    return {rp["name"]: rp for rp in body["resource_providers"]}


def test_a_provider_per_host_and_a_child_per_pf_with_vf_inventory(api: Any,
                                                                  compute_host: str) -> None:
    rps = _providers(api)
    assert set(rps) == {"compute-1"} | {f"compute-1:{pf}" for pf in PFS}
    root = rps["compute-1"]
    assert root["parent_provider_uuid"] is None and root["root_provider_uuid"] == root["uuid"]
    for pf in PFS:
        child = rps[f"compute-1:{pf}"]
        assert child["parent_provider_uuid"] == root["uuid"]
        inv = api.client.get(f"/placement/resource_providers/{child['uuid']}/inventories",
                             headers=api.admin).json()
        assert inv["inventories"]["SRIOV_NET_VF"]["total"] == 7
    inv = api.client.get(f"/placement/resource_providers/{root['uuid']}/inventories",
                         headers=api.admin).json()["inventories"]
    assert (inv["VCPU"]["total"], inv["MEMORY_MB"]["total"]) == (16, 32768)


def test_vf_usage_follows_boot_and_delete(api: Any, compute_host: str) -> None:
    port = direct_port(api)
    sid = api.client.post("/compute/v2.1/servers", json=boot_body(port["id"]),
                          headers=api.admin).json()["server"]["id"]
    rps = _providers(api)

    def used() -> int:
        total = 0
        for pf in PFS:
            uuid = rps[f"compute-1:{pf}"]["uuid"]
            usages = api.client.get(f"/placement/resource_providers/{uuid}/usages",
                                    headers=api.admin).json()["usages"]
            total += usages["SRIOV_NET_VF"]
        return total

    assert used() == 1
    api.client.delete(f"/compute/v2.1/servers/{sid}", headers=api.admin)
    assert used() == 0


def test_placement_errors_and_policy(api: Any) -> None:
    r = api.client.get("/placement/resource_providers/nope/inventories", headers=api.admin)
    assert r.status_code == 404 and r.json()["errors"][0]["status"] == 404
    r = api.client.get("/placement/resource_providers", headers=api.demo)
    assert r.status_code == 403 and r.json()["errors"][0]["status"] == 403
