"""AllInOne: one process running the chapter's cloud on simulated hosts (ARCHITECTURE §4).

It builds the topology's hosts under the state directory, opens the database (SQLite there by
default), bootstraps identity, serves the API in a thread and starts a compute agent and an
SR-IOV NIC agent per compute host.  Starting again on the same state directory reuses the
database, the hosts and the passwords.

With ``compute_hosts`` QEMU the compute hosts are QEMU guests on a real kernel instead, each
running its own two agents (``guests.py``); the controller and network node stay simulated
(they only hold the files the API reads).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from sriovstack.allinone.agents import AgentSet, start_agents
from sriovstack.allinone.api_thread import ApiThread, bind_listen_socket
from sriovstack.allinone.credentials import Credentials
from sriovstack.allinone.dataplane import CloudDataplane, DataplaneMode
from sriovstack.allinone.guests import ComputeHosts, GuestComputes, GuestOptions
from sriovstack.allinone.hosts import SimulatedHost, prepare_hosts
from sriovstack.api import Services
from sriovstack.dataplane import DEFAULT_PREFIX
from sriovstack.errors import ConfigError, Unreachable
from sriovstack.host.simulated import (Role, Topology, TopologyHost, bundled_topology,
                                       load_topology)

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
    # qemu: every compute host a QEMU guest (``guests``: how to boot them), agents inside.
    compute_hosts: ComputeHosts = ComputeHosts.SIMULATED
    guests: GuestOptions | None = None
    progress: Callable[[str], None] | None = None   # one line per step of a slow start
    # nova.conf [DEFAULT] resize_confirm_window of the controller (None: the chapter's, unset)
    resize_confirm_window: int | None = None

    @property
    def nova_defaults(self) -> tuple[tuple[str, str], ...]:
        """The [DEFAULT] options the controller's nova.conf gets on top of the chapter's."""
        window = self.resize_confirm_window
        return () if window is None else (("resize_confirm_window", str(window)),)


class AllInOne:
    """The running cloud: ``start`` it (or use ``with``), read ``base_url``, ``stop`` it."""

    def __init__(self, options: AllInOneOptions) -> None:
        self.options = options
        self.base_url = ""
        self.hosts: tuple[SimulatedHost, ...] = ()
        self.credentials: Credentials | None = None
        self._api: ApiThread | None = None
        self.agents: AgentSet | None = None  # the simulated hosts' agents (not QEMU's)
        self._services: Services | None = None
        self.dataplane: CloudDataplane | None = None
        self.guests: GuestComputes | None = None
        self.cancel = threading.Event()   # set (e.g. on SIGINT) to abandon a slow start
        self.ready_seconds = 0.0            # how long the last start took

    @property
    def database_url(self) -> str:
        return self.options.database_url or f"sqlite:///{self.options.state_dir / 'sriovstack.db'}"

    def start(self) -> None:
        """Bring everything up; on any failure stop what had started, then raise."""
        started = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.ready_seconds = time.monotonic() - started

    def _start(self) -> None:
        opts = self.options
        _make_state_dir(opts.state_dir)
        topology = load_topology(opts.topology) if opts.topology else bundled_topology()
        in_guests = opts.compute_hosts is ComputeHosts.QEMU
        if in_guests and opts.dataplane is DataplaneMode.NETNS:
            raise ConfigError("the netns data plane joins simulated hosts; the QEMU compute "
                              "hosts have real kernels", option="--dataplane",
                              fix="use --dataplane none with --compute-hosts qemu")
        if in_guests:
            kept = tuple(h for h in topology.hosts if h.role is not Role.COMPUTE)
            self.hosts = prepare_hosts(Topology(topology.path, kept), opts.state_dir,
                                       nova_defaults=opts.nova_defaults)
        else:
            self.hosts = prepare_hosts(topology, opts.state_dir,
                                       nova_defaults=opts.nova_defaults)
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
        if in_guests:
            specs = [h for h in topology.hosts if h.role is Role.COMPUTE]
            self._start_guests(specs, (shown.strip("[]"), int(sock.getsockname()[1])))
            return
        computes = [h for h in self.hosts if h.is_compute]
        prefix = self.dataplane.prefix if self.dataplane else DEFAULT_PREFIX
        self.agents = start_agents(self.base_url, self.credentials, computes, virt,
                                    opts.state_dir, prefix)
        self._wait_for_inventories({h.name for h in computes})

    def _start_guests(self, specs: list[TopologyHost], api: tuple[str, int]) -> None:
        """Boot the compute guests, set them up, start their agents, wait for their reports."""
        opts = self.options
        if opts.guests is None:
            raise ConfigError("--compute-hosts qemu needs the guest image and run directory",
                              option="--compute-hosts")
        say = opts.progress or (lambda line: None)
        self.guests = GuestComputes(opts.guests, say, self.cancel)
        self.guests.boot(specs, api)
        say(f"compute hosts up in {self.guests.boot_wall_seconds} s; setting them up")
        assert self.credentials is not None
        self.hosts += self.guests.start_agents(specs, opts.state_dir, self.credentials)
        say("waiting for the agents in the guests to report (each imports sriovstack under "
            f"{opts.guests.accel} over 9p: one to several minutes)")
        started = time.monotonic()
        self._wait_for_inventories({s.name for s in specs}, opts.guests.setup_timeout,
                                   check=self.guests.check_agents)
        say(f"every compute agent reported after {time.monotonic() - started:.0f} s")

    def _wait_for_inventories(self, names: set[str], timeout: float = 30.0,
                              check: Callable[[], None] | None = None) -> None:
        """Return once every compute host's agent has reported its inventory (``check``,
        every 10 s, raises when an agent is known dead)."""
        assert self._services is not None
        deadline = time.monotonic() + timeout
        next_check = time.monotonic() + 10
        while not names <= {h.name for h in self._services.hosts.list()}:
            if self.cancel.is_set():
                raise Unreachable("cancelled while waiting for the compute agents")
            if check is not None and time.monotonic() > next_check:
                check()
                next_check = time.monotonic() + 10
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
        from sriovstack.db import Database, PoolSettings

        assert self.credentials is not None
        files = next((h.config_files for h in self.hosts if h.spec.role is Role.CONTROLLER), ())
        deployment = load_config(files) if files else None
        settings = ApiSettings(base_url=self.base_url, database_url=self.database_url,
                               deployment=deployment, image_dir=self.options.state_dir / "images")
        db = Database(self.database_url, PoolSettings.of(deployment))
        db.create_schema()
        services = build_services(settings, db)
        self._services = services
        c = self.credentials
        services.identity.bootstrap(c.admin_password, demo_password=c.demo_password,
                                    service_users={c.agent_user: c.agent_password})
        return create_app(settings, services)

    def stop(self) -> None:
        """Stop the agents, the compute guests (their QEMUs killed), then the data plane
        (guests destroyed, nothing of its prefix left), then the API (idempotent)."""
        if self.agents is not None:
            self.agents.stop()
            self.agents = None
        try:
            if self.guests is not None:
                self.guests.stop()
                self.guests = None
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
