"""A cloud for kill -9 tests (tests/e2e/test_crash_steps.py): one throwaway PostgreSQL, two
simulated chapter hosts (compute0, compute1) each with its real compute and SR-IOV agents, and
``sriovstack api serve`` on a fixed port, started and restarted per case, optionally with
``SRIOVSTACK_CRASH_AT`` (sriovstack/crashpoints.py) so it kills itself at that step.

The API runs with a 2 s operation lease and a 0.5 s recovery sweep, so a dead worker's
operation is recovered within seconds of the restart. ``ledger_problems`` is the check every
case ends with: the VF ledger read from the database against the servers, their ports and
their migrations, plus the API's own audit and each host's live VF state.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from sriovstack.allinone import live_vfs
from sriovstack.compute import VfObservation, vf_state_findings
from sriovstack.crashpoints import CRASH_AT_ENV
from sriovstack.wire import NIC_AGENT_TYPE
from tests.e2e.conftest import (ADMIN_PASSWORD, AGENT_PASSWORD, AGENT_USER, COMPUTE_FILES,
                                CONTROLLER_FILES, DEMO_PASSWORD, SRIOVSTACK, ServedApi,
                                _run_cli, _wait_until_up, chapter_inventory, free_port,
                                issue_token, wait_for)

__all__ = ["CrashCloud", "HOSTS", "LEASE_SECONDS"]

HOSTS = ("compute0", "compute1")
LEASE_SECONDS, SWEEP_SECONDS = 2.0, 0.5
DEATH_TIMEOUT = 60.0  # seconds a process given SRIOVSTACK_CRASH_AT has to reach its step
IMAGE = "6d1b6e8a-7c2f-4b8e-9d3a-1f2e3d4c5b6a"  # the seeded cirros
_MIGRATION_HOLDS = ("pre-migrating", "post-migrating", "finished", "confirming",
                    "reverting", "preparing", "running")  # compute/build.py MIGRATION_HOLDS


@dataclass
class CrashCloud:
    """The cloud of one test module; ``api`` is the API process serving now (or None)."""

    workdir: Path
    database_url: str
    port: int = field(default_factory=free_port)
    api: ServedApi | None = None
    process: subprocess.Popen[bytes] | None = None
    agents: dict[tuple[str, str], subprocess.Popen[bytes]] = field(default_factory=dict)
    armed: str | None = None  # the step the serving API kills itself at
    net: str = ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- the API process ------------------------------------------------------------------

    def bootstrap(self) -> None:
        _run_cli(["api", "bootstrap", "--database", self.database_url, "--admin-password",
                  ADMIN_PASSWORD, "--demo-password", DEMO_PASSWORD, "--service-user",
                  f"{AGENT_USER}:{AGENT_PASSWORD}"])

    def start_api(self, crash_at: str | None = None) -> ServedApi:
        """Serve on ``self.port`` (the agents keep that URL); with ``crash_at`` the process
        kills itself at that step."""
        assert self.process is None or self.process.poll() is not None
        self.armed = crash_at
        env = {k: v for k, v in os.environ.items() if k != CRASH_AT_ENV}
        if crash_at:
            env[CRASH_AT_ENV] = crash_at
        log_path = self.workdir / "api.log"
        argv = [str(SRIOVSTACK), "api", "serve", "--database", self.database_url,
                "--listen", f"127.0.0.1:{self.port}", "--workers", "1",
                "--state-dir", str(self.workdir / "api"), "--log-level", "warning",
                "--lease-seconds", str(LEASE_SECONDS), "--sweep-interval", str(SWEEP_SECONDS)]
        for path in CONTROLLER_FILES:
            argv += ["--config-file", str(path)]
        with open(log_path, "ab") as log:
            log.write(f"\n=== api serve, {CRASH_AT_ENV}={crash_at}\n".encode())
            log.flush()
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env,
                                            start_new_session=True)
        _wait_until_up(self.process, self.base_url, log_path)
        self.api = ServedApi(self.base_url, self.database_url, log_path, self.process.pid,
                             issue_token(self.base_url, "admin", ADMIN_PASSWORD, "admin"),
                             issue_token(self.base_url, "demo", DEMO_PASSWORD, "demo"),
                             issue_token(self.base_url, AGENT_USER, AGENT_PASSWORD,
                                         "service"))
        return self.api

    def log_tail(self) -> str:
        return (self.workdir / "api.log").read_text(errors="replace")[-3000:]

    def killed(self, process: subprocess.Popen[bytes] | None, step: str, why: str = "") -> None:
        """Assert ``process`` died of SIGKILL (returncode -9) at ``step``."""
        assert process is not None
        try:
            code = process.wait(timeout=DEATH_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the process given {CRASH_AT_ENV}={step} is still alive "
                                 f"after {DEATH_TIMEOUT}s: the step was never reached; "
                                 f"{why}\n{self.log_tail()}")
        assert code == -signal.SIGKILL, f"{step}: exited {code}, not killed by SIGKILL"

    def stop_api(self) -> None:
        """Kill the API (between operations: nothing is under way)."""
        if self.process is not None:
            _kill(self.process)
        self.process = self.api = self.armed = None

    # -- the agents -----------------------------------------------------------------------

    def root(self, host: str) -> Path:
        return self.workdir / "hosts" / host

    def start_agent(self, host: str, kind: str, crash_at: str | None = None) -> None:
        credentials = self.workdir / "agent-credentials.conf"
        if not credentials.exists():
            credentials.write_text(f"[service_user]\nusername = {AGENT_USER}\n"
                                   f"password = {AGENT_PASSWORD}\nproject_name = service\n")
        argv = [str(SRIOVSTACK), "agent", kind, "--host", host, "--root",
                str(self.root(host)), "--state-dir", str(self.workdir / f"state-{host}-{kind}"),
                "--api", self.base_url, "--credentials", str(credentials)]
        for path in COMPUTE_FILES:
            argv += ["--config-file", str(path)]
        if kind == "compute":
            argv += ["--virt", "fake"]
        env = {k: v for k, v in os.environ.items() if k != CRASH_AT_ENV}
        if crash_at:
            env[CRASH_AT_ENV] = crash_at
        log = open(self.workdir / f"agent-{host}-{kind}.log", "ab")  # noqa: SIM115
        self.agents[(host, kind)] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True)

    def stop_agent(self, host: str, kind: str) -> None:
        process = self.agents.pop((host, kind), None)
        if process is not None:
            _kill(process)

    def stop_agents(self) -> None:
        for process in self.agents.values():
            _kill(process)

    # -- the cloud, over HTTP ---------------------------------------------------------------

    def client(self, microversion: str = "2.79") -> httpx.Client:
        assert self.api is not None
        c = self.api.client(self.api.admin_token)
        c.headers["OpenStack-API-Version"] = f"compute {microversion}"
        return c

    def setup(self) -> None:
        """Both hosts' inventory in (their agents running) and a VLAN network."""
        for host in HOSTS:
            chapter_inventory(self.root(host), host)
            for kind in ("compute", "sriov"):
                self.start_agent(host, kind)
        with self.client() as c:
            def inventoried() -> bool:
                hosts = c.get("/compute/v2.1/os-sriov-hosts").json()["hosts"]
                return {h["host"] for h in hosts if h["pci_total"]} >= set(HOSTS)
            wait_for(inventoried, "both hosts' inventory", timeout=90, interval=0.5)

            def nic_agents_alive() -> bool:  # else a first boot finds no agent to bind with
                agents = c.get("/network/v2.0/agents").json()["agents"]
                return {a["host"] for a in agents
                        if a["agent_type"] == NIC_AGENT_TYPE and a["alive"]} >= set(HOSTS)
            wait_for(nic_agents_alive, "both hosts' NIC Switch agents", timeout=90,
                     interval=0.5)
            r = c.post("/network/v2.0/networks", json={"network": {
                "name": "crash", "provider:network_type": "vlan",
                "provider:physical_network": "physnet1", "provider:segmentation_id": 21}})
            assert r.status_code == 201, r.text
            self.net = r.json()["network"]["id"]
            r = c.post("/network/v2.0/subnets", json={"subnet": {
                "network_id": self.net, "cidr": "10.9.0.0/24", "ip_version": 4}})
            assert r.status_code == 201, r.text

    def new_port(self) -> str:
        with self.client() as c:
            r = c.post("/network/v2.0/ports", json={"port": {
                "network_id": self.net, "binding:vnic_type": "direct"}})
            assert r.status_code == 201, r.text
            return str(r.json()["port"]["id"])

    def boot_request(self, port_id: str) -> dict[str, Any]:
        return {"server": {"name": "crash", "imageRef": IMAGE, "flavorRef": "1",
                           "networks": [{"port": port_id}]}}

    def server(self, server_id: str) -> dict[str, Any] | None:
        with self.client() as c:
            r = c.get(f"/compute/v2.1/servers/{server_id}")
            if r.status_code == 404:
                return None
            assert r.status_code == 200, r.text
            return dict(r.json()["server"])

    def wait_status(self, server_id: str, *statuses: str, timeout: float = 60.0
                    ) -> dict[str, Any]:
        """The server once it is in one of ``statuses`` with no task running; on a timeout
        the error says what the server was last (status, task, host, fault)."""
        last: dict[str, Any] | None = None

        def there() -> dict[str, Any] | None:
            nonlocal last
            s = last = self.server(server_id)
            ok = s is not None and s["status"] in statuses and not s["OS-EXT-STS:task_state"]
            return s if ok else None
        try:
            found: dict[str, Any] = wait_for(there, f"server {server_id} in {statuses}",
                                             timeout=timeout, interval=0.2)
        except AssertionError as exc:
            s = last or {}
            raise AssertionError(
                f"{exc}; last seen: status {s.get('status')}, task "
                f"{s.get('OS-EXT-STS:task_state')}, host {s.get('OS-EXT-SRV-ATTR:host')}, "
                f"fault {s.get('fault')}") from None
        return found

    def boot(self) -> str:
        port_id = self.new_port()
        with self.client() as c:
            r = c.post("/compute/v2.1/servers", json=self.boot_request(port_id))
            assert r.status_code == 202, r.text
            server_id = str(r.json()["server"]["id"])
        server = self.wait_status(server_id, "ACTIVE", "ERROR")  # an ERROR fails at once
        assert server["status"] == "ACTIVE", (server_id, server.get("fault"))
        return server_id

    def action(self, server_id: str, body: dict[str, Any], microversion: str = "2.79"
               ) -> httpx.Response | None:
        """POST a server action; None when the API died answering it (the crash point)."""
        try:
            with self.client(microversion) as c:
                return c.post(f"/compute/v2.1/servers/{server_id}/action", json=body)
        except httpx.TransportError:
            return None

    def delete_all(self) -> None:
        """Delete every server (after a case) and wait until they are gone."""
        with self.client() as c:
            for s in c.get("/compute/v2.1/servers?all_tenants=1").json()["servers"]:
                r = c.delete(f"/compute/v2.1/servers/{s['id']}")
                assert r.status_code in (204, 404), r.text
            wait_for(lambda: not c.get("/compute/v2.1/servers?all_tenants=1")
                     .json()["servers"], "every server deleted", timeout=60, interval=0.3)

    # -- the ledger ---------------------------------------------------------------------------

    def ledger_problems(self) -> list[str]:
        """What is wrong between VF claims, servers, their ports and migrations: each
        claimed VF's owner a live server recording it (or a move holding it), each live
        server's recorded VF claimed by it, no VF recorded twice, each direct port bound to
        its server's VF on its server's host; the API's audit; the hosts' live VF state."""
        problems: list[str] = []
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                problems += _db_problems(conn)
        finally:
            engine.dispose()
        with self.client() as c:
            audit = c.get("/compute/v2.1/os-sriov-audit").json()["audit"]
            problems += [f"audit: {f}" for f in audit["findings"]]
            if audit.get("repaired_total"):
                problems.append(f"audit repaired {audit['repaired_total']} things")
            problems += self._port_problems(c)
            problems += [f"host: {f}" for f in self._vf_state(c)]
        return problems

    def _port_problems(self, c: httpx.Client) -> list[str]:
        servers = {s["id"]: s for s in c.get(
            "/compute/v2.1/servers/detail?all_tenants=1").json()["servers"]}
        problems = []
        for p in c.get("/network/v2.0/ports").json()["ports"]:
            if p["binding:vnic_type"] != "direct":
                continue
            owner = servers.get(p["device_id"])
            if p["device_id"] and owner is None:
                problems.append(f"port {p['id']} bound to missing server {p['device_id']}")
            host = owner and owner["OS-EXT-SRV-ATTR:host"]
            if owner is not None and host and p["binding:host_id"] != host:
                problems.append(f"port {p['id']} bound on {p['binding:host_id']!r}, its "
                                f"server on {host}")
        return problems

    def _vf_state(self, c: httpx.Client) -> list[Any]:
        observed = []
        for host in HOSTS:
            live = live_vfs(self.root(host))
            for d in c.get(f"/compute/v2.1/os-sriov-hosts/{host}").json()["host"]["devices"]:
                vf = live.get(d["address"])
                if d["dev_type"] == "type-VF" and vf is not None:
                    observed.append(VfObservation(host, d["address"], d["server_id"], d["mac"],
                                                  d["vlan"] or 0, str(vf.state.mac),
                                                  vf.state.vlan))
        return list(vf_state_findings(observed))

    def converged(self) -> list[str]:
        """``ledger_problems`` once the agents had a moment to converge (host VF state
        follows the ledger a pass later): the last list seen, empty when consistent."""
        last: list[str] = []
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline:
            last = self.ledger_problems()
            if not last:
                return []
            time.sleep(0.5)
        return last


