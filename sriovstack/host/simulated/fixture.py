"""The fixture builder: lays out one topology host as a sysfs/procfs tree under a root prefix.

The tree follows linux_host.md §1.1/§1.2 and §6.2: PCI functions under
``/sys/devices/pci0000:00/<root port>/``, relative links from ``/sys/bus/pci`` and
``/sys/class/net``, driver dirs, IOMMU groups and units, ``/proc/{cmdline,interrupts,modules}``,
module parameters, ``/dev/vfio/vfio``, empty ``/etc`` config dirs, and the marker dir holding
the simulated state.  VFs asked for by the topology are created through the simulated kernel.
"""

from __future__ import annotations

from pathlib import Path

from sriovstack.host.simulated.catalogue import NicModel
from sriovstack.host.simulated.kernel import SimulatedKernel
from sriovstack.host.simulated.state import SimState
from sriovstack.host.simulated.topology import IommuKind, NicSpec, TopologyHost
from sriovstack.host.simulated.tree import PCI_DRIVERS, Tree
from sriovstack.mac import MacAddress
from sriovstack.pci import PciAddress

__all__ = ["build_host"]

# Intel VT-d register values as a Xeon reports them; ecap bit 3 = interrupt remapping.
_DMAR_CAP = "d2008c40660462"
_DMAR_ECAP_IR = "f050de"
_DMAR_ECAP_NO_IR = _DMAR_ECAP_IR[:-1] + format(int(_DMAR_ECAP_IR[-1], 16) & ~0x8, "x")
_DRIVER_FILES = ("bind", "unbind", "new_id", "remove_id", "uevent")


def build_host(host: TopologyHost, root: str | Path) -> None:
    """Build ``host`` under ``root`` (created if needed; must not already hold a host)."""
    rootp = Path(root)
    rootp.mkdir(parents=True, exist_ok=True)
    tree = Tree(rootp)
    state = SimState(rootp)
    with state.locked():
        _base(tree, host)
        _iommu(tree, host)
        group = 16
        pfs: dict[str, dict[str, object]] = {}
        for bridge_slot, nic in enumerate(host.nics, start=1):
            group = _nic(tree, host, nic, bridge_slot, group, pfs)
        state.save("pfs", pfs)
        state.save("host", {"name": host.name, "role": host.role.value})
        _proc(tree, host)
    # The kernel takes the host lock itself (flock is per open file, so not while we hold it).
    kernel = SimulatedKernel(rootp)
    for nic in host.nics:
        for addr in nic.port_addresses():
            if nic.numvfs:
                kernel.enable_vfs(addr, nic.numvfs)


def _base(tree: Tree, host: TopologyHost) -> None:
    for d in ("etc/modprobe.d", "etc/systemd/system", "etc/udev/rules.d", "sys/class/net",
              "sys/bus/pci/devices", "sys/bus/pci/drivers", "sys/class/iommu", "dev"):
        tree.p(d).mkdir(parents=True, exist_ok=True)
    tree.write("/etc/hostname", host.name)
    for name, value in (("drivers_probe", ""), ("drivers_autoprobe", "1"), ("rescan", "")):
        tree.write(f"/sys/bus/pci/{name}", value)
    tree.write("/sys/devices/virtual/net/lo/address", str(MacAddress.ZERO))
    tree.write("/sys/devices/virtual/net/lo/operstate", "unknown")
    tree.link("/sys/class/net/lo", "/sys/devices/virtual/net/lo")
    last = host.cpus - 1
    tree.write("/sys/devices/system/cpu/online", f"0-{last}" if last else "0")
    if host.vfio:
        _driver_dir(tree, "vfio-pci")
        tree.write("/dev/vfio/vfio", "")
        tree.write("/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts",
                   "Y" if host.allow_unsafe_interrupts else "N")
        tree.write("/sys/module/vfio_pci/parameters/ids", "")


def _driver_dir(tree: Tree, name: str) -> None:
    for f in _DRIVER_FILES:
        if not tree.exists(f"{PCI_DRIVERS}/{name}/{f}"):
            tree.write(f"{PCI_DRIVERS}/{name}/{f}", "")


def _iommu(tree: Tree, host: TopologyHost) -> None:
    if host.iommu is IommuKind.INTEL:
        unit = "/sys/devices/virtual/iommu/dmar0"
        tree.write(f"{unit}/intel-iommu/cap", _DMAR_CAP)
        tree.write(f"{unit}/intel-iommu/ecap",
                   _DMAR_ECAP_IR if host.interrupt_remapping else _DMAR_ECAP_NO_IR)
        tree.write(f"{unit}/intel-iommu/address", "fbffc000")
        tree.write(f"{unit}/intel-iommu/version", "1:0")
        tree.link("/sys/class/iommu/dmar0", unit)
        tree.write("/sys/firmware/acpi/tables/DMAR", "DMAR")
    elif host.iommu is IommuKind.AMD:
        unit = "/sys/devices/pci0000:00/0000:00:00.2/iommu/ivhd0"
        tree.write(f"{unit}/amd-iommu/cap", "40")
        tree.write(f"{unit}/amd-iommu/features", "25bf732fa2295afe")
        tree.link("/sys/class/iommu/ivhd0", unit)
        tree.write("/sys/firmware/acpi/tables/IVRS", "IVRS")
    if host.iommu is not IommuKind.NONE:
        tree.p("/sys/kernel/iommu_groups").mkdir(parents=True, exist_ok=True)


