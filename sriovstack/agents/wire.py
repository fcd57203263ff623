"""The typed values agents exchange with the internal API, and their JSON forms (both ways).

Agents never import the services: what the API sends is parsed here, once, into frozen values;
what agents send is built from frozen values here.  A body that does not have the expected
shape is an ``Unreachable`` error naming the field (the API and the agent disagree).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Interface, IPv6Interface, ip_interface
from typing import Any

from sriovstack.errors import Unreachable
from sriovstack.pci.address import PciAddress
from sriovstack.pci.device import DevType

__all__ = [
    "Heartbeat", "HostResources", "InventoryDevice", "InventoryReport", "InventoryCounts",
    "ServerReport", "DesiredPort", "DesiredServer", "DesiredState", "PortState",
    "COMPUTE_AGENT_TYPE", "COMPUTE_BINARY", "NIC_AGENT_TYPE", "NIC_BINARY",
    "parse_desired_state",
]

# The compute service marks a host up on heartbeats with this agent_type (compute/reports.py).
COMPUTE_AGENT_TYPE = "Compute agent"
COMPUTE_BINARY = "sriovstack-compute"
# neutron's names: the sriovnicswitch mechanism driver looks for a live agent of this type.
NIC_AGENT_TYPE = "NIC Switch agent"
NIC_BINARY = "neutron-sriov-nic-agent"
ZERO_MAC = "00:00:00:00:00:00"


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """One agent state report; ``device_mappings`` is ``((physnet, (netdev, ...)), ...)``."""

    agent_type: str
    binary: str
    device_mappings: tuple[tuple[str, tuple[str, ...]], ...] = ()
    devices: int = 0
    start_flag: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"agent_type": self.agent_type, "binary": self.binary,
                "start_flag": self.start_flag,
                "configurations": {"device_mappings": {p: list(n) for p, n in
                                                       self.device_mappings},
                                   "devices": self.devices}}


@dataclass(frozen=True, slots=True)
class HostResources:
    """CPUs, memory and disk of the host, and its NUMA node ids."""

    vcpus: int
    memory_mb: int
    disk_gb: int
    numa_nodes: tuple[int, ...] = (0,)
    hypervisor_type: str = "QEMU"

    def to_json(self) -> dict[str, Any]:
        return {"vcpus": self.vcpus, "memory_mb": self.memory_mb, "disk_gb": self.disk_gb,
                "capabilities": {"hypervisor_type": self.hypervisor_type,
                                 "supported_instances": [["x86_64", "qemu", "hvm"]]},
                "numa_cells": [{"id": n} for n in self.numa_nodes]}


@dataclass(frozen=True, slots=True)
class InventoryDevice:
    """One whitelisted PCI function: its ids, parent PF, NUMA node and physnet tag."""

    address: PciAddress
    vendor_id: str
    product_id: str
    dev_type: DevType
    parent_addr: PciAddress | None
    numa_node: int | None
    physnet: str | None

    def to_json(self) -> dict[str, Any]:
        return {"address": str(self.address), "vendor_id": self.vendor_id,
                "product_id": self.product_id, "dev_type": self.dev_type.value,
                "parent_addr": str(self.parent_addr) if self.parent_addr else None,
                "numa_node": self.numa_node, "physnet": self.physnet}


@dataclass(frozen=True, slots=True)
class InventoryReport:
    """The whole inventory of one host (what the API stores replaces what it had)."""

    resources: HostResources
    devices: tuple[InventoryDevice, ...]

    def to_json(self) -> dict[str, Any]:
        return {"resources": self.resources.to_json(),
                "devices": [d.to_json() for d in self.devices]}


@dataclass(frozen=True, slots=True)
class InventoryCounts:
    """What the API changed for an inventory report."""

    added: int
    updated: int
    removed: int
    kept_in_use: int


class ServerReport(enum.Enum):
    """What the compute agent says of a server: its guest runs, or it could not be built."""

    RUNNING = "running"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class PortState:
    """A port as the API answered a device report."""

    port_id: str
    status: str


@dataclass(frozen=True, slots=True)
class DesiredPort:
    """One port of a server: ``owner`` (server, port, generation) fences the VF it holds."""

    port_id: str
    mac: str
    vnic_type: str
    vlan: int
    pci_address: PciAddress | None
    physnet: str | None
    admin_state_up: bool
    generation: int
    # The port's address with its subnet's prefix; only emulated (netns) guests configure it.
    fixed_ip: IPv4Interface | IPv6Interface | None = field(default=None, compare=False)

    @property
    def is_vf(self) -> bool:
        """A ``direct`` port with a VF and a MAC (an empty MAC: the port was deleted)."""
        return self.vnic_type == "direct" and self.pci_address is not None and bool(self.mac)


@dataclass(frozen=True, slots=True)
class DesiredServer:
    """One server placed on the host (status as the API has it: BUILD, ACTIVE, ERROR)."""

    server_id: str
    name: str
    status: str
    vcpus: int
    memory_mb: int
    ports: tuple[DesiredPort, ...]


@dataclass(frozen=True, slots=True)
class DesiredState:
    """Everything the host should have at ``revision``."""

    host: str
    revision: int
    servers: tuple[DesiredServer, ...]

    def vf_ports(self) -> dict[PciAddress, tuple[DesiredServer, DesiredPort]]:
        """Every VF a desired port holds, with its server and port."""
        return {p.pci_address: (s, p) for s in self.servers for p in s.ports
                if p.is_vf and p.pci_address is not None}


def _get(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise Unreachable(f"the API's desired state has a bad {where}.{key}: {value!r}",
                          field=f"{where}.{key}", fix="run agents and API of one release")
    return value


def _port(data: Mapping[str, Any], where: str) -> DesiredPort:
    pci = data.get("pci_address")
    vlan = data.get("vlan")
    generation = data.get("generation")
    return DesiredPort(
        port_id=_get(data, "port_id", str, where), mac=str(data.get("mac") or "").lower(),
        vnic_type=_get(data, "vnic_type", str, where),
        vlan=vlan if isinstance(vlan, int) and not isinstance(vlan, bool) else 0,
        pci_address=PciAddress.parse(pci) if isinstance(pci, str) and pci else None,
        physnet=data.get("physnet") if isinstance(data.get("physnet"), str) else None,
        admin_state_up=bool(data.get("admin_state_up")),
        generation=generation if isinstance(generation, int) else 0,
        fixed_ip=_fixed_ip(data.get("fixed_ip"), where))


def _fixed_ip(value: Any, where: str) -> IPv4Interface | IPv6Interface | None:
    if value is None:
        return None
    try:
        if isinstance(value, str):
            return ip_interface(value)
    except ValueError:
        pass
    raise Unreachable(f"the API's desired state has a bad {where}.fixed_ip: {value!r}",
                      field=f"{where}.fixed_ip", fix="run agents and API of one release")


def parse_desired_state(data: Any) -> DesiredState:
    """The desired-state body as a DesiredState; Unreachable naming the field when malformed."""
    servers = []
    for i, s in enumerate(_get({"servers": data.get("servers") if isinstance(data, dict)
                                else None}, "servers", list, "body")):
        where = f"servers[{i}]"
        ports = tuple(_port(p, f"{where}.ports[{j}]")
                      for j, p in enumerate(_get(s, "ports", list, where)))
        servers.append(DesiredServer(
            server_id=_get(s, "id", str, where), name=_get(s, "name", str, where),
            status=_get(s, "status", str, where), vcpus=_get(s, "vcpus", int, where),
            memory_mb=_get(s, "memory_mb", int, where), ports=ports))
    return DesiredState(host=_get(data, "host", str, "body"),
                        revision=_get(data, "revision", int, "body"), servers=tuple(servers))
