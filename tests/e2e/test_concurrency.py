"""Many clients boot more SR-IOV servers than there are free VFs, at once, against two API
workers on PostgreSQL: no VF is ever held by two servers, the losers end in ERROR saying why,
and after deleting everything nothing stays claimed (database, placement and ports agree)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from tests.e2e.conftest import (VFS_PER_PF, ServedApi, chapter_inventory, lift_compute_quotas,
                                register_host, serve_api, stand_in_agent, throwaway_postgres,
                                vf_usage, wait_for)

pytestmark = pytest.mark.e2e

CIRROS = "cirros"


@pytest.fixture
def pg_url() -> Iterator[str]:
    with throwaway_postgres() as url:
        yield url


def _devices(database_url: str) -> list[tuple[tuple[str, str], str, str | None]]:
    """((host, address), status, owner) of every PCI device of the cloud, from the database."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT h.name, d.address, d.status, d.owner FROM pci_devices d "
                "JOIN hosts h ON h.id = d.host_id ORDER BY h.name, d.address"))
            return [((r[0], r[1]), r[2], r[3]) for r in rows]
    finally:
        engine.dispose()


def _workers(api: ServedApi) -> list[int]:
    """The uvicorn worker processes (spawned children; the resource tracker is not one)."""
    def cmdline(pid: int) -> str:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    return [pid for pid in api.child_pids() if "spawn_main" in cmdline(pid)]


def _network(api: ServedApi) -> str:
    with api.client(api.admin_token) as c:
        r = c.post("/network/v2.0/networks", json={"network": {
            "name": "race", "provider:network_type": "vlan",
            "provider:physical_network": "physnet1", "provider:segmentation_id": 15}})
        assert r.status_code == 201, r.text
        net_id: str = r.json()["network"]["id"]
        r = c.post("/network/v2.0/subnets", json={"subnet": {
            "network_id": net_id, "cidr": "10.9.0.0/24", "ip_version": 4}})
        assert r.status_code == 201, r.text
        return net_id


def _boot(api: ServedApi, net_id: str, n: int, start: threading.Barrier) -> tuple[str, str]:
    """One client: its own direct port, then a server on it; returns (server id, port id)."""
    with api.client(api.admin_token) as c:
        r = c.post("/network/v2.0/ports", json={"port": {
            "network_id": net_id, "name": f"vf-{n}", "binding:vnic_type": "direct"}})
        assert r.status_code == 201, r.text
        port_id = r.json()["port"]["id"]
        start.wait(timeout=60)
        r = c.post("/compute/v2.1/servers", json={"server": {
            "name": f"race-{n}", "imageRef": _image_id(c), "flavorRef": "1",
            "networks": [{"port": port_id}]}})
        assert r.status_code == 202, r.text
        return r.json()["server"]["id"], port_id


def _image_id(c: httpx.Client) -> str:
    [image] = c.get("/image/v2/images", params={"name": CIRROS}).json()["images"]
    image_id: str = image["id"]
    return image_id


class _Sampler:
    """Reads every port's pci_slot while the race runs and records any slot bound twice."""

    def __init__(self, api: ServedApi) -> None:
        self.api = api
        self.doubles: list[dict[tuple[str, str], int]] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        with self.api.client(self.api.admin_token) as c:
            while not self._stop.is_set():
                ports = c.get("/network/v2.0/ports").json()["ports"]
                slots = Counter((p["binding:host_id"], p["binding:profile"]["pci_slot"])
                                for p in ports if p["binding:profile"].get("pci_slot"))
                twice = {slot: n for slot, n in slots.items() if n > 1}
                if twice:
                    self.doubles.append(twice)
                self.samples += 1
                self._stop.wait(0.05)


