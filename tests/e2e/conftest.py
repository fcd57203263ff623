"""Shared end-to-end fixtures: a served API process, a simulated compute host registered through
the internal API, a stand-in compute agent, and a cached venv holding the real OpenStack clients.

Everything here talks to the API over HTTP on 127.0.0.1, as the real clients and agents do.
The client venv is cached under /tmp/sriovstack-osc-venv/<key> (the key names the pinned
versions), so only the first run pays for the install.  Without network access to PyPI the
client tests skip, except in CI (``CI=true``) where they fail instead.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from sriovstack.conf.loader import load_config
from sriovstack.host import SysfsDeviceProbe
from sriovstack.host.discovery import discover
from sriovstack.host.simulated import open_simulated_host
from sriovstack.host.simulated.fixture import build_host
from sriovstack.host.simulated.kernel import SimulatedKernel
from sriovstack.host.simulated.topology import bundled_topology
from sriovstack.pci.devspec import parse_device_specs
from tests.e2e.netns_cloud import cloud  # noqa: F401 - the data-plane tests' netns cloud

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "chapter"
CONTROLLER_FILES = (EXAMPLES / "controller" / "nova.conf", EXAMPLES / "network" / "ml2_conf.ini",
                    EXAMPLES / "network" / "ml2_conf_sriov.ini")
COMPUTE_FILES = (EXAMPLES / "compute" / "nova.conf", EXAMPLES / "compute" / "sriov_agent.ini")
SRIOVSTACK = Path(sys.executable).parent / "sriovstack"

ADMIN_PASSWORD, DEMO_PASSWORD = "e2e-admin-secret", "e2e-demo-secret"
AGENT_USER, AGENT_PASSWORD = "sriovstack-agent", "e2e-agent-secret"
VFS_PER_PF = 7  # the chapter's 82576: 2 x 7 VFs (20.2 step 8)

OSC_VERSION, SDK_VERSION = "10.5.0", "4.22.0"  # openstack_api_compat.md §1
# The other clients an operator uses (issue 12): osc-placement's `resource ...` commands,
# the legacy `glance`, `neutron` and `nova` commands (neutronclient 9.0.0 is the last with
# `neutron`).
EXTRA_CLIENTS = ("osc-placement==4.9.1", "python-glanceclient==4.13.0",
                 "python-neutronclient==9.0.0", "python-novaclient==18.13.1")
OSC_CACHE = Path("/tmp/sriovstack-osc-venv")
PG_ADMIN_URL = os.environ.get("SRIOVSTACK_TEST_PG",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
START_TIMEOUT = 60.0  # seconds the API may take to answer after `api serve` starts
HTTP_TIMEOUT = httpx.Timeout(30.0)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_or_fail(message: str) -> None:
    """Skip locally; in CI a missing prerequisite is a failure."""
    if in_ci():
        pytest.fail(f"{message} (CI=true: this must work)")
    pytest.skip(message)


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped (connections forced) afterwards."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"sriovstack_e2e_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure to reach PG means "no PG here"
        admin.dispose()
        skip_or_fail(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {exc.__class__.__name__}")
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- the served API -----------------------------------------------------------------------

@dataclass(frozen=True)
class ServedApi:
    """One running ``sriovstack api serve`` with tokens for admin, demo and the agent user."""

    base_url: str
    database_url: str
    log_path: Path
    pid: int
    admin_token: str
    demo_token: str
    service_token: str

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"X-Auth-Token": token} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=HTTP_TIMEOUT)

    def child_pids(self) -> list[int]:
        """The processes ``api serve`` started (its uvicorn workers), from /proc."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def password_body(user: str, password: str, project: str) -> dict[str, Any]:
    """The keystone v3 password-auth body with a project scope, as openstackclient sends it."""
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}


def issue_token(base_url: str, user: str, password: str, project: str) -> str:
    r = httpx.post(f"{base_url}/identity/v3/auth/tokens", timeout=HTTP_TIMEOUT,
                   json=password_body(user, password, project))
    assert r.status_code == 201, r.text
    return r.headers["X-Subject-Token"]


