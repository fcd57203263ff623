"""The app builds over every service and answers with request ids and envelopes."""

from __future__ import annotations


def test_identity_version_document_needs_no_token(api) -> None:
    response = api.client.get("/identity/v3")
    assert response.status_code == 200
    assert response.json()["version"]["id"] == "v3.14"
    assert response.headers["x-openstack-request-id"].startswith("req-")


def test_admin_token_lists_every_bootstrap_project(api) -> None:
    response = api.client.get("/identity/v3/projects", headers=api.admin)
    assert {p["name"] for p in response.json()["projects"]} == {"admin", "demo", "service"}
