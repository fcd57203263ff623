"""The agents of an all-in-one cloud: a compute agent and an SR-IOV NIC agent per compute host,
each in its own thread, all stopped by one event."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from sriovstack.agents import (ComputeAgent, ComputeAgentSettings, ControlPlaneClient,
                               ServiceCredentials, SriovAgentSettings, SriovNicAgent, VirtKind,
                               load_nic_mappings, load_whitelist, open_virt)
from sriovstack.allinone.credentials import Credentials
from sriovstack.allinone.dataplane import compute_state_dir
from sriovstack.allinone.hosts import SimulatedHost
from sriovstack.allinone.machines import open_host, open_simulated
from sriovstack.dataplane import DEFAULT_PREFIX
from sriovstack.host import discover

__all__ = ["AgentSet", "start_agents"]

_LOG = logging.getLogger(__name__)
Loop = Callable[[threading.Event], None]


class AgentSet:
    """Threads running ``loop(stop_event)``, each with its own stop event, so one host's
    agents can be stopped and started again (as an operator restarts a host's services)
    while the others run; a loop that dies is logged."""

    def __init__(self) -> None:
        self._loops: dict[str, Loop] = {}
        self._running: dict[str, tuple[threading.Thread, threading.Event]] = {}

    def start(self, name: str, loop: Loop | None = None) -> None:
        """Start ``loop`` as ``name``; without ``loop``, start again the one stopped under
        that name.  Raises KeyError for a name never started, RuntimeError if it runs."""
        if name in self._running and self._running[name][0].is_alive():
            raise RuntimeError(f"agent {name} is already running")
        if loop is not None:
            self._loops[name] = loop
        stop = threading.Event()
        thread = threading.Thread(target=self._run, args=(name, self._loops[name], stop),
                                  name=name, daemon=True)
        self._running[name] = (thread, stop)
        thread.start()

    @staticmethod
    def _run(name: str, loop: Loop, stop: threading.Event) -> None:
        try:
            loop(stop)
        except Exception:  # noqa: BLE001 - a dead agent thread must say why, not vanish
            _LOG.exception("%s stopped on an error", name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._loops)

    def alive(self) -> tuple[str, ...]:
        return tuple(n for n, (t, _) in self._running.items() if t.is_alive())

    def of_host(self, host: str) -> tuple[str, ...]:
        """The names of ``host``'s agents (``compute-agent@HOST``, ``sriov-agent@HOST``)."""
        return tuple(n for n in self._loops if n.endswith(f"@{host}"))

    def stop(self, *names: str, timeout: float = 15.0) -> None:
        """Signal the named loops (all without names) and wait for each thread: a loop must
        return on its event."""
        chosen = [self._running[n] for n in (names or tuple(self._running))
                  if n in self._running]
        for _, event in chosen:
            event.set()
        for thread, _ in chosen:
            thread.join(timeout)


def start_agents(base_url: str, credentials: Credentials, hosts: Sequence[SimulatedHost],
                 virt_driver: str, state_dir: Path, prefix: str = DEFAULT_PREFIX) -> AgentSet:
    """Start both agents of every compute host in ``hosts`` (agent state under
    ``state_dir/agents/HOST``; ``prefix``: the netns data plane's names).  Every host's
    config is checked first, so a bad file (ConfigError naming it) starts nothing."""
    service = ServiceCredentials(credentials.agent_user, credentials.agent_password)
    loops = []
    for host in hosts:
        loops += _host_loops(base_url, service, host, VirtKind(virt_driver), state_dir,
                             prefix)
    agents = AgentSet()
    for name, loop in loops:
        agents.start(name, loop)
    return agents


def _host_loops(base_url: str, service: ServiceCredentials, sim: SimulatedHost,
                virt_kind: VirtKind, state_dir: Path, prefix: str) -> list[tuple[str, Loop]]:
    """The compute and SR-IOV NIC agent loops of one host, configured from its own files.

    Each agent gets its own Host: the simulated host's lock is re-entrant per Host object, so
    one Host shared by two threads would let them race on it (and deadlock).  Both are wired
    to the host's netns data plane (it acts only while it is on).
    """
    (host, plane), nic_host = open_simulated(sim.root), open_host(sim.root)
    files = tuple(str(f) for f in sim.config_files)
    whitelist = load_whitelist(files, host.sysfs)
    mappings = load_nic_mappings(files, discover(host.sysfs))
    compute = ComputeAgentSettings(sim.name, files, compute_state_dir(state_dir, sim.name),
                                   poll_wait=2.0)
    nic = SriovAgentSettings(sim.name, files, state_dir / "agents" / sim.name / "sriov",
                             polling_interval=1.0)
    for settings in (compute, nic):
        settings.state_dir.mkdir(parents=True, exist_ok=True)
    virt = open_virt(virt_kind, host, compute.state_dir, prefix=prefix, plane=plane)

    def compute_loop(stop: threading.Event) -> None:
        with ControlPlaneClient(base_url, service) as client:
            ComputeAgent(compute, client, host, virt, whitelist).run(stop)

    def nic_loop(stop: threading.Event) -> None:
        with ControlPlaneClient(base_url, service) as client:
            SriovNicAgent(nic, client, nic_host, mappings).run(stop)

    return [(f"compute-agent@{sim.name}", compute_loop), (f"sriov-agent@{sim.name}", nic_loop)]
