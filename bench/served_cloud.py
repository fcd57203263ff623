"""What the benchmarks share (run by hand, issue 14): a fresh PostgreSQL database, ``sriovstack
api serve`` on it with the chapter's controller files, tokens, the CPU of the API's and
PostgreSQL's processes and the API's statement count, and the simulated hosts (their
inventory and their agents' heartbeats)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from sriovstack.cli.api import DEFAULT_SWEEP_INTERVAL

REPO = Path(__file__).resolve().parents[1]
CONTROLLER = (REPO / "examples/chapter/controller/nova.conf",
              REPO / "examples/chapter/network/ml2_conf.ini",
              REPO / "examples/chapter/network/ml2_conf_sriov.ini")
SRIOVSTACK = Path(sys.executable).parent / "sriovstack"
ADMIN_PASSWORD, AGENT_USER, AGENT_PASSWORD = "bench-admin", "bench-agent", "bench-agent-secret"
PFS, VFS = 2, 64
PHYSNET = "physnet1"  # the chapter's ml2_conf.ini: physnet1:15:20
HEARTBEAT_STALE = 30.0  # seconds; re-beat hosts older than this before booting (down at 60)
SWEEP_EVERY = DEFAULT_SWEEP_INTERVAL  # ``api serve``'s sweeps (its index refresh too)
CLK = os.sysconf("SC_CLK_TCK")


# --- database and the served API ------------------------------------------------------------

@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new database on the server of ``server_url``, dropped afterwards."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"sriovstack_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served_api(database_url: str, workers: int, workdir: Path,
               host_subset_size: int = 1) -> Iterator[tuple[str, int]]:
    """Bootstrap the database, run ``api serve``; (base URL, pid of ``api serve``)."""
    subprocess.run([str(SRIOVSTACK), "api", "bootstrap", "--database", database_url,
                    "--admin-password", ADMIN_PASSWORD, "--service-user",
                    f"{AGENT_USER}:{AGENT_PASSWORD}"], check=True, capture_output=True)
    port = _free_port()
    argv = [str(SRIOVSTACK), "api", "serve", "--database", database_url, "--listen",
            f"127.0.0.1:{port}", "--workers", str(workers), "--state-dir", str(workdir),
            "--log-level", "warning"]
    for path in CONTROLLER:
        argv += ["--config-file", str(path)]
    if host_subset_size != 1:  # a last file overrides the chapter's nova.conf
        extra = workdir / "scheduler.conf"
        extra.write_text(f"[filter_scheduler]\nhost_subset_size = {host_subset_size}\n")
        argv += ["--config-file", str(extra)]
    log = open(workdir / "api.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"api serve did not come up:\n"
                                 f"{(workdir / 'api.log').read_text(errors='replace')}")
            try:
                if httpx.get(f"{base}/identity", timeout=2).status_code in (200, 300):
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base, process.pid
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=20)
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def token(base: str, user: str, password: str, project: str) -> str:
    domain = {"name": "Default"}
    r = httpx.post(f"{base}/identity/v3/auth/tokens", timeout=30, json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": domain, "password": password}}},
        "scope": {"project": {"name": project, "domain": domain}}}})
    r.raise_for_status()
    return str(r.headers["X-Subject-Token"])


def unlimited(base: str, admin: str) -> None:
    """Lift the admin project's instance, core and RAM quotas: the boots are the load."""
    headers = {"X-Auth-Token": admin}
    r = httpx.get(f"{base}/identity/v3/auth/tokens", timeout=60,
                  headers={**headers, "X-Subject-Token": admin})
    r.raise_for_status()
    project = r.json()["token"]["project"]["id"]
    httpx.put(f"{base}/compute/v2.1/os-quota-sets/{project}", headers=headers, timeout=60,
              json={"quota_set": {"instances": -1, "cores": -1, "ram": -1}}).raise_for_status()


