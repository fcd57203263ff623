"""create_app's routing: each API answers under its own prefix only (``GET /compute`` as much
as ``/compute/v2.1/...``); a path no route has is a 404 and a wrong method a 405 (with
``Allow``) in the envelope of the API the path names, never a slash redirect; a root_path in
front of the app is honoured; /metrics counts a miss as ``unmatched``; FastAPI's native
OpenTelemetry stays out of the way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from opentelemetry import _logs, metrics, trace

from sriovstack.api import ApiSettings, build_services, create_app
from sriovstack.api.errors import Problem, envelope_for, render
from sriovstack.clock import FakeClock
from sriovstack.db import Database
from tests.conftest import AGENT_PASSWORD, AGENT_USER, issue_token


@pytest.fixture(scope="module")
def app_parts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, str]]:
    tmp: Path = tmp_path_factory.mktemp("routing")
    db = Database(f"sqlite:///{tmp / 'api.db'}")
    db.create_schema()
    settings = ApiSettings(base_url="http://testserver", database_url=db.url,
                           image_dir=tmp / "images")
    services = build_services(settings, db, clock=FakeClock())
    services.identity.bootstrap("admin-pw", service_users={AGENT_USER: AGENT_PASSWORD})
    app = create_app(settings, services)
    with TestClient(app) as client:
        yield app, issue_token(client, AGENT_USER, AGENT_PASSWORD, "service")
    db.dispose()


@pytest.fixture
def client(app_parts: tuple[object, str]) -> Iterator[TestClient]:
    app, token = app_parts
    with TestClient(app, follow_redirects=False,  # type: ignore[arg-type]
                    headers={"X-Auth-Token": token, "Accept": "application/json"}) as c:
        yield c


@pytest.mark.parametrize("path, status", [
    ("/identity", 300), ("/identity/", 300), ("/network", 200), ("/compute", 200),
    ("/compute/v2.1", 200), ("/image", 200), ("/placement", 200), ("/placement/", 200),
])
def test_each_api_answers_at_its_bare_prefix(client: TestClient, path: str,
                                              status: int) -> None:
    assert client.get(path).status_code == status


@pytest.mark.parametrize("path", [
    "/identity/v3/nothing", "/network/v2.0/nothing", "/compute/v2.1/nothing",
    "/image/v2/nothing", "/placement/nothing", "/internal/v1/nothing",
    "/computer/v2.1/servers", "/identityx", "/nothing",
    # a route's path with a slash more is no route: 404, not a redirect to the route
    "/network/v2.0/ports/", "/compute/v2.1/servers/", "/internal/v1/hosts/h1/revision/",
    "/image/v2/images/",
])
def test_a_path_no_route_has_is_404_in_the_envelope_it_names(client: TestClient,
                                                             path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "location" not in response.headers
    rid = response.headers["x-openstack-request-id"]
    problem = Problem(404, f"The resource could not be found: GET {path}")
    assert response.json() == render(envelope_for(path), problem, rid)


@pytest.mark.parametrize("method, path", [
    ("PUT", "/identity/v3/auth/tokens"), ("DELETE", "/network/v2.0/ports"),
    ("PUT", "/compute/v2.1/servers"), ("POST", "/image/v2/images/x"),
    ("DELETE", "/placement/resource_providers"), ("DELETE", "/internal/v1/hosts/h1/revision"),
])
def test_a_wrong_method_is_405_in_the_envelope_with_allow(client: TestClient, method: str,
                                                          path: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"]
    problem = Problem(405, f"Method {method} is not allowed on {path}")
    rid = response.headers["x-openstack-request-id"]
    assert response.json() == render(envelope_for(path), problem, rid)


def test_routes_match_below_a_root_path(app_parts: tuple[object, str]) -> None:
    app, token = app_parts
    with TestClient(app, root_path="/cloud",  # type: ignore[arg-type]
                    headers={"X-Auth-Token": token}) as client:
        assert client.get("/cloud/compute/v2.1").status_code == 200
        assert client.get("/cloud/internal/v1/hosts/h1/revision").status_code == 200
        assert client.get("/cloud/compute/v2.1/nothing").status_code == 404


def test_metrics_count_a_miss_as_unmatched_and_a_hit_by_its_template(
        client: TestClient) -> None:
    client.get("/network/v2.0/no/such/route")
    client.get("/internal/v1/hosts/h1/revision")
    text = client.get("/metrics").text
    assert 'route="unmatched"' in text
    assert '/network/v2.0/no/such/route' not in text
    assert 'route="/internal/v1/hosts/{host}/revision"' in text


def test_a_request_never_looks_for_opentelemetry_providers(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """sriovstack's telemetry is /metrics: FastAPI's native OpenTelemetry is off, so no
    request asks for the global tracer, meter or logger provider."""
    asked: list[str] = []
    for module, getter in ((trace, "get_tracer_provider"), (metrics, "get_meter_provider"),
                           (_logs, "get_logger_provider")):
        monkeypatch.setattr(module, getter, lambda name=getter: asked.append(name))
    assert client.get("/compute/v2.1").status_code == 200
    assert asked == []
