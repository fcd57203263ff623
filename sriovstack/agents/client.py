"""The agents' only way to the control plane: the internal API over httpx with a service token.

The transport is swappable (an in-process ASGI/TestClient transport in tests, the network in
production).  The client logs in with the service user's password (keystone v3 password auth,
scoped to the service project), sends the token on each call, and logs in again once when a
call comes back 401 (the token expired or the API restarted with a new key).  Every httpx or
HTTP failure is translated here into the sriovstack error tree: unreachable or 5xx →
Unreachable, 400 → Invalid, 401 → Unauthorized, 403 → Forbidden, 404 → NotFound,
409 → Conflict.
"""

from __future__ import annotations

import configparser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from sriovstack.errors import (ConfigError, Invalid, SriovstackError, Unauthorized, Unreachable,
                               envelope_message, error_for_status)
from sriovstack.wire import (DesiredState, DeviceReport, Heartbeat, HeartbeatAnswer, HostRevision,
                             InventoryCounts, InventoryReport, LinkAnswer, LinkReport, PortAnswer,
                             ServerAnswer, ServerReport, ConsoleAnswer, ConsoleReport)

__all__ = ["ServiceCredentials", "ControlPlaneClient", "load_credentials"]

_CREDENTIALS_SECTION = "service_user"  # nova.conf's section for its own service user
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ServiceCredentials:
    """A service user (role ``service``) and the project its token is scoped to."""

    username: str
    password: str
    project_name: str = "service"
    domain_name: str = "Default"

    def __repr__(self) -> str:  # never print the password
        return f"ServiceCredentials({self.username!r}, project={self.project_name!r})"

    def auth_body(self) -> dict[str, Any]:
        """The keystone v3 password-auth body, scoped to the project."""
        domain = {"name": self.domain_name}
        return {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": self.username, "domain": domain, "password": self.password}}},
            "scope": {"project": {"name": self.project_name, "domain": domain}}}}


def load_credentials(path: str | Path) -> ServiceCredentials:
    """Read ``[service_user] username, password, project_name`` from an ini file.

    Raises ConfigError naming the file and the missing or empty option.
    """
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read the credentials file: {exc.strerror}", file=str(path),
                          option="--credentials", fix="give an ini file with a "
                          "[service_user] section (username, password)") from exc
    except configparser.Error as exc:
        raise ConfigError(f"not an ini file: {exc.message}", file=str(path),
                          option="--credentials") from exc
    values: dict[str, str] = {}
    for option in ("username", "password"):
        value = parser.get(_CREDENTIALS_SECTION, option, fallback="").strip()
        if not value:
            raise ConfigError("missing or empty", file=str(path), section=_CREDENTIALS_SECTION,
                              option=option, fix=f"set {option} of the agents' service user")
        values[option] = value
    project = parser.get(_CREDENTIALS_SECTION, "project_name", fallback="service").strip()
    return ServiceCredentials(values["username"], values["password"], project or "service")


