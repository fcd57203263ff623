"""CloudSession: the client commands' one way to the API (keystone v3 password auth, catalog,
JSON calls whose OpenStack error envelopes become sriovstack errors with the server's message)."""

from __future__ import annotations

from typing import Any

import httpx

from sriovstack.cli.clouds import Cloud
from sriovstack.errors import (NotFound, SriovstackError, Unreachable, envelope_message,
                               error_for_status)

__all__ = ["CloudSession"]



class CloudSession:
    """An authenticated session on one cloud; ``transport`` swaps the network (tests)."""

    def __init__(self, cloud: Cloud, *, transport: httpx.BaseTransport | None = None,
                 timeout: float = 30.0) -> None:
        self.cloud = cloud
        # JSON errors from every API (glance answers */* with webob's HTML, as openstacksdk
        # knows: it asks for JSON too)
        self._http = httpx.Client(transport=transport, timeout=timeout,
                                  headers={"Accept": "application/json"})
        self._token = ""
        self._catalog: dict[str, str] = {}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CloudSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _authenticate(self) -> None:
        c = self.cloud
        base = c.auth_url.rstrip("/")
        url = f"{base}/auth/tokens" if base.endswith("/v3") else f"{base}/v3/auth/tokens"
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": c.username, "password": c.password, "domain": {"name": c.user_domain}}}},
            "scope": {"project": {"name": c.project_name,
                                  "domain": {"name": c.project_domain}}}}}
        response = self._send("POST", url, body)
        self._token = response.headers.get("x-subject-token", "")
        for entry in response.json()["token"].get("catalog", []):
            for ep in entry["endpoints"]:
                if ep["interface"] == "public" and ep.get("region_id") in (c.region, None):
                    self._catalog[entry["type"]] = ep["url"].rstrip("/")

    def endpoint(self, service_type: str) -> str:
        """The public URL of ``service_type`` from the token's catalog (NotFound if absent)."""
        if not self._token:
            self._authenticate()
        if service_type not in self._catalog:
            raise NotFound(f"the catalog of cloud {self.cloud.name!r} has no {service_type} "
                           "service", field="service_type", value=service_type)
        return self._catalog[service_type]

    def call(self, method: str, service_type: str, path: str,
             body: dict[str, Any] | None = None, *,
             microversion: str | None = None) -> dict[str, Any]:
        """``method`` on ``service_type``'s ``path``; the decoded JSON body ({} when none).
        ``microversion``: the API version to ask for (OpenStack-API-Version)."""
        url = f"{self.endpoint(service_type)}{path}"
        headers = {"X-Auth-Token": self._token}
        if microversion is not None:
            headers["OpenStack-API-Version"] = f"{service_type} {microversion}"
        response = self._send(method, url, body, headers)
        return response.json() if response.content else {}

    def _send(self, method: str, url: str, body: dict[str, Any] | None,
              headers: dict[str, str] | None = None) -> httpx.Response:
        try:
            response = self._http.request(method, url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot reach {url}: {exc}",
                              fix="is `sriovstack all-in-one` running, and is the auth_url "
                                  "in clouds.yaml right?") from exc
        if response.status_code >= 400:
            raise _error(method, url, response)
        return response


def _error(method: str, url: str, response: httpx.Response) -> SriovstackError:
    """The sriovstack error for an OpenStack error response, carrying the server's message."""
    message = response.text.strip() or response.reason_phrase
    try:
        body = response.json()
    except ValueError:
        body = None
    message = envelope_message(body) or message
    cls = error_for_status(response.status_code, SriovstackError)
    return cls(f"{method} {url}: {response.status_code} {message}",
               status=response.status_code)
