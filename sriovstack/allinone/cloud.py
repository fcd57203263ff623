"""AllInOne: one process running the chapter's cloud on simulated hosts (ARCHITECTURE §4).

It builds the topology's hosts under the state directory, opens the database (SQLite there by
default), bootstraps identity, serves the API in a thread and starts a compute agent and an
SR-IOV NIC agent per compute host.  Starting again on the same state directory reuses the
database, the hosts and the passwords.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from sriovstack.allinone.agents import AgentSet, start_agents
from sriovstack.allinone.api_thread import ApiThread, bind_listen_socket
from sriovstack.allinone.credentials import Credentials
from sriovstack.allinone.dataplane import CloudDataplane, DataplaneMode
from sriovstack.allinone.hosts import SimulatedHost, prepare_hosts
from sriovstack.api import Services
from sriovstack.dataplane import DEFAULT_PREFIX
from sriovstack.errors import ConfigError, Unreachable
from sriovstack.host.simulated import Role, bundled_topology, load_topology

__all__ = ["AllInOneOptions", "AllInOne"]


@dataclass(frozen=True, slots=True)
class AllInOneOptions:
    """What ``sriovstack all-in-one`` was asked for (``port`` 0: any free port)."""

    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    topology: Path | None = None
    database_url: str | None = None
    virt_driver: str = "fake"
    log_level: str = "warning"
    # netns: real packets between emulated guests (root); the agents then use virt netns.
    dataplane: DataplaneMode = DataplaneMode.NONE


class AllInOne:
    """The running cloud: ``start`` it (or use ``with``), read ``base_url``, ``stop`` it."""

    def __init__(self, options: AllInOneOptions) -> None:
        self.options = options
        self.base_url = ""
        self.hosts: tuple[SimulatedHost, ...] = ()
        self.credentials: Credentials | None = None
        self._api: ApiThread | None = None
        self._agents: AgentSet | None = None
        self._services: Services | None = None
        self.dataplane: CloudDataplane | None = None

    @property
    def database_url(self) -> str:
        return self.options.database_url or f"sqlite:///{self.options.state_dir / 'sriovstack.db'}"

    def start(self) -> None:
        """Bring everything up; on any failure stop what had started, then raise."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        opts = self.options
        _make_state_dir(opts.state_dir)
        topology = load_topology(opts.topology) if opts.topology else bundled_topology()
        self.hosts = prepare_hosts(topology, opts.state_dir)
        self.credentials = Credentials.load_or_create(opts.state_dir)
        virt = opts.virt_driver
        if opts.dataplane is DataplaneMode.NETNS:
            self.dataplane = CloudDataplane(opts.state_dir, self.hosts)
            self.dataplane.enable()
            virt = "netns"
        sock = bind_listen_socket(opts.host, opts.port)
        shown = "127.0.0.1" if opts.host in ("0.0.0.0", "::") else opts.host
        shown = f"[{shown}]" if ":" in shown else shown
        self.base_url = f"http://{shown}:{sock.getsockname()[1]}"
        try:
            app = self._build_app()
        except BaseException:
            sock.close()
            raise
        self._api = ApiThread(app, sock, opts.log_level)
        self._api.start()
        computes = [h for h in self.hosts if h.is_compute]
        prefix = self.dataplane.prefix if self.dataplane else DEFAULT_PREFIX
        self._agents = start_agents(self.base_url, self.credentials, computes, virt,
                                    opts.state_dir, prefix)
        self._wait_for_inventories({h.name for h in computes})

    def _wait_for_inventories(self, names: set[str], timeout: float = 30.0) -> None:
        """Return once every compute host's agent has reported its inventory."""
        assert self._services is not None
        deadline = time.monotonic() + timeout
        while not names <= {h.name for h in self._services.hosts.list()}:
            if time.monotonic() > deadline:
                raise Unreachable(f"the compute agents of {', '.join(sorted(names))} did not "
                                  f"report within {timeout:.0f} s",
                                  fix="run with --log-level info to see the agents' errors")
            time.sleep(0.1)

    def _build_app(self) -> object:
        from sriovstack.api import create_app
        from sriovstack.api import build_services
        from sriovstack.api import ApiSettings
        from sriovstack.conf import load_config
        from sriovstack.db import Database

        assert self.credentials is not None
        files = next((h.config_files for h in self.hosts if h.spec.role is Role.CONTROLLER), ())
        settings = ApiSettings(base_url=self.base_url, database_url=self.database_url,
                               deployment=load_config(files) if files else None,
                               image_dir=self.options.state_dir / "images")
        db = Database(self.database_url)
        db.create_schema()
        services = build_services(settings, db)
        self._services = services
        c = self.credentials
        services.identity.bootstrap(c.admin_password, demo_password=c.demo_password,
                                    service_users={c.agent_user: c.agent_password})
        return create_app(settings, services)

    def stop(self) -> None:
        """Stop the agents, then the data plane (guests destroyed, nothing of its prefix
        left), then the API (idempotent)."""
        if self._agents is not None:
            self._agents.stop()
            self._agents = None
        try:
            if self.dataplane is not None:
                self.dataplane.disable()
                self.dataplane = None
        finally:
            if self._api is not None:
                self._api.stop()
                self._api = None

    def __enter__(self) -> AllInOne:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _make_state_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the state directory {path}: {exc.strerror}",
                          option="--state-dir", fix="pass a writable directory") from exc