def _nic(tree: Tree, host: TopologyHost, nic: NicSpec, bridge_slot: int, group: int,
         pfs: dict[str, dict[str, object]]) -> int:
    """Lay out every port of ``nic``; returns the next free IOMMU group number."""
    m = nic.model
    bridge = f"/sys/devices/pci{nic.address.domain:04x}:00/{nic.address.domain:04x}:00:" \
             f"{bridge_slot:02x}.0"
    tree.write(f"{bridge}/class", "0x060400")
    tree.write(f"{bridge}/vendor", "0x8086")
    if nic.driver_bound:
        _driver_dir(tree, m.driver)
        _driver_dir(tree, m.caps.vf_driver)
        for param, value in m.caps.module_params:
            tree.write(f"/sys/module/{m.driver}/parameters/{param}", value)
    for port, addr in enumerate(nic.port_addresses()):
        dev = f"{bridge}/{addr}"
        tree.add_device(dev, _pf_attrs(m, nic, port))
        mac = _pf_mac(addr)
        pfs[str(addr)] = {"netdevs": [nic.netdevs[port]], "mac": mac,
                          "max_enabled": nic.max_enabled, "model": m.key}
        if host.iommu is not IommuKind.NONE:
            tree.add_iommu_group(dev, group)
            group += 1
        if nic.driver_bound:
            tree.bind(dev, m.driver)
            tree.add_netdev(dev, nic.netdevs[port], mac, "up" if nic.link_up else "down")
            # The PF's link speed in Mb/s (-1 without a link), as the kernel reports it.
            tree.write(f"{dev}/net/{nic.netdevs[port]}/speed",
                       "1000" if nic.link_up else "-1")
    return group


def _pf_attrs(m: NicModel, nic: NicSpec, port: int) -> dict[str, str]:
    return {
        "vendor": f"0x{m.vendor_id}", "device": f"0x{m.device_id}",
        "subsystem_vendor": f"0x{m.vendor_id}", "subsystem_device": "0x0000",
        "class": f"0x{m.class_code:06x}", "revision": f"0x{m.revision:02x}",
        "numa_node": str(nic.numa_node), "local_cpulist": "0-7",
        "driver_override": "(null)", "enable": "1", "irq": "0",
        "modalias": f"pci:v0000{m.vendor_id.upper()}d0000{m.device_id.upper()}sv*sd*bc02sc00i00",
        "sriov_totalvfs": str(m.totalvfs), "sriov_numvfs": "0",
        "sriov_offset": str(m.vf_offsets[port]), "sriov_stride": str(m.vf_stride),
        "sriov_vf_device": m.vf_device_id, "sriov_drivers_autoprobe": "1",
        "sriov_vf_total_msix": "0",
    }


def _pf_mac(addr: PciAddress) -> str:
    # Intel's OUI for Intel NICs would be nicer, but a stable per-address MAC is what matters.
    return f"a0:36:9f:{addr.bus:02x}:{addr.slot:02x}:{addr.function:02x}"


def _proc(tree: Tree, host: TopologyHost) -> None:
    tree.write("/proc/cmdline", host.kernel_cmdline)
    tree.write("/proc/meminfo", f"MemTotal:       {host.memory_mb * 1024} kB")
    tree.write("/proc/interrupts", _interrupts(host))
    tree.write("/proc/modules", "\n".join(_modules(host)))


def _interrupts(host: TopologyHost) -> str:
    ir = "IR-" if host.interrupt_remapping else ""
    cols = min(host.cpus, 4)
    head = " " * 11 + "".join(f"CPU{i:<8}" for i in range(cols))
    zeros = "".join(f"{0:>11}" for _ in range(cols))
    lines = [head, f"   0:{zeros}   {ir}IO-APIC    2-edge      timer",
             f"   9:{zeros}   {ir}IO-APIC    9-fasteoi   acpi"]
    irq = 24
    if host.iommu is IommuKind.INTEL:
        lines.append(f"  {irq}:{zeros}   DMAR-MSI    0-edge      dmar0")
        irq += 1
    elif host.iommu is IommuKind.AMD:
        lines.append(f"  {irq}:{zeros}   IR-PCI-MSI-0000:00:00.2    0-edge      AMD-Vi")
        irq += 1
    for nic in host.nics:
        for port, addr in enumerate(nic.port_addresses()):
            if nic.driver_bound:
                lines.append(f"  {irq}:{zeros}   {ir}PCI-MSIX-{addr}    0-edge      "
                             f"{nic.netdevs[port]}-TxRx-0")
                irq += 1
    return "\n".join(lines)


def _modules(host: TopologyHost) -> list[str]:
    names = ["kvm_intel" if host.iommu is not IommuKind.AMD else "kvm_amd", "kvm"]
    for nic in host.nics:
        if nic.driver_bound:
            names += [nic.model.driver, nic.model.caps.vf_driver]
    if host.vfio:
        names += ["vfio_pci", "vfio_pci_core", "vfio_iommu_type1", "vfio"]
    unique = list(dict.fromkeys(names))
    return [f"{n} {65536 + 4096 * i} 0 - Live 0x0000000000000000" for i, n in enumerate(unique)]