def lift_compute_quotas(api: ServedApi) -> None:
    """Make the admin token's project unlimited in instances, cores and RAM (nova's defaults
    allow 10 instances): for tests that boot more servers than that on purpose."""
    with api.client(api.admin_token) as c:
        r = c.get("/identity/v3/auth/tokens", headers={"X-Subject-Token": api.admin_token})
        assert r.status_code == 200, r.text
        project = r.json()["token"]["project"]["id"]
        r = c.put(f"/compute/v2.1/os-quota-sets/{project}", json={"quota_set": {
            "instances": -1, "cores": -1, "ram": -1}})
        assert r.status_code == 200, r.text


def _run_cli(args: list[str], timeout: float = 120.0) -> None:
    done = subprocess.run([str(SRIOVSTACK), *args], capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, f"sriovstack {' '.join(args)}: {done.stdout}{done.stderr}"


def _wait_until_up(process: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"api serve exited {process.returncode}:\n"
                                 f"{log_path.read_text(errors='replace')}")
        try:
            if httpx.get(f"{base_url}/identity", timeout=2.0).status_code in (200, 300):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"api serve did not answer within {START_TIMEOUT}s:\n"
                         f"{log_path.read_text(errors='replace')}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def serve_api(workdir: Path, database_url: str, *, workers: int = 1,
              build_delay: float = 0.0, sweep_interval: float | None = None
              ) -> Iterator[ServedApi]:
    """Bootstrap ``database_url`` and serve the chapter's controller on a free port;
    ``build_delay`` is the API's test hook (``--test-build-delay``: builds wait that long),
    ``sweep_interval`` its ``--sweep-interval`` (the audit runs every sixth sweep)."""
    workdir.mkdir(parents=True, exist_ok=True)
    _run_cli(["api", "bootstrap", "--database", database_url, "--admin-password",
              ADMIN_PASSWORD, "--demo-password", DEMO_PASSWORD, "--service-user",
              f"{AGENT_USER}:{AGENT_PASSWORD}"])
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = workdir / f"api-{port}.log"
    argv = [str(SRIOVSTACK), "api", "serve", "--database", database_url,
            "--listen", f"127.0.0.1:{port}", "--workers", str(workers),
            "--state-dir", str(workdir),
            "--log-level", "warning"]
    if build_delay:
        argv += ["--test-build-delay", str(build_delay)]
    if sweep_interval is not None:
        argv += ["--sweep-interval", str(sweep_interval)]
    for path in CONTROLLER_FILES:
        argv += ["--config-file", str(path)]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_until_up(process, base_url, log_path)
        yield ServedApi(base_url, database_url, log_path, process.pid,
                        issue_token(base_url, "admin", ADMIN_PASSWORD, "admin"),
                        issue_token(base_url, "demo", DEMO_PASSWORD, "demo"),
                        issue_token(base_url, AGENT_USER, AGENT_PASSWORD, "service"))
    finally:
        _stop(process)


# --- a simulated compute host, registered as its agents would --------------------------------

def chapter_inventory(root: Path, host_name: str = "compute0") -> dict[str, Any]:
    """The inventory body of a simulated chapter compute node: build the host under ``root``,
    create 7 VFs per 82576 port, discover, keep what the compute nova.conf whitelist matches."""
    topo_host = bundled_topology().host(host_name)
    build_host(topo_host, root)
    kernel = SimulatedKernel(root)
    for nic in topo_host.nics:
        for address in nic.port_addresses():
            kernel.enable_vfs(address, VFS_PER_PF)
    inventory = discover(open_simulated_host(root).sysfs)
    config = load_config(COMPUTE_FILES)
    specs = parse_device_specs([line.text for line in config.nova.device_specs],
                               SysfsDeviceProbe(open_simulated_host(root).sysfs))
    devices = []
    for device in inventory.devices():
        tags = specs.match_device(device)
        if tags is None:
            continue
        devices.append({
            "address": str(device.address), "vendor_id": device.vendor_id,
            "product_id": device.product_id, "dev_type": device.dev_type.value,
            "parent_addr": None if device.parent_addr is None else str(device.parent_addr),
            "numa_node": device.numa_node, "physnet": tags.get("physical_network")})
    resources = {"vcpus": topo_host.cpus, "memory_mb": topo_host.memory_mb, "disk_gb": 500,
                 "capabilities": {"hypervisor_type": "QEMU", "hypervisor_version": 8002000,
                                  "host_ip": "192.0.2.11",
                                  "supported_instances": [["x86_64", "qemu", "hvm"]]}}
    return {"resources": resources, "devices": devices}


