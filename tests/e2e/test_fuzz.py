"""Bad input never gets a 5xx: schemathesis fuzzes every operation of the app's OpenAPI spec in
process on PostgreSQL (admin, demo or service token, a bounded number of examples each), and a table
of hand-made bad requests (unknown fields, wrong types, huge bodies, NUL bytes, other projects'
ids) gets a 4xx in the envelope of the API it was sent to."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup

from sriovstack.api.app import create_app
from sriovstack.api.services import build_services
from sriovstack.api.settings import ApiSettings
from sriovstack.conf.loader import load_config
from sriovstack.db import Database
from tests.e2e.conftest import (ADMIN_PASSWORD, AGENT_PASSWORD, AGENT_USER, CONTROLLER_FILES,
                                COMPUTE_HEARTBEAT, DEMO_PASSWORD, chapter_inventory,
                                password_body, sriov_heartbeat, throwaway_postgres)

pytestmark = pytest.mark.e2e

# Examples per operation and mode: 15 x ~90 operations x 3 runs take 1-2 minutes on 2 cores.
FUZZ_EXAMPLES = int(os.environ.get("SRIOVSTACK_FUZZ_EXAMPLES", "15"))
_CIRROS = "6d1b6e8a-7c2f-4b8e-9d3a-1f2e3d4c5b6a"  # the seeded cirros image


@dataclass(frozen=True)
class FuzzTarget:
    """The app in process on PostgreSQL with a registered host and one admin network and port."""

    app: FastAPI
    client: TestClient
    admin: dict[str, str]
    demo: dict[str, str]
    service: dict[str, str]
    admin_network: str
    admin_port: str
    admin_server: str


def _token(client: TestClient, user: str, password: str, project: str) -> dict[str, str]:
    r = client.post("/identity/v3/auth/tokens", json=password_body(user, password, project))
    assert r.status_code == 201, r.text
    # JSON errors everywhere (glance answers */* with webob's HTML, as openstacksdk knows)
    return {"X-Auth-Token": r.headers["X-Subject-Token"], "Accept": "application/json"}


def _seed(client: TestClient, admin: dict[str, str], service: dict[str, str],
          root: Path) -> tuple[str, str, str]:
    r = client.put("/internal/v1/hosts/compute0/inventory", headers=service,
                   json=chapter_inventory(root))
    assert r.status_code == 200, r.text
    for beat in (COMPUTE_HEARTBEAT, sriov_heartbeat()):
        assert client.post("/internal/v1/hosts/compute0/heartbeat", json=beat,
                           headers=service).status_code == 200
    r = client.post("/network/v2.0/networks", headers=admin, json={"network": {
        "name": "web", "provider:network_type": "vlan", "provider:physical_network": "physnet1",
        "provider:segmentation_id": 15}})
    assert r.status_code == 201, r.text
    net = r.json()["network"]["id"]
    r = client.post("/network/v2.0/subnets", headers=admin, json={"subnet": {
        "network_id": net, "cidr": "10.0.0.0/24", "ip_version": 4}})
    assert r.status_code == 201, r.text
    r = client.post("/network/v2.0/ports", headers=admin, json={"port": {
        "network_id": net, "binding:vnic_type": "direct"}})
    assert r.status_code == 201, r.text
    port = r.json()["port"]["id"]
    r = client.post("/compute/v2.1/servers", headers=admin, json={"server": {
        "name": "web1", "flavorRef": "1", "imageRef": _CIRROS, "networks": [{"port": port}]}})
    assert r.status_code == 202, r.text
    return net, port, r.json()["server"]["id"]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    with throwaway_postgres() as url:
        db = Database(url)
        db.create_schema()
        api_settings = ApiSettings(base_url="http://testserver", database_url=url,
                                   deployment=load_config(CONTROLLER_FILES))
        services = build_services(api_settings, db)
        services.identity.bootstrap(ADMIN_PASSWORD, demo_password=DEMO_PASSWORD,
                                    service_users={AGENT_USER: AGENT_PASSWORD})
        app = create_app(api_settings, services)
        with TestClient(app) as client:
            admin = _token(client, "admin", ADMIN_PASSWORD, "admin")
            service = _token(client, AGENT_USER, AGENT_PASSWORD, "service")
            seeded = _seed(client, admin, service, tmp_path_factory.mktemp("compute0"))
            yield FuzzTarget(app, client, admin, _token(client, "demo", DEMO_PASSWORD, "demo"),
                             service, *seeded)
        db.dispose()


def _schema(app: FastAPI) -> Any:
    """The app's own OpenAPI document; the long polls (desired state, host revision) are left
    out: they hold the request up to their wait, past the fuzzer's read timeout."""
    return schemathesis.openapi.from_asgi("/openapi.json", app).exclude(
        path_regex=r"/(desired-state|revision)$")