def _processes(pid: int) -> list[int]:
    """``pid`` and every process below it (the uvicorn workers)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def api_cpu_seconds(pid: int) -> float:
    """utime + stime of ``api serve`` and its workers, from /proc."""
    total = 0.0
    for p in _processes(pid):
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += (int(fields[11]) + int(fields[12])) / CLK
    return total


def postgres_cpu_seconds() -> float:
    """utime + stime of every PostgreSQL process on this machine (the server runs here), and
    of the backends that ended (the postmaster's cutime + cstime): a run opens and closes
    connections."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if text[text.index("(") + 1:text.rindex(")")] not in ("postgres", "postmaster"):
            continue
        fields = text[text.rindex(")") + 2:].split()
        total += sum(int(f) for f in fields[11:15]) / CLK
    return total


class Backends:
    """CPU of the PostgreSQL backends serving one database (their process titles name it:
    ``postgres: USER DATABASE HOST(PORT) STATE``), so the figure holds while other databases
    on the server are busy.  ``sample()`` now and then keeps the CPU of backends that exit
    before the end; background processes (autovacuum, WAL writer) are not counted here."""

    def __init__(self, database: str) -> None:
        self._marker = f" {database} ".encode()
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self.sample()
        self._first = dict(self._last)

    def sample(self) -> None:
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                title = cmdline.read_bytes()
                if not title.startswith(b"postgres: ") or self._marker not in title:
                    continue
                text = (cmdline.parent / "stat").read_text()
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            fields = text[text.rindex(")") + 2:].split()
            self._last[int(cmdline.parent.name)] = (int(fields[11]) + int(fields[12])) / CLK

    def seconds(self) -> float:
        """CPU spent since this meter was made, by backends alive then or started since."""
        self.sample()
        return sum(cpu - self._first.get(pid, 0.0) for pid, cpu in self._last.items())


def statements(base: str, pid: int) -> float:
    """The API's ``sriovstack_db_statements_total``, summed over workers: read from the
    workers' prometheus multiprocess directory when there is one (a scrape of /metrics also
    computes every VF gauge, which at 1,000 hosts is itself a load), else from /metrics."""
    for p in _processes(pid):
        try:
            env = Path(f"/proc/{p}/environ").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError):
            continue
        for entry in env:
            if entry.startswith(b"PROMETHEUS_MULTIPROC_DIR="):
                registry = CollectorRegistry()
                MultiProcessCollector(registry, path=entry.split(b"=", 1)[1].decode())
                return sum(sample.value for metric in registry.collect()
                           if metric.name == "sriovstack_db_statements"
                           for sample in metric.samples if sample.name.endswith("_total"))
    body = httpx.get(f"{base}/metrics", timeout=600).text
    found = re.search(r"^sriovstack_db_statements_total(?:\{[^}]*\})? (\S+)$", body, re.M)
    return float(found.group(1)) if found else float("nan")


def autovacuums(engine: Engine) -> int:
    """Autovacuum and autoanalyze runs on the benchmark's tables so far (registration leaves
    ~130 rows per host behind it, which PostgreSQL may vacuum and analyze during the boots)."""
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) "
            "FROM pg_stat_user_tables")).scalar_one())


def commits(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT xact_commit FROM pg_stat_database "
                                     "WHERE datname = current_database()")).scalar_one())


# --- the simulated hosts ----------------------------------------------------------------------

def inventory(h: int) -> dict[str, Any]:
    """Host ``h``: 64 vCPUs, 256 GiB, 2 PFs (82576) x 64 VFs on physnet1, one NUMA node per PF."""
    devices = []
    for p in range(PFS):
        pf = f"0000:{0x05 + p * 0x40:02x}:00.0"
        devices.append({"address": pf, "vendor_id": "8086", "product_id": "10c9",
                        "dev_type": "type-PF", "parent_addr": None, "numa_node": p,
                        "physnet": PHYSNET})
        for v in range(VFS):
            devices.append({"address": f"0000:{0x06 + p * 0x40 + v // 32:02x}:{v % 32:02x}.0",
                            "vendor_id": "8086", "product_id": "10ca", "dev_type": "type-VF",
                            "parent_addr": pf, "numa_node": p, "physnet": PHYSNET})
    return {"resources": {"vcpus": 64, "memory_mb": 262144, "disk_gb": 2000, "capabilities": {
        "hypervisor_type": "QEMU", "hypervisor_version": 8002000, "host_ip": f"10.{h >> 8}.{h & 255}.1",
        "supported_instances": [["x86_64", "qemu", "hvm"]]}}, "devices": devices}


COMPUTE_BEAT = {"agent_type": "Compute agent", "binary": "sriovstack-compute"}
SRIOV_BEAT = {"agent_type": "NIC Switch agent", "binary": "neutron-sriov-nic-agent",
              "configurations": {"device_mappings": {PHYSNET: ["ens1f0", "ens1f1"]}}}


async def heartbeat(c: httpx.AsyncClient, host: str) -> None:
    for beat in (COMPUTE_BEAT, SRIOV_BEAT):
        (await c.post(f"/internal/v1/hosts/{host}/heartbeat", json=beat)).raise_for_status()


# The agents' report intervals (sriovstack/agents/config.py, as nova's and neutron's defaults).
BEAT_EVERY = ((COMPUTE_BEAT, 10.0), (SRIOV_BEAT, 30.0))
