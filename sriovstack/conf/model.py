"""Typed, frozen views of a deployment's loaded configuration, each value with its origin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from sriovstack.conf.parsers import (DeviceMapping, VendorProduct, VlanRange,
                                     parse_device_mapping_table, parse_excluded_vf_table,
                                     parse_supported_pci_vendor_devs, parse_vlan_range_table)
from sriovstack.pci import PciAddress

__all__ = ["Origin", "Setting", "SpecLine", "NovaConfig", "Ml2Config", "SriovAgentConfig",
           "DatabaseConfig", "DeploymentConfig"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a value was set: the file and the ``[section] option`` name written there.

    ``file`` is None when no file set the option and its default applies; ``section`` and
    ``option`` are then the option's current name.
    """

    file: str | None
    section: str
    option: str

    def __str__(self) -> str:
        where = f"[{self.section}] {self.option}"
        return f"{self.file}: {where}" if self.file else f"{where} (default)"


@dataclass(frozen=True, slots=True)
class Setting(Generic[T]):
    """One option's value and where it came from."""

    value: T
    origin: Origin

    @property
    def is_set(self) -> bool:
        """True when some file set the option (rather than its default applying)."""
        return self.origin.file is not None


@dataclass(frozen=True, slots=True)
class SpecLine:
    """One whitelist / device_spec value (a JSON text) and the file line it came from."""

    text: str
    origin: Origin


@dataclass(frozen=True, slots=True)
class NovaConfig:
    """nova.conf: the PCI whitelist (compute, 20.5) and the scheduler filters (controller, 20.4)."""

    device_specs: tuple[SpecLine, ...]
    available_filters: Setting[tuple[str, ...]]
    enabled_filters: Setting[tuple[str, ...]]
    allow_resize_to_same_host: Setting[bool]
    resize_confirm_window: Setting[int]  # [DEFAULT], seconds (0: off)
    # [filter_scheduler] host_subset_size: choose at random among the best N weighed hosts
    host_subset_size: Setting[int]
    aliases: tuple[SpecLine, ...] = ()  # [pci] alias: JSON texts (pci/alias.py parses them)


@dataclass(frozen=True, slots=True)
class Ml2Config:
    """neutron-server's ML2 options (20.3): drivers, VLAN and flat physnets, [ml2_sriov]."""

    type_drivers: Setting[tuple[str, ...]]
    tenant_network_types: Setting[tuple[str, ...]]
    mechanism_drivers: Setting[tuple[str, ...]]
    network_vlan_ranges: Setting[tuple[str, ...]]
    flat_networks: Setting[tuple[str, ...]]
    agent_required: Setting[bool]
    supported_pci_vendor_devs: Setting[tuple[str, ...] | None]

    def vlan_ranges(self) -> dict[str, tuple[VlanRange, ...]]:
        """``{physnet: ranges}``; raises ConfigError naming the file that set the option."""
        return parse_vlan_range_table(self.network_vlan_ranges.value,
                                      file=self.network_vlan_ranges.origin.file)

    def vendor_devs(self) -> tuple[VendorProduct, ...] | None:
        """The allowed ``vendor:product`` pairs, or None when unset (no check, Newton+)."""
        setting = self.supported_pci_vendor_devs
        if setting.value is None:
            return None
        return parse_supported_pci_vendor_devs(setting.value, file=setting.origin.file)


@dataclass(frozen=True, slots=True)
class SriovAgentConfig:
    """The SR-IOV NIC agent's options on a compute node (20.6)."""

    physical_device_mappings: Setting[tuple[str, ...]]
    exclude_devices: Setting[tuple[str, ...]]
    firewall_driver: Setting[str | None]

    def device_mappings(self) -> tuple[DeviceMapping, ...]:
        """The ``physnet:netdev`` pairs; raises ConfigError naming the file."""
        setting = self.physical_device_mappings
        return parse_device_mapping_table(setting.value, file=setting.origin.file)

    def excluded_vfs(self) -> dict[str, frozenset[PciAddress]]:
        """``{netdev: VF addresses}``, every netdev checked against the mappings."""
        setting = self.exclude_devices
        return parse_excluded_vf_table(setting.value, self.device_mappings(),
                                       file=setting.origin.file)


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    """oslo.db's ``[database]`` pool options (the connection itself is ``--database``)."""

    max_pool_size: Setting[int]
    max_overflow: Setting[int]
    pool_timeout: Setting[int]  # seconds a transaction waits for a connection


@dataclass(frozen=True, slots=True)
class DeploymentConfig:
    """All options read from one set of ``--config-file``s, later files winning."""

    files: tuple[str, ...]
    nova: NovaConfig
    ml2: Ml2Config
    sriov_agent: SriovAgentConfig
    database: DatabaseConfig
