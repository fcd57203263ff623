"""Issue 14: 200 port creates, 50 at a time, through ``api serve --workers 2`` on PostgreSQL all
succeed with distinct addresses: two creates never pick the same IP and answer a valid
request with 409 ``duplicate key ... pk_net_ip_allocations``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import HTTP_TIMEOUT, serve_api, throwaway_postgres

pytestmark = pytest.mark.e2e

IN_FLIGHT, CREATES = 50, 200


def test_port_creates_fifty_at_a_time_on_two_workers_all_succeed(tmp_path: Path) -> None:
    with throwaway_postgres() as url, serve_api(tmp_path, url, workers=2) as api:
        with api.client(api.admin_token) as c:
            r = c.post("/network/v2.0/networks", json={"network": {
                "name": "race", "shared": True, "provider:network_type": "vlan",
                "provider:physical_network": "physnet1", "provider:segmentation_id": 15}})
            assert r.status_code == 201, r.text
            net = r.json()["network"]["id"]
            r = c.post("/network/v2.0/subnets", json={"subnet": {
                "network_id": net, "cidr": "10.9.0.0/16", "ip_version": 4}})
            assert r.status_code == 201, r.text
        def create(_: int) -> tuple[int, str]:
            # A fresh connection each: uvicorn spreads connections over both workers.
            with httpx.Client(base_url=api.base_url, timeout=HTTP_TIMEOUT,
                              headers={"X-Auth-Token": api.demo_token}) as client:
                answer = client.post("/network/v2.0/ports", json={"port": {
                    "network_id": net, "binding:vnic_type": "direct"}})
            return answer.status_code, answer.text

        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            answers = list(pool.map(create, range(CREATES)))
        refused = [text for status, text in answers if status != 201]
        assert not refused, (len(refused), refused[:2])
        with api.client(api.admin_token) as c:
            ports = c.get("/network/v2.0/ports", params={"network_id": net}).json()["ports"]
        addresses = [ip["ip_address"] for p in ports for ip in p["fixed_ips"]]
        assert len(addresses) == len(set(addresses)) == CREATES
