"""Identity v3 over HTTP, as keystoneauth and openstackclient use it (compat §2)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import ADMIN_PASSWORD, DEMO_PASSWORD, password_body

TOKENS = "/identity/v3/auth/tokens"


@pytest.mark.parametrize("path, status", [("/identity", 300), ("/identity/", 300),
                                          ("/identity/v3", 200), ("/identity/v3/", 200)])
def test_version_documents_need_no_token(api, path: str, status: int) -> None:
    response = api.client.get(path)
    assert response.status_code == status
    body = response.json()
    version = body["versions"]["values"][0] if status == 300 else body["version"]
    assert version["id"] == "v3.14" and version["status"] == "stable"
    assert version["links"][0]["href"] == "http://testserver/identity/v3/"


def test_password_token_has_subject_header_and_full_catalog(api) -> None:
    response = api.client.post(TOKENS, json=password_body("admin", ADMIN_PASSWORD, "admin"))
    assert response.status_code == 201
    assert response.headers["X-Subject-Token"]
    token = response.json()["token"]
    assert token["methods"] == ["password"] and token["project"]["name"] == "admin"
    assert token["user"]["domain"] == {"id": "default", "name": "Default"}
    assert {r["name"] for r in token["roles"]} == {"admin", "member", "reader"}
    catalog = {entry["type"]: entry for entry in token["catalog"]}
    assert set(catalog) == {"identity", "network", "compute", "image", "placement"}
    assert catalog["compute"]["endpoints"][0]["url"] == "http://testserver/compute/v2.1"
    for entry in catalog.values():
        assert sorted(e["interface"] for e in entry["endpoints"]) == ["admin", "internal",
                                                                      "public"]
        assert all(e["region_id"] == e["region"] == "RegionOne" for e in entry["endpoints"])


def test_ids_instead_of_names_and_nocatalog(api) -> None:
    admin = api.services.identity.tokens.validate(api.admin_token)
    body = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"id": admin.user.id, "password": ADMIN_PASSWORD}}},
        "scope": {"project": {"id": api.admin_project_id}}}}
    response = api.client.post(f"{TOKENS}?nocatalog=1", json=body)
    assert response.status_code == 201
    assert "catalog" not in response.json()["token"]


def test_token_method_rescopes(api) -> None:
    unscoped = api.client.post(TOKENS, json=password_body("demo", DEMO_PASSWORD, None))
    assert "project" not in unscoped.json()["token"]
    body = {"auth": {"identity": {"methods": ["token"],
                                  "token": {"id": unscoped.headers["X-Subject-Token"]}},
                     "scope": {"project": {"name": "demo", "domain": {"id": "default"}}}}}
    response = api.client.post(TOKENS, json=body)
    assert response.status_code == 201
    assert response.json()["token"]["project"]["id"] == api.demo_project_id


@pytest.mark.parametrize("body", [
    password_body("admin", "wrong", "admin"),
    password_body("ghost", ADMIN_PASSWORD, "admin"),
    password_body("demo", DEMO_PASSWORD, "admin"),
])
def test_bad_credentials_are_401_in_keystones_envelope(api, body: dict) -> None:
    response = api.client.post(TOKENS, json=body)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 401
    assert response.json()["error"]["title"] == "Unauthorized"


@pytest.mark.parametrize("body, field", [
    ({"auth": {"identity": {"methods": ["password"]}, "bogus": 1}}, "auth.bogus"),
    ({"auth": {"identity": {"methods": "password"}}}, "auth.identity.methods"),
    ({"auth": {"identity": {"methods": ["kerberos"]}}}, "auth.identity.methods.0"),
    ({"auth": {"identity": {"methods": ["password"]}}}, "auth.identity.password"),
    ({"auth": {"identity": {"methods": ["password"], "password": {"user": {"password": "x"}}}}},
     "auth.identity.password.user"),
])
def test_malformed_auth_is_400_naming_the_field(api, body: dict, field: str) -> None:
    response = api.client.post(TOKENS, json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]["message"]


def test_domain_scope_is_refused_clearly(api) -> None:
    body = password_body("admin", ADMIN_PASSWORD, None)
    body["auth"]["scope"] = {"domain": {"id": "default"}}  # type: ignore[index]
    response = api.client.post(TOKENS, json=body)
    assert response.status_code == 400
    assert "only project scope" in response.json()["error"]["message"]


def test_validate_head_and_revoke(api) -> None:
    subject = {"X-Subject-Token": api.demo_token}
    shown = api.client.get(TOKENS, headers={**api.admin, **subject})
    assert shown.status_code == 200 and shown.headers["X-Subject-Token"] == api.demo_token
    assert shown.json()["token"]["project"]["name"] == "demo"
    assert api.client.head(TOKENS, headers={**api.admin, **subject}).status_code == 200
    assert api.client.delete(TOKENS, headers={**api.admin, **subject}).status_code == 204
    assert api.client.get(TOKENS, headers={**api.admin, **subject}).status_code == 404
    assert api.client.get("/identity/v3/projects", headers=api.demo).status_code == 401


def test_member_cannot_inspect_anothers_token(api) -> None:
    response = api.client.get(TOKENS, headers={**api.demo, "X-Subject-Token": api.admin_token})
    assert response.status_code == 403


def test_missing_subject_header_is_400(api) -> None:
    response = api.client.get(TOKENS, headers=api.admin)
    assert response.status_code == 400
    assert "X-Subject-Token" in response.json()["error"]["message"]


@pytest.mark.parametrize("headers", [{}, {"X-Auth-Token": "not-a-token"}])
def test_no_or_bad_token_is_401(api, headers: dict) -> None:
    response = api.client.get("/identity/v3/projects", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["title"] == "Unauthorized"


def test_expired_token_is_401(api) -> None:
    api.clock.advance(timedelta(hours=1, seconds=1))
    response = api.client.get("/identity/v3/projects", headers=api.admin)
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_projects_are_scoped_to_the_caller(api) -> None:
    admin_view = api.client.get("/identity/v3/projects", headers=api.admin).json()
    demo_view = api.client.get("/identity/v3/projects", headers=api.demo).json()
    assert {p["name"] for p in admin_view["projects"]} == {"admin", "demo", "service"}
    assert [p["name"] for p in demo_view["projects"]] == ["demo"]
    path = f"/identity/v3/projects/{api.admin_project_id}"
    assert api.client.get(path, headers=api.demo).status_code == 403
    assert api.client.get(path, headers=api.admin).json()["project"]["name"] == "admin"
    assert api.client.get("/identity/v3/projects/nope", headers=api.admin).status_code == 404


def test_admin_builds_a_tenant_that_can_log_in(api) -> None:
    c, h = api.client, api.admin
    project = c.post("/identity/v3/projects", headers=h, json={"project": {"name": "web"}})
    assert project.status_code == 201
    user = c.post("/identity/v3/users", headers=h,
                  json={"user": {"name": "alice", "password": "pw-alice"}})
    assert user.status_code == 201 and "password" not in user.json()["user"]
    member = c.get("/identity/v3/roles?name=member", headers=h).json()["roles"][0]
    pid, uid = project.json()["project"]["id"], user.json()["user"]["id"]
    grant = c.put(f"/identity/v3/projects/{pid}/users/{uid}/roles/{member['id']}", headers=h)
    assert grant.status_code == 204
    assigned = c.get(f"/identity/v3/role_assignments?user.id={uid}", headers=h).json()
    assert assigned["role_assignments"][0]["scope"]["project"]["id"] == pid
    token = c.post(TOKENS, json=password_body("alice", "pw-alice", "web"))
    assert token.status_code == 201
    assert c.post("/identity/v3/projects", headers=h,
                  json={"project": {"name": "web"}}).status_code == 409


@pytest.mark.parametrize("method, path, body", [
    ("post", "/identity/v3/projects", {"project": {"name": "x"}}),
    ("post", "/identity/v3/users", {"user": {"name": "x", "password": "y"}}),
    ("get", "/identity/v3/users", None),
    ("get", "/identity/v3/role_assignments", None),
])
def test_admin_only_calls_are_403_for_members(api, method: str, path: str, body) -> None:
    response = api.client.request(method, path, headers=api.demo, json=body)
    assert response.status_code == 403
    assert "admin only" in response.json()["error"]["message"]


def test_user_sees_self_and_own_projects(api) -> None:
    me = api.services.identity.tokens.validate(api.demo_token).user.id
    assert api.client.get(f"/identity/v3/users/{me}", headers=api.demo).json()["user"]["name"] \
        == "demo"
    mine = api.client.get(f"/identity/v3/users/{me}/projects", headers=api.demo).json()
    assert [p["name"] for p in mine["projects"]] == ["demo"]
    auth_projects = api.client.get("/identity/v3/auth/projects", headers=api.demo).json()
    assert [p["name"] for p in auth_projects["projects"]] == ["demo"]


def test_service_user_is_marked_service(api) -> None:
    token = api.client.get(TOKENS, headers={**api.service, "X-Subject-Token": api.service_token})
    assert [r["name"] for r in token.json()["token"]["roles"]] == ["service"]
    assert token.json()["token"]["project"]["name"] == "service"


def test_wrong_field_type_in_user_create_is_400(api) -> None:
    response = api.client.post("/identity/v3/users", headers=api.admin,
                               json={"user": {"name": ["x"], "password": "y"}})
    assert response.status_code == 400
    assert "user.name" in response.json()["error"]["message"]
