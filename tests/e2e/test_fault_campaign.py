"""The fault campaign of issue 10 (PostgreSQL, ``api serve --workers 2``, the real compute and
SR-IOV agents on a simulated 82576 host): concurrent boots on direct ports, deletes at random
moments 0-200 ms after the 202, a kill -9 of an API worker and of the compute agent (which is
started again); once the builds the dead worker left are recovered, ``sriovstack audit``
(the ledger and the host's live VF state) finds nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from sriovstack.compute.build_lease import DEFAULT_LEASE_SECONDS
from tests.e2e.conftest import (AGENT_PASSWORD, AGENT_USER, COMPUTE_FILES, SRIOVSTACK,
                                ServedApi, _stop, chapter_inventory, lift_compute_quotas,
                                serve_api, throwaway_postgres, wait_for, write_clouds_yaml)

pytestmark = pytest.mark.e2e

HOST = "compute0"
BOOTS = 12
SETTLE_TIMEOUT = DEFAULT_LEASE_SECONDS + 60  # a dead worker's lease expires, a sweep rebuilds


def _agent(kind: str, api: ServedApi, root: Path, workdir: Path) -> subprocess.Popen[bytes]:
    credentials = workdir / "agent-credentials.conf"
    credentials.write_text(f"[service_user]\nusername = {AGENT_USER}\n"
                           f"password = {AGENT_PASSWORD}\nproject_name = service\n")
    argv = [str(SRIOVSTACK), "agent", kind, "--host", HOST, "--root", str(root),
            "--state-dir", str(workdir / f"state-{kind}"), "--api", api.base_url,
            "--credentials", str(credentials)]
    for path in COMPUTE_FILES:
        argv += ["--config-file", str(path)]
    if kind == "compute":
        argv += ["--virt", "fake"]
    log = open(workdir / f"agent-{kind}.log", "ab")  # noqa: SIM115 (the process keeps it)
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def _call(c: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
    """One request, retried while the worker that took it was killed; None if it never got
    an answer (the campaign counts it, the audit judges what it left)."""
    for _ in range(5):
        try:
            r = c.request(method, path, **kwargs)
        except httpx.HTTPError:
            time.sleep(0.2)
            continue
        if r.status_code < 500:
            return r
        time.sleep(0.2)
    return None


def _network(c: httpx.Client) -> str:
    r = _call(c, "POST", "/network/v2.0/networks", json={"network": {
        "name": "web", "provider:network_type": "vlan",
        "provider:physical_network": "physnet1", "provider:segmentation_id": 15}})
    assert r is not None and r.status_code == 201, r and r.text
    net: str = r.json()["network"]["id"]
    r = _call(c, "POST", "/network/v2.0/subnets", json={"subnet": {
        "network_id": net, "cidr": "10.0.0.0/24", "ip_version": 4}})
    assert r is not None and r.status_code == 201, r and r.text
    return net


def _boot(api: ServedApi, net: str, delete_after: float | None, tally: dict[str, int]) -> None:
    with api.client(api.admin_token) as c:
        r = _call(c, "POST", "/network/v2.0/ports", json={"port": {
            "network_id": net, "binding:vnic_type": "direct"}})
        if r is None or r.status_code != 201:
            tally["lost"] += 1
            return
        r = _call(c, "POST", "/compute/v2.1/servers", json={"server": {
            "name": "fault", "imageRef": "6d1b6e8a-7c2f-4b8e-9d3a-1f2e3d4c5b6a",
            "flavorRef": "1", "networks": [{"port": r.json()["port"]["id"]}]}})
        if r is None or r.status_code != 202:
            tally["lost"] += 1
            return
        tally["boots"] += 1
        if delete_after is not None:
            time.sleep(delete_after)
            if _call(c, "DELETE", f"/compute/v2.1/servers/{r.json()['server']['id']}"):
                tally["deletes"] += 1


def _settled(api: ServedApi) -> bool:
    with api.client(api.admin_token) as c:
        r = _call(c, "GET", "/compute/v2.1/servers/detail?all_tenants=1")
        return r is not None and all(s["status"] in ("ACTIVE", "ERROR")
                                     for s in r.json()["servers"])


def test_after_boots_deletes_and_kill_9s_the_audit_finds_nothing(tmp_path: Path) -> None:
    rng = random.Random(10)
    root = tmp_path / "hosts" / HOST  # beside clouds.yaml: the audit reads its live VF state
    chapter_inventory(root, HOST)  # builds the simulated host and creates its VFs
    with throwaway_postgres() as url, serve_api(tmp_path / "api", url, workers=2) as api:
        agents = {kind: _agent(kind, api, root, tmp_path) for kind in ("compute", "sriov")}
        try:
            with api.client(api.admin_token) as c:
                wait_for(lambda: any(h["host"] == HOST and h["pci_total"] for h in
                                     c.get("/compute/v2.1/os-sriov-hosts").json()["hosts"]),
                         "the compute agent's inventory", timeout=60)
                net = _network(c)
            lift_compute_quotas(api)  # 12 boots: past nova's default of 10 instances
            tally = {"boots": 0, "deletes": 0, "lost": 0, "kills": 0}
            faults = threading.Timer(1.0, _kill_worker, (api, tally))
            faults.start()
            with ThreadPoolExecutor(max_workers=6) as pool:
                futures = [pool.submit(_boot, api, net,
                                       rng.uniform(0.0, 0.2) if i % 2 else None, tally)
                           for i in range(BOOTS)]
                time.sleep(1.5)
                os.kill(agents["compute"].pid, signal.SIGKILL)  # kill -9 the compute agent
                agents["compute"].wait(timeout=10)
                tally["kills"] += 1
                agents["compute"] = _agent("compute", api, root, tmp_path)
                for f in futures:
                    f.result(timeout=120)
            faults.join(timeout=10)
            assert tally["kills"] == 2 and tally["boots"] >= BOOTS // 2, tally
            wait_for(lambda: _settled(api), "every server ACTIVE or ERROR",
                     timeout=SETTLE_TIMEOUT, interval=1.0)
            clouds = write_clouds_yaml(tmp_path / "clouds.yaml", api)
            env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds),
                   "OS_CLOUD": "sriov-admin"}
            audit = wait_for(lambda: _clean_audit(env), "a clean audit", timeout=30,
                             interval=2.0)
            assert "no findings" in audit, (tally, audit)
            with api.client(api.admin_token) as c:  # nothing was repaired behind our back
                report = c.get("/compute/v2.1/os-sriov-audit").json()["audit"]
            assert report["findings"] == [] and report["repaired_total"] == 0, report
            print(f"fault campaign: {tally}")  # the figures (pytest -s shows them)
        finally:
            for process in agents.values():
                _stop(process)


def _kill_worker(api: ServedApi, tally: dict[str, int]) -> None:
    workers = api.child_pids()
    if workers:
        os.kill(workers[0], signal.SIGKILL)  # kill -9 one API worker mid-campaign
        tally["kills"] += 1


def _clean_audit(env: dict[str, str]) -> str | None:
    """The audit's output once it exits 0 (the agents may still be converging: retry)."""
    done = subprocess.run([str(SRIOVSTACK), "audit"], env=env, capture_output=True,
                          text=True, timeout=60)
    return done.stdout if done.returncode == 0 else None
