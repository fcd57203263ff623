"""os-quota-sets, os-quota-class-sets, limits and os-sriov-quotas: nova's shapes per
microversion, its default policy (members read their own project, admins change), and the
enforcement on server create (403 "Quota exceeded for ..." with nothing left behind)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.compute.chapter import boot_body, direct_port

V = "/compute/v2.1"
NOVA_21 = {"instances": 10, "cores": 20, "ram": 51200, "metadata_items": 128,
           "injected_files": 5, "injected_file_content_bytes": 10240,
           "injected_file_path_bytes": 255, "key_pairs": 100, "server_groups": 10,
           "server_group_members": 10, "fixed_ips": -1, "floating_ips": 10,
           "security_groups": 10, "security_group_rules": 20}


@pytest.fixture(autouse=True)
def _host(compute_host: str) -> str:
    return compute_host


def _mv(version: str) -> dict[str, str]:
    return {"OpenStack-API-Version": f"compute {version}"}


def test_a_member_sees_nova_defaults_for_its_project_at_2_1(api: Any) -> None:
    r = api.client.get(f"{V}/os-quota-sets/{api.demo_project_id}", headers=api.demo)
    assert r.status_code == 200, r.text
    assert r.json() == {"quota_set": {"id": api.demo_project_id, **NOVA_21}}
    defaults = api.client.get(f"{V}/os-quota-sets/{api.demo_project_id}/defaults",
                              headers=api.demo).json()
    assert defaults == r.json()


@pytest.mark.parametrize(("version", "gone"), [
    ("2.36", {"fixed_ips", "floating_ips", "security_groups", "security_group_rules"}),
    ("2.57", {"fixed_ips", "floating_ips", "security_groups", "security_group_rules",
              "injected_files", "injected_file_content_bytes", "injected_file_path_bytes"}),
])
def test_later_microversions_drop_the_proxy_and_injected_file_quotas(
        api: Any, version: str, gone: set[str]) -> None:
    r = api.client.get(f"{V}/os-quota-sets/{api.demo_project_id}",
                       headers={**api.demo, **_mv(version)})
    assert set(r.json()["quota_set"]) == {"id"} | set(NOVA_21) - gone


def test_a_member_may_not_read_another_projects_quotas_or_change_its_own(api: Any) -> None:
    c = api.client
    r = c.get(f"{V}/os-quota-sets/{api.admin_project_id}", headers=api.demo)
    assert r.status_code == 403 and "forbidden" in r.json(), r.text
    r = c.put(f"{V}/os-quota-sets/{api.demo_project_id}", headers=api.demo,
              json={"quota_set": {"instances": 50}})
    assert r.status_code == 403, r.text


def test_admin_update_detail_and_revert(api: Any) -> None:
    c, p = api.client, api.demo_project_id
    r = c.put(f"{V}/os-quota-sets/{p}", headers=api.admin,
              json={"quota_set": {"instances": "3", "cores": 4}})
    assert r.status_code == 200, r.text
    body = r.json()["quota_set"]
    assert "id" not in body and body["instances"] == 3 and body["cores"] == 4
    detail = c.get(f"{V}/os-quota-sets/{p}/detail", headers=api.demo).json()["quota_set"]
    assert detail["instances"] == {"limit": 3, "in_use": 0, "reserved": 0}
    assert c.delete(f"{V}/os-quota-sets/{p}", headers=api.admin).status_code == 202
    assert c.get(f"{V}/os-quota-sets/{p}", headers=api.demo).json()["quota_set"][
        "instances"] == 10


@pytest.mark.parametrize("bad", [{"instances": -2}, {"instances": "many"},
                                 {"no_such_thing": 1}, {"sriov_vfs:physnet1": 1}])
def test_bad_updates_are_400_naming_the_field(api: Any, bad: dict[str, Any]) -> None:
    r = api.client.put(f"{V}/os-quota-sets/{api.demo_project_id}", headers=api.admin,
                       json={"quota_set": bad})
    assert r.status_code == 400, r.text
    assert next(iter(bad)) in r.json()["badRequest"]["message"]


def test_the_default_class_sets_every_projects_defaults(api: Any) -> None:
    c = api.client
    r = c.put(f"{V}/os-quota-class-sets/default", headers=api.admin,
              json={"quota_class_set": {"instances": 7}})
    assert r.status_code == 200, r.text
    assert r.json()["quota_class_set"]["instances"] == 7
    assert "server_groups" not in r.json()["quota_class_set"]  # below 2.50
    shown = c.get(f"{V}/os-quota-class-sets/default", headers=api.admin).json()
    assert shown["quota_class_set"]["id"] == "default"
    assert c.get(f"{V}/os-quota-sets/{api.demo_project_id}",
                 headers=api.demo).json()["quota_set"]["instances"] == 7
    assert c.get(f"{V}/os-quota-class-sets/default", headers=api.demo).status_code == 403


def test_limits_show_absolute_usage(api: Any) -> None:
    c = api.client
    port = direct_port(api)
    assert c.post(f"{V}/servers", json=boot_body(port["id"]),
                  headers=api.admin).status_code == 202
    r = c.get(f"{V}/limits", headers=api.admin)
    assert r.status_code == 200, r.text
    absolute = r.json()["limits"]["absolute"]
    assert r.json()["limits"]["rate"] == []
    assert absolute["maxTotalInstances"] == 10 and absolute["totalInstancesUsed"] == 1
    assert absolute["totalCoresUsed"] == 1 and absolute["totalRAMUsed"] == 512
    assert absolute["maxImageMeta"] == 128 and absolute["maxPersonality"] == 5
    later = c.get(f"{V}/limits", headers={**api.admin, **_mv("2.57")}).json()
    assert not {"maxImageMeta", "maxPersonality", "maxSecurityGroups"} & set(
        later["limits"]["absolute"])
    other = c.get(f"{V}/limits", params={"tenant_id": api.admin_project_id},
                  headers=api.demo)
    assert other.status_code == 403, other.text


def _servers(api: Any) -> list[dict[str, Any]]:
    return api.client.get(f"{V}/servers", headers=api.admin).json()["servers"]


def test_an_over_quota_create_is_403_and_leaves_nothing_behind(api: Any) -> None:
    c = api.client
    r = c.put(f"{V}/os-quota-sets/{api.admin_project_id}", headers=api.admin,
              json={"quota_set": {"instances": 1}})
    assert r.status_code == 200, r.text
    first = direct_port(api)
    assert c.post(f"{V}/servers", json=boot_body(first["id"]),
                  headers=api.admin).status_code == 202
    network_id = first["network_id"]
    ports_before = c.get("/network/v2.0/ports", headers=api.admin).json()["ports"]
    body = boot_body(name="second")
    body["server"]["networks"] = [{"uuid": network_id}]
    r = c.post(f"{V}/servers", json=body, headers=api.admin)
    assert r.status_code == 403, r.text
    assert r.json()["forbidden"]["message"].startswith(
        "Quota exceeded for instances: Requested 1, but already used 1 of 1 instances")
    assert [s["name"] for s in _servers(api)] == ["webserver01"]
    ports_after = c.get("/network/v2.0/ports", headers=api.admin).json()["ports"]
    assert len(ports_after) == len(ports_before)  # the port compute made is gone again


def test_too_many_metadata_items_is_403(api: Any) -> None:
    body = boot_body(direct_port(api)["id"])
    body["server"]["metadata"] = {str(i): "x" for i in range(129)}
    r = api.client.post(f"{V}/servers", json=body, headers=api.admin)
    assert r.status_code == 403, r.text
    assert "metadata items exceeds 128" in r.json()["forbidden"]["message"]


def test_vf_quota_per_physnet_is_shown_set_and_enforced(api: Any) -> None:
    c, p = api.client, api.admin_project_id
    r = c.get(f"{V}/os-sriov-quotas/{p}", headers=api.admin)
    assert r.status_code == 200, r.text
    assert r.json()["sriov_quota_set"] == {
        "id": p, "sriov_vfs:physnet1": {"limit": -1, "in_use": 0}}
    r = c.put(f"{V}/os-sriov-quotas/{p}", headers=api.admin,
              json={"sriov_quota_set": {"sriov_vfs:physnet1": 1}})
    assert r.status_code == 200, r.text
    assert r.json()["sriov_quota_set"]["sriov_vfs:physnet1"] == {"limit": 1, "in_use": 0}
    first = direct_port(api)
    assert c.post(f"{V}/servers", json=boot_body(first["id"]),
                  headers=api.admin).status_code == 202
    second = c.post("/network/v2.0/ports", headers=api.admin, json={"port": {
        "network_id": first["network_id"], "binding:vnic_type": "direct"}}).json()["port"]
    r = c.post(f"{V}/servers", json=boot_body(second["id"], name="vm2"), headers=api.admin)
    assert r.status_code == 403, r.text
    assert r.json()["forbidden"]["message"].startswith(
        "Quota exceeded for sriov_vfs:physnet1: Requested 1, but already used 1 of 1")
    assert len(_servers(api)) == 1
    port = c.get(f"/network/v2.0/ports/{second['id']}", headers=api.admin).json()["port"]
    assert port["device_id"] == "" and port["binding:host_id"] == ""  # untouched
    # Lowering it under what the project holds needs force, as nova's quotas do.
    r = c.put(f"{V}/os-sriov-quotas/{p}", headers=api.admin,
              json={"sriov_quota_set": {"sriov_vfs:physnet1": 0}})
    assert r.status_code == 400, r.text
    assert c.put(f"{V}/os-sriov-quotas/{p}", headers=api.admin, json={"sriov_quota_set": {
        "sriov_vfs:physnet1": 0, "force": True}}).status_code == 200
    assert c.put(f"{V}/os-sriov-quotas/{p}", headers=api.demo, json={"sriov_quota_set": {
        "sriov_vfs:physnet1": 5}}).status_code == 403
