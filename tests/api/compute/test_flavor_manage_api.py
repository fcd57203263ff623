"""Flavor administration over HTTP: create/delete (409 on a taken name or id), private
flavors and their access lists, extra specs with nova's checks of known keys."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.compute.chapter import CIRROS_ID

FL = "/compute/v2.1/flavors"


def _flavor(name: str = "sriov.small", **extra: Any) -> dict[str, Any]:
    return {"flavor": {"name": name, "ram": 1024, "vcpus": 2, "disk": 10, **extra}}


def test_create_show_and_delete(api: Any) -> None:
    r = api.client.post(FL, json=_flavor(id="42"), headers=api.admin)
    assert r.status_code == 200, r.text
    made = r.json()["flavor"]
    assert made["id"] == "42" and made["ram"] == 1024 and made["os-flavor-access:is_public"]
    auto = api.client.post(FL, json=_flavor("numa.large", id=None), headers=api.admin)
    assert len(auto.json()["flavor"]["id"]) == 36  # nova: a uuid when no id is given
    assert api.client.get(f"{FL}/42", headers=api.demo).json()["flavor"]["name"] == "sriov.small"
    assert api.client.delete(f"{FL}/42", headers=api.admin).status_code == 202
    assert api.client.get(f"{FL}/42", headers=api.demo).status_code == 404
    assert api.client.delete(f"{FL}/42", headers=api.admin).status_code == 404


@pytest.mark.parametrize("body, message", [
    (_flavor("m1.tiny"), "Flavor with name m1.tiny already exists."),
    (_flavor("other", id="1"), "Flavor with ID 1 already exists."),
])
def test_duplicates_are_409(api: Any, body: dict[str, Any], message: str) -> None:
    r = api.client.post(FL, json=body, headers=api.admin)
    assert r.status_code == 409 and r.json()["conflictingRequest"]["message"] == message


@pytest.mark.parametrize("extra, field", [
    ({"ram": 0}, "ram"), ({"vcpus": "x"}, "vcpus"), ({"disk": -1}, "disk"),
    ({"id": " padded"}, "id"),
])
def test_bad_fields_are_400_naming_them(api: Any, extra: dict[str, Any], field: str) -> None:
    body = _flavor()
    body["flavor"].update(extra)
    r = api.client.post(FL, json=body, headers=api.admin)
    assert r.status_code == 400 and field in r.json()["badRequest"]["message"], r.text


def test_members_may_not_manage_flavors(api: Any) -> None:
    assert api.client.post(FL, json=_flavor(), headers=api.demo).status_code == 403
    assert api.client.delete(f"{FL}/1", headers=api.demo).status_code == 403
    r = api.client.post(f"{FL}/1/os-extra_specs", json={"extra_specs": {"a": "b"}},
                        headers=api.demo)
    assert r.status_code == 403


def test_private_flavor_is_seen_only_by_projects_it_is_shared_with(api: Any) -> None:
    api.client.post(FL, json=_flavor("secret", id="p1", **{"os-flavor-access:is_public": False}),
                    headers=api.admin)
    listed = [f["id"] for f in api.client.get(FL, headers=api.demo).json()["flavors"]]
    assert "p1" not in listed
    assert api.client.get(f"{FL}/p1", headers=api.demo).status_code == 404
    server = {"server": {"name": "vm", "imageRef": CIRROS_ID, "flavorRef": "p1"}}
    assert api.client.post("/compute/v2.1/servers", json=server,
                           headers=api.demo).status_code == 400
    add = api.client.post(f"{FL}/p1/action",
                          json={"addTenantAccess": {"tenant": api.demo_project_id}},
                          headers=api.admin)
    assert add.json() == {"flavor_access": [{"flavor_id": "p1",
                                             "tenant_id": api.demo_project_id}]}
    again = api.client.post(f"{FL}/p1/action",
                            json={"addTenantAccess": {"tenant": api.demo_project_id}},
                            headers=api.admin)
    assert again.status_code == 409
    listed = [f["id"] for f in api.client.get(FL, headers=api.demo).json()["flavors"]]
    assert "p1" in listed
    assert api.client.get(f"{FL}/p1/os-flavor-access", headers=api.admin).json()[
        "flavor_access"][0]["tenant_id"] == api.demo_project_id
    remove = api.client.post(f"{FL}/p1/action",
                             json={"removeTenantAccess": {"tenant": api.demo_project_id}},
                             headers=api.admin)
    assert remove.json() == {"flavor_access": []}
    missing = api.client.post(f"{FL}/p1/action",
                              json={"removeTenantAccess": {"tenant": api.demo_project_id}},
                              headers=api.admin)
    assert missing.status_code == 404
    public = api.client.get(f"{FL}/1/os-flavor-access", headers=api.admin)
    assert public.status_code == 404
    assert api.client.post(f"{FL}/1/action", json={"addTenantAccess": {"tenant": "x"}},
                           headers=api.admin).status_code == 409


def test_extra_specs_set_show_unset_and_appear_from_2_61(api: Any) -> None:
    specs = {"hw:cpu_policy": "dedicated", "hw:numa_nodes": 1, "capabilities:x": "y"}
    r = api.client.post(f"{FL}/1/os-extra_specs", json={"extra_specs": specs},
                        headers=api.admin)
    assert r.status_code == 200 and r.json()["extra_specs"]["hw:numa_nodes"] == "1"
    got = api.client.get(f"{FL}/1/os-extra_specs", headers=api.demo).json()["extra_specs"]
    assert got == {"hw:cpu_policy": "dedicated", "hw:numa_nodes": "1", "capabilities:x": "y"}
    one = api.client.get(f"{FL}/1/os-extra_specs/hw:cpu_policy", headers=api.demo)
    assert one.json() == {"hw:cpu_policy": "dedicated"}
    put = api.client.put(f"{FL}/1/os-extra_specs/hw:cpu_policy",
                         json={"hw:cpu_policy": "shared"}, headers=api.admin)
    assert put.json() == {"hw:cpu_policy": "shared"}
    mismatch = api.client.put(f"{FL}/1/os-extra_specs/hw:cpu_policy",
                              json={"hw:numa_nodes": "2"}, headers=api.admin)
    assert mismatch.status_code == 400
    new = api.client.get(f"{FL}/1", headers={**api.demo,
                                             "OpenStack-API-Version": "compute 2.61"})
    assert new.json()["flavor"]["extra_specs"]["hw:cpu_policy"] == "shared"
    assert api.client.delete(f"{FL}/1/os-extra_specs/hw:cpu_policy",
                             headers=api.admin).status_code == 200
    gone = api.client.get(f"{FL}/1/os-extra_specs/hw:cpu_policy", headers=api.demo)
    assert gone.status_code == 404 and "has no extra specs with key hw:cpu_policy" in \
        gone.json()["itemNotFound"]["message"]


@pytest.mark.parametrize("key, value", [
    ("hw:cpu_policy", "bogus"), ("hw:mem_page_size", "huge"), ("hw:numa_nodes", "0"),
    ("hw:pci_numa_affinity_policy", "sometimes"), ("pci_passthrough:alias", "a1"),
    ("hw:no_such_thing", "1"), ("trait:HW_CPU_X86_AVX", "maybe"), ("hw:cpu_realtime", "si"),
])
def test_bad_known_extra_specs_are_400_naming_the_key(api: Any, key: str, value: str) -> None:
    r = api.client.post(f"{FL}/1/os-extra_specs", json={"extra_specs": {key: value}},
                        headers=api.admin)
    assert r.status_code == 400 and key in r.json()["badRequest"]["message"], r.text
    assert api.client.get(f"{FL}/1/os-extra_specs", headers=api.admin).json() == {
        "extra_specs": {}}


@pytest.mark.parametrize("key, value", [
    ("hw:mem_page_size", "2MB"), ("hw:mem_page_size", "large"), ("hw:numa_mem.0", "512"),
    ("pci_passthrough:alias", "a1:2, a2:1"), ("resources:VCPU", "2"),
    ("aggregate_instance_extra_specs:ssd", "true"), ("hw:pci_numa_affinity_policy", "socket"),
])
def test_good_extra_specs_pass(api: Any, key: str, value: str) -> None:
    r = api.client.post(f"{FL}/1/os-extra_specs", json={"extra_specs": {key: value}},
                        headers=api.admin)
    assert r.status_code == 200, r.text
