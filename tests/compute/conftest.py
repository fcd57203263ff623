"""Fixtures of the compute service tests: the chapter's ML2 settings and scheduler filters over
the shared ``database`` fixture (SQLite and PostgreSQL), a simulated 82576 host's inventory."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sriovstack.clock import FakeClock
from sriovstack.compute import ComputeServices, build_compute
from sriovstack.compute.hosts import HostRegistry
from sriovstack.compute.scheduler import (HostCapabilities, Scheduler, SchedulerConfig,
                                          SupportedInstance)
from sriovstack.db import Database
from sriovstack.identity import Caller
from sriovstack.network import (Ml2Settings, NetworkService, NetworkSpec, Port, PortSpec,
                                ProviderSpec, SubnetSpec)
from sriovstack.wire import VnicType
from sriovstack.pci.address import PciAddress
from sriovstack.pci.device import DevType, PciDevice
from sriovstack.wire import (COMPUTE_AGENT_TYPE, NIC_AGENT_TYPE, Heartbeat, HostResources,
                             InventoryDevice, InventoryReport)

ALICE = Caller("u-alice", "p-alice")
BOB = Caller("u-bob", "p-bob")
ADMIN = Caller("u-admin", "p-admin", is_admin=True)

# The chapter (20.3): vlan, physnet1:15:20, openvswitch then sriovnicswitch, 8086:10ca allowed.
CHAPTER_ML2 = Ml2Settings(type_drivers=("flat", "vlan"), tenant_network_types=("vlan",),
                          mechanism_drivers=("openvswitch", "sriovnicswitch"),
                          vlan_ranges=(("physnet1", ((15, 20),)),), flat_networks=("physnet2",),
                          agent_required=True,
                          supported_pci_vendor_devs=("15b3:1004", "8086:10ca"))

PF0, PF1 = PciAddress.parse("0000:0b:00.0"), PciAddress.parse("0000:0b:00.1")


# What a libvirt/KVM x86_64 host reports (ImagePropertiesFilter matches cirros against it).
KVM_X86 = HostCapabilities(hypervisor_type="QEMU", hypervisor_version=8002000,
                           supported_instances=(SupportedInstance("x86_64", "qemu", "hvm"),))


def intel_82576_devices(physnet: str = "physnet1", vfs_per_pf: int = 7
                        ) -> tuple[InventoryDevice, ...]:
    """The whitelisted VFs of a dual-port 82576 (8086:10ca, 7 per PF = 14): PF n's VFs sit at
    0b:10.n, 0b:10.(n+2), ... (VF offset 0x80, stride 2), as igb lays them out."""
    devices = []
    for pf in (PF0, PF1):
        for i in range(vfs_per_pf):
            routing = pf.routing_id + 0x80 + 2 * i
            devices.append(InventoryDevice(PciDevice(
                address=PciAddress.from_routing_id(0, routing), vendor_id="8086",
                product_id="10ca", dev_type=DevType.VF, parent_addr=pf, numa_node=0),
                physnet=physnet))
    return tuple(devices)


def inventory(host: str, devices: tuple[InventoryDevice, ...] | None = None,
              vcpus: int = 16, memory_mb: int = 32768) -> tuple[str, InventoryReport]:
    """(host, its report) for ``reports.inventory(*inventory(...))``."""
    return host, InventoryReport(HostResources(vcpus=vcpus, memory_mb=memory_mb, disk_gb=500,
                                               capabilities=KVM_X86),
                                 intel_82576_devices() if devices is None else devices)


@dataclass
class Cloud:
    """The network service, scheduler and compute services over one database."""

    db: Database
    clock: FakeClock
    net: NetworkService
    scheduler: Scheduler
    compute: ComputeServices

    def add_host(self, host: str, *, sriov_agent: bool = True, **kwargs: object) -> None:
        """Register a host as its agents would: inventory, compute and NIC agent heartbeats."""
        self.compute.reports.inventory(*inventory(host, **kwargs))  # type: ignore[arg-type]
        self.compute.reports.heartbeat(host, Heartbeat(COMPUTE_AGENT_TYPE, "sriovstack-compute"))
        if sriov_agent:
            self.compute.reports.heartbeat(host, Heartbeat(
                NIC_AGENT_TYPE, "neutron-sriov-nic-agent",
                device_mappings=(("physnet1", ("enp11s0f0", "enp11s0f1")),)))

    def network(self, caller: Caller = ADMIN, project: str | None = None) -> str:
        """A vlan network on physnet1 with a /24 subnet; returns its id."""
        net = self.net.networks.create(caller, NetworkSpec(
            name="web", project_id=project,
            provider=ProviderSpec("vlan", "physnet1", 15)))
        self.net.subnets.create(caller, SubnetSpec(network_id=net.id, cidr="10.0.0.0/24",
                                                   name="web-subnet", project_id=project))
        return net.id

    def port(self, caller: Caller, network_id: str,
             vnic: VnicType = VnicType.DIRECT) -> Port:
        return self.net.create_port(caller, PortSpec(network_id=network_id, name="sr-iov",
                                                     vnic_type=vnic))


@pytest.fixture
def cloud(database: Database) -> Cloud:
    clock = FakeClock()
    net = NetworkService(database, CHAPTER_ML2, clock)
    scheduler = Scheduler(database, SchedulerConfig(), clock)
    compute = build_compute(database, net, scheduler, HostRegistry(database, clock), clock, poll_interval=0.05)
    return Cloud(database, clock, net, scheduler, compute)
