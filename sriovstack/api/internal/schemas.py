"""Internal agent endpoint bodies (pydantic, unknown keys refused), turned into typed reports."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sriovstack.compute.hosts import (HostInventoryReport, HostResources, NumaCell,
                                      ReportedDevice)
from sriovstack.compute.scheduler import HostCapabilities
from sriovstack.compute.types import AgentServerStatus
from sriovstack.errors import Invalid
from sriovstack.network.agents import AgentReport
from sriovstack.pci.address import PciAddress
from sriovstack.pci.device import DevType

__all__ = ["HeartbeatRequest", "InventoryRequest", "ServerStatusRequest", "DeviceStatusRequest"]

_STRICT = ConfigDict(extra="forbid")
_HEX4 = r"^[0-9a-fA-F]{4}$"


class AgentConfigurations(BaseModel):
    """The ``configurations`` neutron agents report (device_mappings for the NIC agent)."""

    model_config = _STRICT
    device_mappings: dict[str, list[str]] = Field(default_factory=dict)
    devices: int = Field(default=0, ge=0)
    extensions: list[str] = Field(default_factory=list)


class HeartbeatRequest(BaseModel):
    model_config = _STRICT
    agent_type: str = Field(min_length=1, max_length=255)
    binary: str = Field(min_length=1, max_length=255)
    configurations: AgentConfigurations = Field(default_factory=AgentConfigurations)
    start_flag: bool = False

    def to_report(self, host: str) -> AgentReport:
        c = self.configurations
        return AgentReport(host=host, agent_type=self.agent_type, binary=self.binary,
                           device_mappings=tuple((p, tuple(n)) for p, n in
                                                 sorted(c.device_mappings.items())),
                           devices=c.devices, extensions=tuple(c.extensions),
                           start_flag=self.start_flag)


class NumaCellBody(BaseModel):
    model_config = _STRICT
    id: int = Field(ge=0)
    socket: int | None = Field(default=None, ge=0)


class ResourcesBody(BaseModel):
    model_config = _STRICT
    vcpus: int = Field(ge=0)
    memory_mb: int = Field(ge=0)
    disk_gb: int = Field(ge=0)
    availability_zone: str = Field(default="nova", min_length=1, max_length=255)
    capabilities: dict[str, Any] = Field(default_factory=dict)
    numa_cells: list[NumaCellBody] = Field(default_factory=list)


class DeviceBody(BaseModel):
    """One whitelisted PCI function as the compute agent reports it."""

    model_config = _STRICT
    address: str
    vendor_id: str = Field(pattern=_HEX4)
    product_id: str = Field(pattern=_HEX4)
    dev_type: Literal["type-PF", "type-VF", "type-PCI"]
    parent_addr: str | None = None
    numa_node: int | None = Field(default=None, ge=0)
    physnet: str | None = Field(default=None, min_length=1, max_length=64)
    tags: dict[str, str] = Field(default_factory=dict)

    def to_device(self, index: int) -> ReportedDevice:
        try:
            address = PciAddress.parse(self.address)
            parent = PciAddress.parse(self.parent_addr) if self.parent_addr else None
        except Invalid as exc:
            raise Invalid(f"devices[{index}]: {exc}", field=f"devices[{index}]") from exc
        if self.dev_type == "type-VF" and parent is None:
            raise Invalid(f"devices[{index}] ({self.address}) is a VF without parent_addr",
                          field=f"devices[{index}].parent_addr",
                          fix="give the address of the PF the VF belongs to")
        return ReportedDevice(address=address, vendor_id=self.vendor_id.lower(),
                              product_id=self.product_id.lower(),
                              dev_type=DevType(self.dev_type), parent_addr=parent,
                              numa_node=self.numa_node, physnet=self.physnet,
                              tags=tuple(sorted(self.tags.items())))


class InventoryRequest(BaseModel):
    model_config = _STRICT
    resources: ResourcesBody
    devices: list[DeviceBody] = Field(default_factory=list, max_length=4096)

    def to_report(self, host: str) -> HostInventoryReport:
        r = self.resources
        resources = HostResources(
            vcpus=r.vcpus, memory_mb=r.memory_mb, disk_gb=r.disk_gb,
            availability_zone=r.availability_zone,
            capabilities=HostCapabilities.from_json(r.capabilities),
            numa_cells=tuple(NumaCell(c.id, c.socket) for c in r.numa_cells))
        devices = tuple(d.to_device(i) for i, d in enumerate(self.devices))
        seen: set[PciAddress] = set()
        for d in devices:
            if d.address in seen:
                raise Invalid(f"device {d.address} is reported twice", field="devices",
                              value=str(d.address))
            seen.add(d.address)
        return HostInventoryReport(host=host, resources=resources, devices=devices)


class ServerStatusRequest(BaseModel):
    model_config = _STRICT
    status: Literal["running", "error"]
    message: str = Field(default="", max_length=4096)

    def to_status(self) -> AgentServerStatus:
        return AgentServerStatus(self.status)


class DeviceStatusRequest(BaseModel):
    model_config = _STRICT
    mac: str = Field(pattern=r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
    pci_slot: str | None = None
    up: bool