def assert_envelope(path: str, status: int, body: Any) -> None:
    """A 4xx body is the OpenStack error envelope of the API ``path`` belongs to."""
    family = path.lstrip("/").split("/", 1)[0]
    if family == "network":
        assert set(body) == {"NeutronError"} and body["NeutronError"]["message"], body
    elif family == "compute":
        [(_, inner)] = body.items()
        assert inner["code"] == status and inner["message"], body
    elif family == "image":
        assert body["code"].startswith(str(status)) and body["message"], body
    elif family == "placement":
        assert body["errors"][0]["status"] == status, body
    else:  # identity and internal
        assert body["error"]["code"] == status and body["error"]["message"], body


def _exhausted(response: Any) -> bool:
    """The one 5xx by design: the tenant VLAN pool ran dry (ML2 answers 503, issue 3)."""
    if response.status_code != 503:
        return False
    return response.json().get("NeutronError", {}).get("type") == "NoNetworkAvailable"


def _fuzz(operation: Any, mode: GenerationMode, caller: dict[str, str],
          t: FuzzTarget) -> list[str]:
    """Up to FUZZ_EXAMPLES cases of one operation; the failures found, one line each."""
    failures: list[str] = []
    headers = t.service if operation.path.startswith("/internal") else caller

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        if _exhausted(response):
            return
        try:
            case.validate_response(response, checks=[not_a_server_error])
            if 400 <= response.status_code < 500 and case.method not in ("HEAD", "OPTIONS") \
                    and response.status_code != 405:
                assert_envelope(case.path, response.status_code, response.json())
        except (AssertionError, FailureGroup, ValueError) as exc:
            failures.append(f"{operation.label}: {response.status_code} "
                            f"{response.text[:200]!r} for {case.as_curl_command()[:300]}: "
                            f"{str(exc)[:200]}")

    try:
        run()
    except Unsatisfiable:  # nothing to make invalid (no parameters, no body): nothing to send
        assert mode is GenerationMode.NEGATIVE, operation.label
    return failures


@pytest.mark.parametrize("mode, caller", [
    (GenerationMode.POSITIVE, "admin"), (GenerationMode.NEGATIVE, "admin"),
    (GenerationMode.POSITIVE, "demo")], ids=["positive-admin", "negative-admin", "positive-demo"])
def test_no_operation_answers_5xx(target: FuzzTarget, mode: GenerationMode,
                                  caller: str) -> None:
    headers = target.admin if caller == "admin" else target.demo
    failures: list[str] = []
    operations = 0
    for result in _schema(target.app).get_all_operations():
        failures.extend(_fuzz(result.ok(), mode, headers, target))
        operations += 1
    assert operations > 80  # every API is in the spec
    assert failures == [], "\n".join(failures[:40])


_HUGE = "x" * (2 * 1024 * 1024)