def sriov_heartbeat() -> dict[str, Any]:
    """The NIC switch agent's heartbeat, its device_mappings read from sriov_agent.ini."""
    mappings: dict[str, list[str]] = {}
    for m in load_config(COMPUTE_FILES).sriov_agent.device_mappings():
        mappings.setdefault(m.physnet, []).append(m.netdev)
    return {"agent_type": "NIC Switch agent", "binary": "neutron-sriov-nic-agent",
            "configurations": {"device_mappings": mappings}}


COMPUTE_HEARTBEAT = {"agent_type": "Compute agent", "binary": "sriovstack-compute"}
HEARTBEAT_INTERVAL = 10.0  # seconds; well inside service_down_time (60) and agent_down_time


def register_host(api: ServedApi, host: str, inventory: dict[str, Any]) -> None:
    """Inventory, the compute heartbeat and the NIC agent heartbeat over the internal API."""
    with api.client(api.service_token) as c:
        r = c.put(f"/internal/v1/hosts/{host}/inventory", json=inventory)
        assert r.status_code == 200, r.text
        _heartbeat(c, host)


def _heartbeat(c: httpx.Client, host: str) -> None:
    """The compute agent's and the NIC agent's heartbeat for ``host``."""
    for beat in (COMPUTE_HEARTBEAT, sriov_heartbeat()):
        r = c.post(f"/internal/v1/hosts/{host}/heartbeat", json=beat)
        assert r.status_code == 200, r.text


