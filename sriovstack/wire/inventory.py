"""What a compute agent reports of its host: resources, capabilities, whitelisted PCI devices.

``PUT /internal/v1/hosts/{host}/inventory`` carries an ``InventoryReport``; the API answers
with ``InventoryCounts``.  What the API stores replaces what it had for the host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sriovstack.errors import Invalid
from sriovstack.pci import DevType, PciAddress, PciDevice
from sriovstack.wire.codec import Fields

__all__ = ["SupportedInstance", "HostCapabilities", "NumaCell", "HostResources",
           "InventoryDevice", "InventoryReport", "InventoryCounts", "MAX_DEVICES"]

MAX_DEVICES = 4096
_HEX4 = r"[0-9a-fA-F]{4}"


@dataclass(frozen=True, slots=True)
class SupportedInstance:
    """One (architecture, hypervisor type, vm mode) the host can run, as nova reports it."""

    architecture: str
    hypervisor_type: str
    vm_mode: str


@dataclass(frozen=True, slots=True)
class HostCapabilities:
    """The host's hypervisor facts and its other capabilities flattened to ``a:b`` = text."""

    hypervisor_type: str | None = None
    hypervisor_version: int | None = None
    supported_instances: tuple[SupportedInstance, ...] = ()
    flat: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # One form however it was built: the hypervisor facts are capabilities too, so
        # ``lookup("hypervisor_type")`` answers for a value built here as for one read back.
        flat = dict(self.flat)
        if self.hypervisor_type is not None:
            flat["hypervisor_type"] = self.hypervisor_type
        if self.hypervisor_version is not None:
            flat["hypervisor_version"] = str(self.hypervisor_version)
        object.__setattr__(self, "flat", tuple(sorted(flat.items())))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HostCapabilities:
        """Read the capabilities JSON an inventory report carries (or the database stored).

        Raises ValueError or TypeError when ``supported_instances`` or the version is not
        what nova writes.
        """
        supported = tuple(SupportedInstance(str(a).lower(), str(h).lower(), str(m).lower())
                          for a, h, m in data.get("supported_instances", ()))
        version = data.get("hypervisor_version")
        hv_type = data.get("hypervisor_type")
        flat: dict[str, str] = {}
        _flatten("", data, flat)
        return cls(str(hv_type) if hv_type is not None else None,
                   int(version) if version is not None else None, supported,
                   tuple(sorted(flat.items())))

    def to_json(self) -> dict[str, Any]:
        """The JSON form ``from_json`` reads back."""
        data: dict[str, Any] = {}
        for key, value in self.flat:
            data[key] = value
        if self.hypervisor_type is not None:
            data["hypervisor_type"] = self.hypervisor_type
        if self.hypervisor_version is not None:
            data["hypervisor_version"] = self.hypervisor_version
        data["supported_instances"] = [[s.architecture, s.hypervisor_type, s.vm_mode]
                                       for s in self.supported_instances]
        return data

    def lookup(self, path: str) -> str | None:
        """The capability at ``a:b:c`` (nested keys joined by ``:``), or None."""
        return dict(self.flat).get(path)


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if key != "supported_instances":
                _flatten(f"{prefix}:{key}" if prefix else str(key), inner, out)
    elif prefix:
        out[prefix] = str(value)


@dataclass(frozen=True, slots=True)
class NumaCell:
    """One host NUMA node and the CPU socket it sits on (None: unknown)."""

    id: int
    socket: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "socket": self.socket}

    @classmethod
    def from_json(cls, data: Any, where: str) -> NumaCell:
        f = Fields(data, where)
        cell = cls(f.integer("id", minimum=0), f.optional_integer("socket", minimum=0))
        f.done()
        return cell


@dataclass(frozen=True, slots=True)
class HostResources:
    """CPUs, memory and disk of the host, its availability zone, capabilities and NUMA cells."""

    vcpus: int
    memory_mb: int
    disk_gb: int
    availability_zone: str = "nova"
    capabilities: HostCapabilities = HostCapabilities()
    numa_cells: tuple[NumaCell, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"vcpus": self.vcpus, "memory_mb": self.memory_mb, "disk_gb": self.disk_gb,
                "availability_zone": self.availability_zone,
                "capabilities": self.capabilities.to_json(),
                "numa_cells": [c.to_json() for c in self.numa_cells]}

    @classmethod
    def from_json(cls, data: Any, where: str = "resources") -> HostResources:
        f = Fields(data, where)
        try:
            capabilities = HostCapabilities.from_json(f.mapping("capabilities"))
        except (TypeError, ValueError) as exc:
            raise f.refuse("capabilities", "supported_instances must be [arch, hypervisor, "
                           f"vm mode] triples and hypervisor_version a number ({exc})") from exc
        resources = cls(
            vcpus=f.integer("vcpus", minimum=0), memory_mb=f.integer("memory_mb", minimum=0),
            disk_gb=f.integer("disk_gb", minimum=0),
            availability_zone=f.text("availability_zone", "nova", min_len=1),
            capabilities=capabilities,
            numa_cells=tuple(NumaCell.from_json(c, at)
                             for c, at in f.items("numa_cells", default=[])))
        f.done()
        return resources


