"""Keystone's operator lists: services, endpoints, regions and domains (the same catalog the
tokens carry), and role assignments with include_names (`role assignment list --names`)."""

from __future__ import annotations

from typing import Any

import pytest


def test_services_and_endpoints_match_the_token_catalog(api: Any) -> None:
    catalog = api.client.get("/identity/v3/auth/catalog", headers=api.admin).json()["catalog"]
    services = api.client.get("/identity/v3/services", headers=api.admin).json()["services"]
    assert {(s["id"], s["type"], s["name"]) for s in services} == {
        (c["id"], c["type"], c["name"]) for c in catalog}
    endpoints = api.client.get("/identity/v3/endpoints", headers=api.admin).json()["endpoints"]
    assert {(e["id"], e["url"], e["interface"]) for e in endpoints} == {
        (e["id"], e["url"], e["interface"]) for c in catalog for e in c["endpoints"]}
    compute = next(s for s in services if s["type"] == "compute")
    mine = api.client.get(f"/identity/v3/endpoints?service_id={compute['id']}&interface=public",
                          headers=api.admin).json()["endpoints"]
    assert [e["url"] for e in mine] == ["http://testserver/compute/v2.1"]
    shown = api.client.get(f"/identity/v3/services/{compute['id']}", headers=api.admin).json()
    assert shown["service"]["name"] == "nova"
    assert api.client.get("/identity/v3/services?type=image",
                          headers=api.admin).json()["services"][0]["name"] == "glance"
    r = api.client.get("/identity/v3/endpoints/nope", headers=api.admin)
    assert r.status_code == 404 and "Could not find endpoint: nope" in r.json()["error"]["message"]


def test_regions_and_domains(api: Any) -> None:
    regions = api.client.get("/identity/v3/regions", headers=api.admin).json()["regions"]
    assert [r["id"] for r in regions] == ["RegionOne"]
    domains = api.client.get("/identity/v3/domains", headers=api.admin).json()["domains"]
    assert [(d["id"], d["name"], d["enabled"]) for d in domains] == [
        ("default", "Default", True)]
    assert api.client.get("/identity/v3/domains?name=Nope",
                          headers=api.admin).json()["domains"] == []
    assert api.client.get("/identity/v3/domains/default",
                          headers=api.admin).json()["domain"]["name"] == "Default"
    assert api.client.get("/identity/v3/domains/nope", headers=api.admin).status_code == 404
    assert api.client.get("/identity/v3/domains?enabled=maybe",
                          headers=api.admin).status_code == 400


@pytest.mark.parametrize("path", ["/identity/v3/services", "/identity/v3/endpoints",
                                  "/identity/v3/domains"])
def test_catalog_lists_are_admin_only(api: Any, path: str) -> None:
    assert api.client.get(path, headers=api.demo).status_code == 403


def test_role_assignments_with_names(api: Any) -> None:
    plain = api.client.get("/identity/v3/role_assignments?scope.project.id="
                           f"{api.demo_project_id}", headers=api.admin).json()
    assert [a["user"] for a in plain["role_assignments"]] == [
        {"id": a["user"]["id"]} for a in plain["role_assignments"]]
    named = api.client.get("/identity/v3/role_assignments?include_names=True&scope.project.id="
                           f"{api.demo_project_id}", headers=api.admin).json()
    [demo] = named["role_assignments"]
    assert demo["user"]["name"] == "demo" and demo["role"]["name"] == "member"
    assert demo["user"]["domain"] == {"id": "default", "name": "Default"}
    assert demo["scope"]["project"] == {"id": api.demo_project_id, "name": "demo",
                                        "domain": {"id": "default", "name": "Default"}}
    member = demo["role"]["id"]
    by_role = api.client.get(f"/identity/v3/role_assignments?role.id={member}&include_names=0",
                             headers=api.admin).json()["role_assignments"]
    assert {a["role"]["id"] for a in by_role} == {member} and "name" not in by_role[0]["user"]
