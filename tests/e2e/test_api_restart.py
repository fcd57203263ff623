"""The API killed with SIGKILL between a server's 202 and its build, then restarted: the build
lease expires, the restarted API's recovery sweep builds the server, the stand-in agent makes it
ACTIVE with exactly one VF claimed, and after delete no VF stays claimed (SQLite, PostgreSQL).

The kill lands in that window deterministically through the one test hook of compute/build.py
(``api serve --test-build-delay``: the background build sleeps before it starts).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from sriovstack.compute.build_lease import DEFAULT_LEASE_SECONDS
from tests.e2e.conftest import (ServedApi, chapter_inventory, register_host, serve_api,
                                stand_in_agent, throwaway_postgres, vf_usage, wait_for)

pytestmark = pytest.mark.e2e

HOST = "compute0"
RECOVERY_TIMEOUT = DEFAULT_LEASE_SECONDS + 60  # lease expiry + a sweep period + the boot


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sriovstack.db'}"
        return
    with throwaway_postgres() as url:
        yield url


def _claims(database_url: str) -> list[tuple[str, str, str | None]]:
    """(address, status, owner) of every PCI device claimed or allocated, from the database."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT address, status, owner FROM pci_devices "
                                     "WHERE status IN ('claimed', 'allocated') ORDER BY address"))
            return [(r[0], r[1], r[2]) for r in rows]
    finally:
        engine.dispose()


def _server_row(database_url: str, server_id: str) -> tuple[str, str | None]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT status, host FROM servers WHERE id = :id"),
                               {"id": server_id}).one()
            return row[0], row[1]
    finally:
        engine.dispose()


def _boot(api: ServedApi) -> tuple[str, str]:
    """Network, direct port, server: returns (server id, port id) once the 202 is in."""
    with api.client(api.admin_token) as c:
        r = c.post("/network/v2.0/networks", json={"network": {
            "name": "web", "provider:network_type": "vlan",
            "provider:physical_network": "physnet1", "provider:segmentation_id": 15}})
        assert r.status_code == 201, r.text
        net_id = r.json()["network"]["id"]
        r = c.post("/network/v2.0/subnets", json={"subnet": {
            "network_id": net_id, "cidr": "10.0.0.0/24", "ip_version": 4}})
        assert r.status_code == 201, r.text
        r = c.post("/network/v2.0/ports", json={"port": {
            "network_id": net_id, "name": "sr-iov", "binding:vnic_type": "direct"}})
        assert r.status_code == 201, r.text
        port_id = r.json()["port"]["id"]
        [image] = c.get("/image/v2/images", params={"name": "cirros"}).json()["images"]
        r = c.post("/compute/v2.1/servers", json={"server": {
            "name": "webserver01", "imageRef": image["id"], "flavorRef": "1",
            "networks": [{"port": port_id}]}})
        assert r.status_code == 202, r.text
        return r.json()["server"]["id"], port_id


def _kill_9(api: ServedApi) -> None:
    """SIGKILL to `api serve` and its workers (its own session), then wait until they are gone."""
    os.killpg(api.pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{api.base_url}/identity", timeout=1.0)
        except httpx.TransportError:
            return
        assert time.monotonic() < deadline, "the API still answers after SIGKILL"
        time.sleep(0.1)


def _get(api: ServedApi, path: str) -> dict[str, Any]:
    with api.client(api.admin_token) as c:
        r = c.get(path)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


def _gone(api: ServedApi, server_id: str) -> bool:
    with api.client(api.admin_token) as c:
        return c.get(f"/compute/v2.1/servers/{server_id}").status_code == 404


def test_the_api_killed_after_the_202_builds_the_server_after_restart(
        database_url: str, tmp_path: Path) -> None:
    inventory = chapter_inventory(tmp_path / "root", HOST)
    # The first API never gets to build: every build waits 600 s after the 202.
    with serve_api(tmp_path / "first", database_url, build_delay=600) as first:
        register_host(first, HOST, inventory)
        server_id, port_id = _boot(first)
        _kill_9(first)
    assert _server_row(database_url, server_id) == ("BUILD", None)
    assert _claims(database_url) == []  # the kill hit the window: nothing was claimed

    with serve_api(tmp_path / "second", database_url) as second:
        register_host(second, HOST, inventory)  # the agents heartbeat the new API
        with stand_in_agent(second, HOST):
            server = wait_for(
                lambda: (s := _get(second, f"/compute/v2.1/servers/{server_id}")["server"])
                ["status"] in ("ACTIVE", "ERROR") and s,
                "the server to be rebuilt after the restart", timeout=RECOVERY_TIMEOUT)
            assert server["status"] == "ACTIVE", server.get("fault")
            assert server["OS-EXT-SRV-ATTR:host"] == HOST
            claims = _claims(database_url)
            assert [(status, owner) for _a, status, owner in claims] == \
                [("allocated", server_id)]
            assert sum(vf_usage(second).values()) == 1
            port = _get(second, f"/network/v2.0/ports/{port_id}")["port"]
            assert port["binding:vif_type"] == "hw_veb"
            assert port["binding:profile"]["pci_slot"] == claims[0][0]

        with second.client(second.admin_token) as c:
            assert c.delete(f"/compute/v2.1/servers/{server_id}").status_code == 204
        wait_for(lambda: _gone(second, server_id), "the server to be deleted")
        assert _claims(database_url) == []
        assert sum(vf_usage(second).values()) == 0
        port = _get(second, f"/network/v2.0/ports/{port_id}")["port"]
        assert port["binding:vif_type"] == "unbound" and port["device_id"] == ""