@dataclass(frozen=True, slots=True)
class InventoryDevice:
    """One whitelisted PCI function, with the physnet (and other tags) of the whitelist entry
    that matched it; on the wire its fields sit beside the device's."""

    device: PciDevice
    physnet: str | None = None
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def address(self) -> PciAddress:
        return self.device.address

    @property
    def pool_pf(self) -> PciAddress:
        """The PF a VF belongs to, or the device itself."""
        d = self.device
        return d.parent_addr if d.dev_type is DevType.VF and d.parent_addr else d.address

    def to_json(self) -> dict[str, Any]:
        d = self.device
        return {"address": str(d.address), "vendor_id": d.vendor_id,
                "product_id": d.product_id, "dev_type": d.dev_type.value,
                "parent_addr": str(d.parent_addr) if d.parent_addr else None,
                "numa_node": d.numa_node, "physnet": self.physnet, "tags": dict(self.tags)}

    @classmethod
    def from_json(cls, data: Any, where: str) -> InventoryDevice:
        f = Fields(data, where)
        address = f.required("address", PciAddress.parse)
        dev_type = f.choice("dev_type", DevType)
        parent = f.parsed("parent_addr", PciAddress.parse)
        if dev_type is DevType.VF and parent is None:
            raise f.refuse("parent_addr", f"a VF ({address}) needs the address of the PF it "
                           "belongs to")
        tags = f.mapping("tags")
        if not all(isinstance(v, str) for v in tags.values()):
            raise f.refuse("tags", "expected an object of strings")
        device = cls(PciDevice(address=address,
                               vendor_id=f.text("vendor_id", pattern=_HEX4).lower(),
                               product_id=f.text("product_id", pattern=_HEX4).lower(),
                               dev_type=dev_type, parent_addr=parent,
                               numa_node=f.optional_integer("numa_node", minimum=0)),
                     physnet=f.optional_text("physnet", min_len=1, max_len=64),
                     tags=tuple(sorted((str(k), v) for k, v in tags.items())))
        f.done()
        return device


@dataclass(frozen=True, slots=True)
class InventoryReport:
    """The whole inventory of one host: its resources and whitelisted devices."""

    resources: HostResources
    devices: tuple[InventoryDevice, ...]

    def to_json(self) -> dict[str, Any]:
        return {"resources": self.resources.to_json(),
                "devices": [d.to_json() for d in self.devices]}

    @classmethod
    def from_json(cls, data: Any) -> InventoryReport:
        """The body of an inventory report; Invalid naming the field (a device reported
        twice, a VF without its PF, a bad address or id...)."""
        f = Fields(data)
        resources = HostResources.from_json(f.raw("resources"), "resources")
        devices = tuple(InventoryDevice.from_json(d, at) for d, at in
                        f.items("devices", max_len=MAX_DEVICES, default=[]))
        f.done()
        seen: set[PciAddress] = set()
        for d in devices:
            if d.address in seen:
                raise Invalid(f"devices: device {d.address} is reported twice",
                              field="devices", value=str(d.address))
            seen.add(d.address)
        return cls(resources, devices)


@dataclass(frozen=True, slots=True)
class InventoryCounts:
    """What the API changed for an inventory report (counts of devices)."""

    added: int
    updated: int
    removed: int
    kept_in_use: int

    def to_json(self) -> dict[str, Any]:
        return {"inventory": {"added": self.added, "updated": self.updated,
                              "removed": self.removed, "kept_in_use": self.kept_in_use}}

    @classmethod
    def from_json(cls, data: Any) -> InventoryCounts:
        f = Fields.under(data, "inventory")
        return cls(*(f.integer(k, minimum=0)
                     for k in ("added", "updated", "removed", "kept_in_use")))
