"""The agents' HTTP client against the in-process API: service-token login, a fresh login when
the token expires, and every failure translated into the sriovstack error tree; the
credentials file read with errors naming the file and option."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from sriovstack.agents import ControlPlaneClient, ServiceCredentials, load_credentials
from sriovstack.errors import (ConfigError, Conflict, Forbidden, NotFound, Unauthorized,
                               Unreachable)
from sriovstack.mac import MacAddress
from sriovstack.pci.address import PciAddress
from sriovstack.wire import DeviceReport, Heartbeat, ServerOutcome, ServerReport
from tests.agents import cloud
from tests.agents.conftest import Agents
from tests.conftest import ADMIN_PASSWORD, BASE_URL

NIC = Heartbeat("NIC Switch agent", "neutron-sriov-nic-agent", (("physnet1", ("eth1",)),))


def test_logs_in_once_and_logs_in_again_when_the_token_expires(api: Any,
                                                              client: ControlPlaneClient
                                                              ) -> None:
    assert client.heartbeat("compute0", NIC).alive is True
    token = client._token  # noqa: SLF001 - the token is what this test is about
    client.heartbeat("compute0", NIC)
    assert client._token == token  # noqa: SLF001
    api.clock.advance(api.services.settings.token_ttl.total_seconds() + 1)
    assert client.heartbeat("compute0", NIC).alive is True
    assert client._token not in (None, token)  # noqa: SLF001


def test_wrong_password_is_unauthorized_naming_the_user(api: Any) -> None:
    bad = ControlPlaneClient(BASE_URL, ServiceCredentials("sriovstack-agent", "nope"),
                             transport=api.client._transport)
    with pytest.raises(Unauthorized, match="'sriovstack-agent'.*HTTP 401"):
        bad.heartbeat("compute0", NIC)


def test_a_user_without_the_service_role_is_forbidden(api: Any) -> None:
    admin = ControlPlaneClient(BASE_URL, ServiceCredentials("admin", ADMIN_PASSWORD, "admin"),
                               transport=api.client._transport)
    with pytest.raises(Forbidden, match="service users"):
        admin.desired_state("compute0")


def test_api_errors_become_the_error_tree(api: Any, client: ControlPlaneClient,
                                          agents: Agents) -> None:
    with pytest.raises(NotFound, match="could not be found"):
        client.report_server("compute0", "6695eb01-f6a4-8304-79aa-97f2502e193f",
                             ServerReport(ServerOutcome.RUNNING))
    agents.compute().reconcile_once()
    agents.sriov().heartbeat()
    server_id = cloud.boot(api, cloud.direct_port(api, cloud.network(api))["id"])
    with pytest.raises(Conflict, match="not placed on host compute9"):
        client.report_server("compute9", server_id, ServerReport(ServerOutcome.RUNNING))
    with pytest.raises(NotFound, match="fa:16:3e:00:00:01"):
        client.report_device("compute0", DeviceReport(MacAddress("fa:16:3e:00:00:01"),
                                                      PciAddress.parse("0b:10.1"), True))


def test_a_malformed_answer_is_unavailable_naming_the_field() -> None:
    def skewed(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth/tokens"):
            return httpx.Response(201, headers={"X-Subject-Token": "t"}, json={})
        return httpx.Response(200, json={"host": "compute0", "revision": 3, "servers": [
            {"id": "s1", "name": "vm", "status": "SHELVED", "vcpus": 1, "memory_mb": 512,
             "ports": []}]})

    client = ControlPlaneClient(BASE_URL, ServiceCredentials("a", "b"),
                                transport=httpx.MockTransport(skewed))
    with pytest.raises(Unreachable, match=r"servers\[0\]\.status.*SHELVED") as info:
        client.desired_state("compute0")
    assert info.value.field == "servers[0].status"
    assert "one release" in str(info.value)


def test_an_unreachable_api_is_unavailable_naming_the_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = ControlPlaneClient("http://192.0.2.1:8080", ServiceCredentials("a", "b"),
                                transport=httpx.MockTransport(refuse))
    with pytest.raises(Unreachable, match=r"http://192\.0\.2\.1:8080/identity/v3/auth/tokens"):
        client.desired_state("compute0")


def test_a_server_error_is_unavailable_with_its_message() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth/tokens"):
            return httpx.Response(201, headers={"X-Subject-Token": "t"}, json={})
        return httpx.Response(503, json={"error": {"message": "database is down"}})

    client = ControlPlaneClient(BASE_URL, ServiceCredentials("a", "b"),
                                transport=httpx.MockTransport(broken))
    with pytest.raises(Unreachable, match="HTTP 503: database is down"):
        client.heartbeat("compute0", NIC)


def test_credentials_file(tmp_path: Path) -> None:
    good = tmp_path / "agent.conf"
    good.write_text("[service_user]\nusername = sriovstack-agent\npassword = s3cret\n")
    creds = load_credentials(good)
    assert (creds.username, creds.password, creds.project_name) == (
        "sriovstack-agent", "s3cret", "service")
    assert "s3cret" not in repr(creds)


@pytest.mark.parametrize("text, expected", [
    ("[service_user]\nusername = x\n", r"\[service_user\] password: missing or empty"),
    ("[other]\nusername = x\npassword = y\n", r"\[service_user\] username: missing"),
    ("username = x\n", "not an ini file"),
])
def test_bad_credentials_files_name_file_and_option(tmp_path: Path, text: str,
                                                    expected: str) -> None:
    path = tmp_path / "agent.conf"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected) as info:
        load_credentials(path)
    assert str(path) in str(info.value)


def test_a_missing_credentials_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="agent.conf: --credentials: cannot read"):
        load_credentials(tmp_path / "agent.conf")
