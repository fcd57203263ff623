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
    """Threads running ``loop(stop_event)`` until ``stop``; a loop that dies is logged."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, name: str, loop: Callable[[threading.Event], None]) -> None:
        thread = threading.Thread(target=self._run, args=(name, loop), name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _run(self, name: str, loop: Callable[[threading.Event], None]) -> None:
        try:
            loop(self._stop)
        except Exception:  # noqa: BLE001 - a dead agent thread must say why, not vanish
            _LOG.exception("%s stopped on an error", name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self._threads)

    def alive(self) -> tuple[str, ...]:
        return tuple(t.name for t in self._threads if t.is_alive())

    def stop(self, timeout: float = 15.0) -> None:
        """Signal every loop and wait for each thread (a loop must return on the event)."""
        self._stop.set()
        for thread in self._threads:
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
