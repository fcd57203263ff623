"""The compute agent's inventory: the host's PFs and VFs that pass the whitelist, with physnets.

Built afresh from discovery on every pass, so VFs created or removed after the agent started
are reported without a restart (sriov-network-device-plugin #276 is the pain avoided).
"""

from __future__ import annotations

from sriovstack.host import Inventory
from sriovstack.pci import DeviceSpecs
from sriovstack.wire import (HostCapabilities, HostResources, InventoryDevice, InventoryReport,
                             NumaCell, SupportedInstance)

__all__ = ["whitelisted_devices", "inventory_report"]

_QEMU = HostCapabilities(hypervisor_type="QEMU",
                         supported_instances=(SupportedInstance("x86_64", "qemu", "hvm"),))


def whitelisted_devices(inventory: Inventory, whitelist: DeviceSpecs
                        ) -> tuple[InventoryDevice, ...]:
    """Every PF and VF of ``inventory`` a whitelist entry matches (first entry wins), tagged
    with that entry's physical_network; devname entries are looked up afresh."""
    whitelist.refresh()
    found = ((device, whitelist.find(device)) for device in inventory.devices())
    return tuple(InventoryDevice(device, spec.physical_network)
                 for device, spec in found if spec is not None)


def inventory_report(inventory: Inventory, whitelist: DeviceSpecs, vcpus: int,
                     memory_mb: int, disk_gb: int) -> InventoryReport:
    """The report for the API: resources (NUMA nodes from the PFs, else node 0; a QEMU
    hypervisor for x86_64 HVM guests) and devices."""
    numa = tuple(sorted({pf.numa_node for pf in inventory.pfs if pf.numa_node is not None}))
    resources = HostResources(vcpus=vcpus, memory_mb=memory_mb, disk_gb=disk_gb,
                              capabilities=_QEMU,
                              numa_cells=tuple(NumaCell(n) for n in numa or (0,)))
    return InventoryReport(resources, whitelisted_devices(inventory, whitelist))
