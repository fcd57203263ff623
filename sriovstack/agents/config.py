"""Agent settings: the chapter's files (nova.conf, sriov_agent.ini) plus the command line,
checked against the host before an agent starts.

A bad value stops the agent at start with the file, the option and the reason (never at the
first boot): a whitelist entry that does not parse, a PF in ``physical_device_mappings`` that is
no SR-IOV netdev on this host, ``exclude_devices`` naming an unmapped NIC.
"""

from __future__ import annotations

import enum
import shutil
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sriovstack.conf import DeviceMapping, load_nova_config, load_sriov_agent_config
from sriovstack.errors import ConfigError, HostError
from sriovstack.host import Inventory, SysfsDeviceProbe, SysfsIO, memory_mb, online_cpus
from sriovstack.pci import DeviceSpecs, PciAddress, parse_device_specs

__all__ = ["VirtKind", "ComputeAgentSettings", "SriovAgentSettings", "NicMappings",
           "load_whitelist", "load_nic_mappings", "host_name", "host_resources_from"]


class VirtKind(enum.Enum):
    """Which virt driver the compute agent drives: ``netns`` emulates guests as network
    namespaces on a simulated host whose data plane is enabled (root)."""

    FAKE = "fake"
    LIBVIRT = "libvirt"
    NETNS = "netns"


@dataclass(frozen=True, slots=True)
class ComputeAgentSettings:
    """What the compute agent needs besides its collaborators.

    ``vcpus``/``memory_mb``/``disk_gb`` None: read from the host (``host_resources_from``).
    """

    host: str
    config_files: tuple[str, ...]
    state_dir: Path
    poll_wait: float = 10.0
    report_interval: float = 10.0
    vcpus: int | None = None
    memory_mb: int | None = None
    disk_gb: int | None = None


@dataclass(frozen=True, slots=True)
class SriovAgentSettings:
    """What the SR-IOV NIC agent needs: neutron's ``[AGENT]`` intervals (2 s, 30 s)."""

    host: str
    config_files: tuple[str, ...]
    state_dir: Path
    polling_interval: float = 2.0
    report_interval: float = 30.0


@dataclass(frozen=True, slots=True)
class NicMappings:
    """``[sriov_nic]``: the PFs per physnet and the VFs the agent must leave alone."""

    mappings: tuple[DeviceMapping, ...]
    excluded: dict[str, frozenset[PciAddress]] = field(default_factory=dict)

    def device_mappings(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """``((physnet, (netdev, ...)), ...)`` as heartbeats carry it."""
        table: dict[str, list[str]] = {}
        for m in self.mappings:
            table.setdefault(m.physnet, []).append(m.netdev)
        return tuple((p, tuple(n)) for p, n in sorted(table.items()))

    def netdevs(self) -> tuple[str, ...]:
        return tuple(m.netdev for m in self.mappings)


def load_whitelist(files: Sequence[str | Path], sysfs: SysfsIO) -> DeviceSpecs:
    """The compute node's ``[pci] device_spec`` / ``pci_passthrough_whitelist`` compiled,
    PF addresses and devnames resolved on the host behind ``sysfs``.

    Each line is checked on its own first, so an error names the file that holds it.
    Raises ConfigError.
    """
    nova = load_nova_config(files)
    probe = SysfsDeviceProbe(sysfs)
    for line in nova.device_specs:
        parse_device_specs([line.text], probe, file=line.origin.file,
                           option=f"[{line.origin.section}] {line.origin.option}")
    return parse_device_specs([line.text for line in nova.device_specs], probe)


def load_nic_mappings(files: Sequence[str | Path], inventory: Inventory) -> NicMappings:
    """``[sriov_nic]`` parsed and checked against the host's SR-IOV PFs.

    Raises ConfigError naming the file and option: a mapped netdev that is not an SR-IOV PF
    on this host, exclude_devices naming an unmapped netdev, bad syntax.
    """
    agent = load_sriov_agent_config(files)
    mappings = agent.device_mappings()
    origin = agent.physical_device_mappings.origin
    if not mappings:
        raise ConfigError("no PF is mapped, so the agent would manage nothing",
                          file=origin.file or ", ".join(str(f) for f in files),
                          section="sriov_nic",
                          option="physical_device_mappings",
                          fix="map a physnet to a PF netdev, e.g. physnet1:enp11s0f1")
    pf_netdevs = {pf.netdev for pf in inventory.pfs if pf.netdev}
    for m in mappings:
        if m.netdev not in pf_netdevs:
            raise ConfigError(
                f"{m.physnet}:{m.netdev}: there is no SR-IOV PF netdev {m.netdev!r} on this "
                "host", file=origin.file, section=origin.section, option=origin.option,
                value=m.netdev, fix="name one of the host's PFs: "
                + (", ".join(sorted(pf_netdevs)) or "none found (is the PF driver loaded?)"))
    return NicMappings(mappings, agent.excluded_vfs())


def host_name(sysfs: SysfsIO, given: str | None = None) -> str:
    """``given``, else the host's ``/etc/hostname`` (under the root), else the system's."""
    if given:
        return given
    try:
        name = sysfs.read("/etc/hostname").split(".")[0]
    except OSError:
        name = ""
    return name or socket.gethostname().split(".")[0]


def host_resources_from(sysfs: SysfsIO, settings: ComputeAgentSettings) -> tuple[int, int, int]:
    """(vcpus, memory_mb, disk_gb): the settings where given, else what the host behind
    ``sysfs`` says (``host/resources.py``); the disk is that of the agent's state dir.

    Raises ConfigError naming the option to pass when the host cannot tell.
    """
    vcpus = settings.vcpus
    if vcpus is None:
        vcpus = _from_host(online_cpus, sysfs, "--vcpus")
    memory = settings.memory_mb
    if memory is None:
        memory = _from_host(memory_mb, sysfs, "--memory-mb")
    disk = settings.disk_gb
    if disk is None:
        disk = shutil.disk_usage(settings.state_dir if settings.state_dir.exists()
                                 else Path("/")).total // (1 << 30)
    return vcpus, memory, disk


def _from_host(read: Callable[[SysfsIO], int], sysfs: SysfsIO, option: str) -> int:
    try:
        return read(sysfs)
    except HostError as exc:
        raise ConfigError(f"cannot read host resources: {exc.message}", option=option,
                          fix=f"pass {option}") from exc