def _servers(c: httpx.Client, ids: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for server_id in ids:
        r = c.get(f"/compute/v2.1/servers/{server_id}")
        assert r.status_code == 200, r.text
        out[server_id] = r.json()["server"]
    return out


def _settled(c: httpx.Client, ids: list[str]) -> dict[str, dict[str, Any]] | None:
    servers = _servers(c, ids)
    if all(s["status"] in ("ACTIVE", "ERROR") for s in servers.values()):
        return servers
    return None


@pytest.mark.parametrize("hosts, servers", [
    (("compute0",), 12),  # 12 boots for 7 VFs: 5 must lose
    (("compute0", "compute1"), 20),  # 20 for 14: claims lost on one host retry on the other
], ids=["one-host", "two-hosts"])
def test_more_boots_than_vfs_from_many_clients_on_two_workers(
        pg_url: str, tmp_path: Path, hosts: tuple[str, ...], servers: int) -> None:
    vfs: set[tuple[str, str]] = set()
    inventories = {}
    for host in hosts:
        inventories[host] = chapter_inventory(tmp_path / f"{host}-root", host)
        vfs |= {(host, d["address"]) for d in inventories[host]["devices"]
                if d["dev_type"] == "type-VF"}
    # enp11s0f1's VFs (its PF is whitelisted too, but direct ports never ask for a PF)
    assert len(vfs) == VFS_PER_PF * len(hosts)
    with serve_api(tmp_path, pg_url, workers=2) as api:
        wait_for(lambda: len(_workers(api)) == 2, "two API workers", timeout=30)
        for host, inventory in inventories.items():
            register_host(api, host, inventory)
        net_id = _network(api)
        lift_compute_quotas(api)  # up to 20 servers: past nova's default of 10
        with ExitStack() as agents:
            running = [agents.enter_context(stand_in_agent(api, host)) for host in hosts]
            _race(api, net_id, vfs, servers)
        assert all(not agent.errors for agent in running), [a.errors for a in running]
    assert "Traceback" not in api.log(), api.log()[-4000:]


def _race(api: ServedApi, net_id: str, vfs: set[tuple[str, str]], count: int) -> None:
    start = threading.Barrier(count)
    with _Sampler(api) as sampler, ThreadPoolExecutor(max_workers=count) as pool:
        booted = list(pool.map(lambda n: _boot(api, net_id, n, start), range(count)))
        with api.client(api.admin_token) as c:
            ids = [server_id for server_id, _ in booted]
            servers = wait_for(lambda: _settled(c, ids), "every server ACTIVE or ERROR",
                               timeout=180)
    assert sampler.samples > 0 and sampler.doubles == []

    active = [s for s in servers.values() if s["status"] == "ACTIVE"]
    failed = [s for s in servers.values() if s["status"] == "ERROR"]
    assert (len(active), len(failed)) == (len(vfs), count - len(vfs))
    for server in failed:
        assert "PciPassthroughFilter" in server["fault"]["message"], server["fault"]
    _assert_one_vf_per_server(api, booted, {s["id"] for s in active}, vfs)
    assert sum(vf_usage(api).values()) == len(vfs)
    _assert_metrics_sum_both_workers(api, placed=len(vfs), decisions=count)

    _delete_all(api, ids)
    # Everything is free again, the PFs included (held VFs fence their PF, nova_pci.md §2.4).
    assert {(status, owner) for _, status, owner in _devices(api.database_url)} == {
        ("available", None)}
    assert sum(vf_usage(api).values()) == 0
    with api.client(api.admin_token) as c:
        ports = c.get("/network/v2.0/ports", params={"network_id": net_id}).json()["ports"]
    assert len(ports) == count
    assert all(p["binding:profile"] == {} and p["device_id"] == "" for p in ports)


def _assert_metrics_sum_both_workers(api: ServedApi, placed: int, decisions: int) -> None:
    """Whichever worker answers /metrics, it counts every worker's decisions (multiprocess
    mode) and reads the VF gauges from the database."""
    seen = set()
    for _ in range(8):  # connections spread over the two workers
        samples = {}
        text = httpx.get(f"{api.base_url}/metrics", timeout=30).text
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
        outcomes = {dict(k[1])["outcome"]: v for k, v in samples.items()
                    if k[0] == "sriovstack_scheduler_decisions_total"}
        used = sum(v for k, v in samples.items() if k[0] == "sriovstack_physnet_vfs_used")
        seen.add((outcomes.get("placed"), sum(outcomes.values()) >= decisions, used))
    assert seen == {(placed, True, placed)}, seen


def _assert_one_vf_per_server(api: ServedApi, booted: list[tuple[str, str]],
                              active: set[str], vfs: set[tuple[str, str]]) -> None:
    """Ports, the database and the active servers agree: one whitelisted VF each, no sharing."""
    held = [(where, owner) for where, _, owner in _devices(api.database_url)
            if owner is not None]
    owners = dict(held)
    assert len(held) == len(owners) == len(active) and set(owners.values()) == active
    assert set(owners) <= vfs
    with api.client(api.admin_token) as c:
        for server_id, port_id in booted:
            port = c.get(f"/network/v2.0/ports/{port_id}").json()["port"]
            slot = port["binding:profile"].get("pci_slot")
            if server_id in active:
                where = (port["binding:host_id"], slot)
                assert owners[where] == server_id and port["binding:vif_type"] == "hw_veb"
            else:  # the loser's port is left unbound for another try
                assert slot is None and port["device_id"] == "", port


def _delete_all(api: ServedApi, ids: list[str]) -> None:
    def delete(server_id: str) -> int:
        with api.client(api.admin_token) as c:
            return c.delete(f"/compute/v2.1/servers/{server_id}").status_code

    with ThreadPoolExecutor(max_workers=len(ids)) as pool:
        assert set(pool.map(delete, ids)) == {204}
    with api.client(api.admin_token) as c:
        wait_for(lambda: all(c.get(f"/compute/v2.1/servers/{i}").status_code == 404
                             for i in ids), "every server gone", timeout=60)