def _message(response: httpx.Response) -> str:
    """The message of an OpenStack error envelope, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    return envelope_message(body) or str(body)[:200]


class ControlPlaneClient:
    """The internal agent API (``/internal/v1``) for one agent, with a service token."""

    def __init__(self, base_url: str, credentials: ServiceCredentials, *,
                 transport: httpx.BaseTransport | None = None, timeout: float = 30.0) -> None:
        self._base = base_url.rstrip("/")
        self._credentials = credentials
        self._http = httpx.Client(base_url=self._base, transport=transport,
                                  timeout=httpx.Timeout(timeout))
        self._token: str | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ControlPlaneClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the internal API, one method per endpoint ------------------------------------------

    def heartbeat(self, host: str, beat: Heartbeat) -> HeartbeatAnswer:
        """Report the agent alive; the answer says whether the API counts it alive."""
        return self._exchange("POST", f"/hosts/{host}/heartbeat", beat.to_json(),
                              HeartbeatAnswer.from_json)

    def report_inventory(self, host: str, report: InventoryReport) -> InventoryCounts:
        """Replace the host's resources and whitelisted devices."""
        return self._exchange("PUT", f"/hosts/{host}/inventory", report.to_json(),
                              InventoryCounts.from_json)

    def desired_state(self, host: str, since: int | None = None,
                      wait: float = 0.0) -> DesiredState:
        """The host's desired state; with ``since``, waits up to ``wait`` s for a newer one."""
        params = {"since": since, "wait": wait} if since is not None else None
        return self._exchange("GET", f"/hosts/{host}/desired-state", None,
                              DesiredState.from_json, params, timeout=wait + 30.0)

    def watch_revision(self, host: str, since: int, wait: float) -> HostRevision:
        """The host's revision once it exceeds ``since``, or after ``wait`` s unchanged.

        Raises NotFound when the API predates the endpoint (the caller polls instead)."""
        return self._exchange("GET", f"/hosts/{host}/revision", None, HostRevision.from_json,
                              {"since": since, "wait": wait}, timeout=wait + 30.0)

    def report_server(self, host: str, server_id: str, report: ServerReport) -> ServerAnswer:
        """Say the server's guest runs (→ ACTIVE) or failed (→ ERROR, with the message)."""
        return self._exchange("POST", f"/hosts/{host}/servers/{server_id}/status",
                              report.to_json(), ServerAnswer.from_json)

    def report_console(self, host: str, server_id: str, report: ConsoleReport) -> ConsoleAnswer:
        """Append the guest's new console lines (what the virt driver did to it)."""
        return self._exchange("PUT", f"/hosts/{host}/servers/{server_id}/console",
                              report.to_json(), ConsoleAnswer.from_json)

    def report_device(self, host: str, report: DeviceReport) -> PortAnswer:
        """Say the VF device (mac, pci_slot) is up or down: its port goes ACTIVE or DOWN."""
        return self._exchange("POST", f"/hosts/{host}/devices", report.to_json(),
                              PortAnswer.from_json)

    def report_links(self, host: str, report: LinkReport) -> LinkAnswer:
        """Say which watched PFs have carrier: VFs of the others are unhealthy."""
        return self._exchange("PUT", f"/hosts/{host}/links", report.to_json(),
                              LinkAnswer.from_json)

    # -- plumbing ----------------------------------------------------------------------------

    def _exchange(self, method: str, path: str, body: Any, parse: Callable[[Any], T],
                  params: dict[str, Any] | None = None, *, timeout: float | None = None) -> T:
        """One internal API call (``path`` under /internal/v1), its answer read with the
        contract; Unreachable naming the field when the answer does not have its shape
        (agents and API of different releases)."""
        path = f"/internal/v1{path}"
        answer = self._call(method, path, body, params, timeout=timeout)
        try:
            return parse(answer)
        except Invalid as exc:
            raise Unreachable(f"{method} {path}: the API's answer is malformed: {exc.message}",
                              field=exc.field, fix="run agents and API of one release") from exc

    def _login(self) -> str:
        response = self._send("POST", "/identity/v3/auth/tokens",
                              self._credentials.auth_body(), None, None, {})
        if response.status_code != 201:
            raise self._error(response, "log in as the agents' service user "
                              f"{self._credentials.username!r}")
        token = str(response.headers.get("X-Subject-Token", ""))
        if not token:
            raise Unreachable(f"{self._base}: the identity API gave no X-Subject-Token",
                              fix="point --api at a sriovstack API")
        return token

    def _call(self, method: str, path: str, body: Any, params: dict[str, Any] | None = None,
              *, timeout: float | None = None) -> Any:
        """One call with the token (the answer's JSON); on 401 one fresh login and a retry."""
        for attempt in (1, 2):
            if self._token is None:
                self._token = self._login()
            response = self._send(method, path, body, params, timeout,
                                  {"X-Auth-Token": self._token})
            if response.status_code == 401 and attempt == 1:
                self._token = None
                continue
            if response.status_code >= 300:
                raise self._error(response, f"{method} {path}")
            try:
                data = response.json()
            except ValueError as exc:
                raise Unreachable(f"{method} {path}: the API answered with no JSON body",
                                  fix="point --api at a sriovstack API") from exc
            return data
        raise Unauthorized(f"{method} {path}: the API refused a fresh token")  # pragma: no cover

    def _send(self, method: str, path: str, body: Any, params: dict[str, Any] | None,
              timeout: float | None, headers: dict[str, str]) -> httpx.Response:
        try:
            return self._http.request(method, path, json=body, params=params, headers=headers,
                                      timeout=timeout if timeout is not None
                                      else httpx.USE_CLIENT_DEFAULT)
        except httpx.TimeoutException as exc:
            raise Unreachable(f"{method} {self._base}{path}: timed out ({exc.__class__.__name__})",
                              fix="check that the API is up; the agent retries") from exc
        except httpx.HTTPError as exc:
            raise Unreachable(f"{method} {self._base}{path}: cannot reach the API ({exc})",
                              fix="check --api and that the API is up; the agent retries"
                              ) from exc

    def _error(self, response: httpx.Response, what: str) -> SriovstackError:
        cls = error_for_status(response.status_code, Unreachable)
        return cls(f"{what}: HTTP {response.status_code}: {_message(response)}",
                   status=response.status_code)