def _kill(process: subprocess.Popen[bytes]) -> None:
    """kill -9 (a graceful stop waits out the agents' long polls: seconds per process)."""
    if process.poll() is None:
        process.kill()
    process.wait(timeout=30)


def _db_problems(conn: Any) -> list[str]:
    problems = []
    servers = {r.id: r for r in conn.execute(text(
        "SELECT id, status, host FROM servers WHERE status <> 'DELETED'"))}
    holds: dict[str, set[str]] = {}
    for m in conn.execute(text("SELECT uuid, status, source_ports FROM migrations")):
        if m.status in _MIGRATION_HOLDS:
            holds[m.uuid] = set()
    recorded: dict[tuple[str, str], str] = {}
    for r in conn.execute(text(
            "SELECT sp.server_id, sp.port_id, sp.pci_address, s.host FROM server_ports sp "
            "JOIN servers s ON s.id = sp.server_id WHERE sp.pci_address IS NOT NULL "
            "AND s.status <> 'DELETED'")):
        key = (r.host or "", r.pci_address)
        if key in recorded:
            problems.append(f"VF {key} recorded by ports {recorded[key]} and {r.port_id}")
        recorded[key] = r.port_id
    claimed: dict[tuple[str, str], str] = {}
    for d in conn.execute(text(
            "SELECT h.name AS host, d.address, d.owner, d.status FROM pci_devices d "
            "JOIN hosts h ON h.id = d.host_id WHERE d.owner IS NOT NULL")):
        claimed[(d.host, d.address)] = d.owner
        if d.owner not in servers and d.owner not in holds:
            problems.append(f"VF {d.host} {d.address} ({d.status}) owned by {d.owner}: "
                            "no such live server or move")
    for (host, address), port_id in recorded.items():
        owner = claimed.get((host, address))
        if owner is None:
            problems.append(f"VF {host} {address} recorded by port {port_id} is not claimed")
    for r in conn.execute(text(
            "SELECT sp.server_id, sp.pci_address, s.host FROM server_ports sp "
            "JOIN servers s ON s.id = sp.server_id WHERE s.status <> 'DELETED' "
            "AND sp.pci_address IS NOT NULL")):
        if claimed.get((r.host or "", r.pci_address)) not in (r.server_id, None):
            problems.append(f"VF {r.host} {r.pci_address} of server {r.server_id} is "
                            f"claimed by {claimed[(r.host or '', r.pci_address)]}")
    for (host, address), owner in claimed.items():
        if owner in servers and (host, address) not in recorded:
            problems.append(f"VF {host} {address} claimed by server {owner} whose ports do "
                            "not record it (leaked)")
    return problems