@dataclass
class StandInAgent:
    """Plays the compute and NIC agents of one host: long-polls the desired state, reports
    every new server running and its VF ports up, and heartbeats every ``HEARTBEAT_INTERVAL``
    seconds on a thread of its own, as the real agents do (agents/loop.py), so the host stays
    up however long a module runs and however slow a loaded API answers the polls (issue 16:
    heartbeats behind slow polls could age past service_down_time, and ComputeFilter then
    found the host down).  Each poll waits at most 1 s."""

    api: ServedApi
    host: str
    reported: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for target, name in ((self._run, "agent"), (self._beat, "heartbeat")):
            thread = threading.Thread(target=target, name=f"{name}-{self.host}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _beat(self) -> None:
        with self.api.client(self.api.service_token) as c:
            while not self._stop.wait(HEARTBEAT_INTERVAL):  # register_host gave the first
                try:
                    _heartbeat(c, self.host)
                except (httpx.HTTPError, AssertionError) as exc:
                    self.errors.append(f"heartbeat: {type(exc).__name__}: {exc}")

    def _run(self) -> None:
        revision: int | None = None
        with self.api.client(self.api.service_token) as c:
            while not self._stop.is_set():
                params: dict[str, Any] = {} if revision is None else {"since": revision,
                                                                      "wait": 1.0}
                try:
                    r = c.get(f"/internal/v1/hosts/{self.host}/desired-state", params=params)
                    state = r.json()
                    revision = state["revision"]
                    self._report(c, state["servers"])
                except (httpx.HTTPError, KeyError, ValueError, AssertionError) as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    self._stop.wait(0.5)

    def _report(self, c: httpx.Client, servers: list[dict[str, Any]]) -> None:
        for server in servers:
            if server["id"] in self.reported:
                continue
            for port in server["ports"]:
                c.post(f"/internal/v1/hosts/{self.host}/devices",
                       json={"mac": port["mac"], "pci_slot": port["pci_address"], "up": True})
            r = c.post(f"/internal/v1/hosts/{self.host}/servers/{server['id']}/status",
                       json={"status": "running"})
            if r.status_code == 200:
                self.reported.add(server["id"])


@contextmanager
def stand_in_agent(api: ServedApi, host: str) -> Iterator[StandInAgent]:
    agent = StandInAgent(api, host)
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 60.0,
             interval: float = 0.2) -> Any:
    """Poll ``predicate`` until it returns something truthy; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def vf_usage(api: ServedApi) -> dict[str, int]:
    """SRIOV_NET_VF used per PF resource provider, read from the Placement API."""
    out: dict[str, int] = {}
    with api.client(api.admin_token) as c:
        c.headers["OpenStack-API-Version"] = "placement 1.14"  # parent_provider_uuid
        for rp in c.get("/placement/resource_providers").json()["resource_providers"]:
            if rp["parent_provider_uuid"]:
                usages = c.get(f"/placement/resource_providers/{rp['uuid']}/usages").json()
                out[rp["name"]] = usages["usages"].get("SRIOV_NET_VF", 0)
    return out


# --- the real OpenStack clients in a cached venv ------------------------------------------

def _osc_key() -> str:
    v = sys.version_info
    extras = "-".join(c.split("==")[0].removeprefix("python-") + c.split("==")[1]
                      for c in EXTRA_CLIENTS)
    return f"py{v.major}.{v.minor}-osc{OSC_VERSION}-sdk{SDK_VERSION}-{extras}"


def _install_clients(target: Path) -> None:
    """Create the venv at ``target`` (its scripts' shebangs name it, so it cannot be moved)."""
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True,
                   capture_output=True, timeout=120)
    done = subprocess.run(
        [str(target / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
         f"python-openstackclient=={OSC_VERSION}", f"openstacksdk=={SDK_VERSION}",
         *EXTRA_CLIENTS],
        capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        skip_or_fail(f"cannot install the OpenStack clients: {done.stderr[-2000:]}")
    (target / ".complete").write_text(_osc_key())


@pytest.fixture(scope="session")
def osc_venv() -> Path:
    """A venv with python-openstackclient, openstacksdk and EXTRA_CLIENTS pinned (cached;
    an flock keeps concurrent test runs from installing into it at once)."""
    target = OSC_CACHE / _osc_key()
    OSC_CACHE.mkdir(parents=True, exist_ok=True)
    with open(OSC_CACHE / f"{_osc_key()}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".complete").exists():
            _install_clients(target)
    return target


def write_clouds_yaml(path: Path, api: ServedApi) -> Path:
    """clouds.yaml with ``sriov-admin`` and ``sriov-demo`` (password auth, project scope)."""
    entries = []
    for name, user, password in (("sriov-admin", "admin", ADMIN_PASSWORD),
                                 ("sriov-demo", "demo", DEMO_PASSWORD)):
        entries.append(
            f"  {name}:\n"
            f"    auth_type: password\n"
            f"    auth:\n"
            f"      auth_url: {api.base_url}/identity\n"
            f"      username: {user}\n"
            f"      password: {password}\n"
            f"      project_name: {user}\n"
            f"      user_domain_name: Default\n"
            f"      project_domain_name: Default\n"
            f"    region_name: RegionOne\n"
            f"    interface: public\n"
            f"    identity_api_version: 3\n")
    path.write_text("clouds:\n" + "".join(entries))
    return path


def client_env(clouds_yaml: Path) -> dict[str, str]:
    """The environment for the client venv: only our clouds.yaml, no OS_* leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(clouds_yaml)
    env["HOME"] = str(clouds_yaml.parent)  # no ~/.config/openstack from the machine
    env.pop("PYTHONPATH", None)
    return env
