"""Fixtures of the agent tests: the chapter's API in process, simulated compute hosts built from
topology tables (the chapter's compute0 with its 82576, and one with an X710), and agents built
on them with the real HTTP client over the TestClient's transport.

Agents never touch the database, so these tests run on SQLite only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sriovstack.agents import (ComputeAgent, ComputeAgentSettings, ControlPlaneClient,
                               ServiceCredentials, SriovAgentSettings, SriovNicAgent, VirtKind,
                               load_nic_mappings, load_whitelist, open_virt)
from sriovstack.allinone.machines import open_host
from sriovstack.api.settings import ApiSettings
from sriovstack.db import Database
from sriovstack.host import Host
from sriovstack.host.discovery import discover
from sriovstack.host.netlink import VfNetlink
from sriovstack.host.simulated.fixture import build_host
from sriovstack.host.simulated.topology import bundled_topology, parse_topology
from tests.api.compute.chapter import chapter_settings
from tests.conftest import AGENT_PASSWORD, AGENT_USER, BASE_URL

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "chapter" / "compute"
NOVA_CONF = EXAMPLES / "nova.conf"
SRIOV_INI = EXAMPLES / "sriov_agent.ini"
PF1 = "/sys/bus/pci/devices/0000:0b:00.1"  # enp11s0f1, physnet1 in the chapter's files
X710_PF = "/sys/bus/pci/devices/0000:3b:00.0"  # ens1f0 on the X710 host


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sriovstack.db'}"


@pytest.fixture
def settings(database: Database) -> ApiSettings:
    """The chapter's deployment (ML2 physnet1:15:20, the 20.4 filters)."""
    return chapter_settings(BASE_URL, database.url)


def enable_vfs(host: Host, pf_dir: str, count: int) -> None:
    """What `echo N > sriov_numvfs` does (0 first when changing a nonzero count)."""
    if int(host.sysfs.read(f"{pf_dir}/sriov_numvfs")) and count:
        host.sysfs.write(f"{pf_dir}/sriov_numvfs", "0")
    host.sysfs.write(f"{pf_dir}/sriov_numvfs", str(count))


@pytest.fixture
def compute0(tmp_path: Path) -> Host:
    """The chapter's compute0 (dual-port 82576, igb), 7 VFs on enp11s0f1."""
    root = tmp_path / "compute0"
    build_host(bundled_topology().host("compute0"), root)
    host = open_host(root)
    enable_vfs(host, PF1, 7)
    return host


X710_TOPOLOGY = {"host": [{
    "name": "compute-x710", "role": "compute", "iommu": "intel",
    "kernel_cmdline": "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro intel_iommu=on iommu=pt",
    "cpus": 8, "memory_mb": 16384,
    "nic": [{"model": "intel-x710", "address": "0000:3b:00.0", "netdevs": ["ens1f0", "ens1f1"],
             "numa_node": 1, "numvfs": 4}]}]}


@pytest.fixture
def x710(tmp_path: Path) -> tuple[Host, Path, Path]:
    """A compute host with an X710 (i40e: has VF link-state control) and its config files."""
    topology = parse_topology(X710_TOPOLOGY, tmp_path / "x710.toml")
    root = tmp_path / "compute-x710"
    build_host(topology.host("compute-x710"), root)
    nova = tmp_path / "x710-nova.conf"
    nova.write_text('[pci]\ndevice_spec = {"devname": "ens1f0", '
                    '"physical_network": "physnet1"}\n')
    ini = tmp_path / "x710-sriov_agent.ini"
    ini.write_text("[sriov_nic]\nphysical_device_mappings = physnet1:ens1f0\n")
    return open_host(root), nova, ini


@pytest.fixture
def client(api: Any) -> ControlPlaneClient:
    """The agents' HTTP client over the in-process API (the TestClient's transport)."""
    return ControlPlaneClient(BASE_URL, ServiceCredentials(AGENT_USER, AGENT_PASSWORD),
                              transport=api.client._transport)


@dataclass
class Agents:
    """Builds agents for one simulated host; ``state`` is the agents' state dir."""

    client: ControlPlaneClient
    host: Host
    state: Path
    nova_conf: Path = NOVA_CONF
    sriov_ini: Path = SRIOV_INI

    @property
    def name(self) -> str:
        return self.host.sysfs.read("/etc/hostname")

    def compute(self, netlink: VfNetlink | None = None) -> ComputeAgent:
        """A fresh compute agent (a restart: same state dir); ``netlink`` swaps that seam."""
        host = self.host if netlink is None else Host(self.host.root, self.host.sysfs, netlink,
                                                      True)
        settings = ComputeAgentSettings(self.name, (str(self.nova_conf),), self.state,
                                        disk_gb=100)
        return ComputeAgent(settings, self.client, host,
                            open_virt(VirtKind.FAKE, host, self.state),
                            load_whitelist([self.nova_conf], self.host.sysfs))

    def sriov(self) -> SriovNicAgent:
        mappings = load_nic_mappings([self.sriov_ini], discover(self.host.sysfs))
        settings = SriovAgentSettings(self.name, (str(self.sriov_ini),), self.state)
        return SriovNicAgent(settings, self.client, self.host, mappings)


@pytest.fixture
def agents(client: ControlPlaneClient, compute0: Host, tmp_path: Path) -> Agents:
    return Agents(client, compute0, tmp_path / "state-compute0")


@pytest.fixture
def x710_agents(client: ControlPlaneClient, x710: tuple[Host, Path, Path],
                tmp_path: Path) -> Agents:
    host, nova, ini = x710
    return Agents(client, host, tmp_path / "state-x710", nova, ini)