# (method, path, caller, body, status); {net}, {port}, {server}: admin's network, port, server.
BAD_REQUESTS = [
    pytest.param("POST", "/network/v2.0/networks", "admin",
                 {"network": {"name": "n", "colour": 1}}, 400, id="unknown-field-network"),
    pytest.param("POST", "/compute/v2.1/servers", "admin",
                 {"server": {"name": "v", "flavorRef": "1", "imageRef": "x", "colour": 1}}, 400,
                 id="unknown-field-server"),
    pytest.param("PUT", "/internal/v1/hosts/h/inventory", "service",
                 {"resources": {"vcpus": 1, "memory_mb": 1, "disk_gb": 1}, "extra": 1}, 400,
                 id="unknown-field-inventory"),
    pytest.param("POST", "/identity/v3/auth/tokens", "nobody",
                 {"auth": {"identity": {"methods": 7}}}, 400, id="wrong-type-auth"),
    pytest.param("POST", "/network/v2.0/subnets", "admin",
                 {"subnet": {"network_id": "{net}", "cidr": 10, "ip_version": "four"}}, 400,
                 id="wrong-type-subnet"),
    pytest.param("PUT", "/network/v2.0/ports/{port}", "admin",
                 {"port": {"admin_state_up": "yes!"}}, 400, id="wrong-type-port-update"),
    pytest.param("POST", "/compute/v2.1/servers", "admin", {"server": []}, 400,
                 id="wrong-type-server"),
    pytest.param("POST", "/network/v2.0/networks", "admin", [1, 2, 3], 400,
                 id="wrong-type-body"),
    pytest.param("POST", "/network/v2.0/networks", "admin", {"network": {"name": "a\x00b"}},
                 400, id="nul-network-name"),
    pytest.param("POST", "/compute/v2.1/servers", "admin",
                 {"server": {"name": "v\x00", "flavorRef": "1", "imageRef": _CIRROS}}, 400,
                 id="nul-server-name"),
    pytest.param("POST", "/identity/v3/auth/tokens", "nobody", {"auth": {"identity": {
        "methods": ["password"], "password": {"user": {
            "name": "ad\x00min", "domain": {"name": "Default"}, "password": "p"}}}}}, 400,
                 id="nul-user-name"),
    pytest.param("POST", "/internal/v1/hosts/h%00/heartbeat", "service",
                 {"agent_type": "Compute agent", "binary": "b\x00"}, 400, id="nul-heartbeat"),
    pytest.param("POST", "/network/v2.0/networks", "admin", {"network": {"name": _HUGE}}, 413,
                 id="huge-network"),
    pytest.param("POST", "/compute/v2.1/servers", "admin", {"server": {"name": _HUGE}}, 413,
                 id="huge-server"),
    pytest.param("GET", "/network/v2.0/networks/{net}", "demo", None, 404,
                 id="other-project-show"),
    pytest.param("PUT", "/network/v2.0/ports/{port}", "demo", {"port": {"name": "mine"}}, 404,
                 id="other-project-update"),
    pytest.param("DELETE", "/network/v2.0/networks/{net}", "demo", None, 404,
                 id="other-project-delete"),
    pytest.param("POST", "/network/v2.0/ports", "demo", {"port": {"network_id": "{net}"}}, 404,
                 id="other-project-port-on-network"),
    pytest.param("POST", "/compute/v2.1/servers", "demo", {"server": {
        "name": "v", "flavorRef": "1", "imageRef": _CIRROS, "networks": [{"port": "{port}"}]}},
                 400, id="other-project-port-on-server"),  # nova: 400 "Port ... not found"
    pytest.param("GET", "/compute/v2.1/servers/{server}", "demo", None, 404,
                 id="other-project-server-show"),
    pytest.param("DELETE", "/compute/v2.1/servers/{server}", "demo", None, 404,
                 id="other-project-server-delete"),
    pytest.param("POST", "/compute/v2.1/servers/{server}/action", "demo", {"migrate": None},
                 404, id="other-project-server-action"),
]


def _fill(value: Any, t: FuzzTarget) -> Any:
    if isinstance(value, str):
        return (value.replace("{net}", t.admin_network).replace("{port}", t.admin_port)
                .replace("{server}", t.admin_server))
    if isinstance(value, dict):
        return {k: _fill(v, t) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, t) for v in value]
    return value


@pytest.mark.parametrize("method, path, caller, body, status", BAD_REQUESTS)
def test_bad_requests_get_4xx_in_their_apis_envelope(target: FuzzTarget, method: str,
                                                     path: str, caller: str, body: Any,
                                                     status: int) -> None:
    headers = {"admin": target.admin, "demo": target.demo, "service": target.service,
               "nobody": {}}[caller]
    r = target.client.request(method, _fill(path, target), headers=headers,
                              json=_fill(body, target))
    assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text[:300]}"
    assert_envelope(path, status, r.json())
    if "\x00" in str(body) or "%00" in path:  # the message says what is wrong
        assert "NUL" in r.text, r.text[:300]
    if caller == "demo":  # nothing of the other project's resource shows through
        assert "could not be found" in r.text and "web" not in r.text, r.text[:300]
