"""The chapter's config files: loading with oslo.config, neutron's parsers, cross-file checks.

Pure: reads only the files it is given (and, for whitelist devname/PF entries, the sysfs root
passed in)."""

from sriovstack.conf.check import Finding, Severity, check_config, check_files
from sriovstack.conf.loader import (LoadResult, load_config, load_ml2_config, load_nova_config,
                                    load_sriov_agent_config, read_config)
from sriovstack.conf.model import (DeploymentConfig, Ml2Config, NovaConfig, Origin, Setting,
                                   SpecLine, SriovAgentConfig)
from sriovstack.conf.parsers import (VLAN_MAX, VLAN_MIN, DeviceMapping, VendorProduct, VlanRange,
                                     parse_device_mapping_table, parse_exclude_devices,
                                     parse_excluded_vf_table, parse_network_vlan_ranges,
                                     parse_physical_device_mappings,
                                     parse_supported_pci_vendor_devs, parse_vlan_range_table)

__all__ = [
    "DeploymentConfig", "NovaConfig", "Ml2Config", "SriovAgentConfig", "Origin", "Setting",
    "SpecLine", "LoadResult", "load_config", "read_config", "load_nova_config", "load_ml2_config",
    "load_sriov_agent_config", "VlanRange", "DeviceMapping", "VendorProduct",
    "parse_network_vlan_ranges", "parse_physical_device_mappings", "parse_exclude_devices",
    "parse_supported_pci_vendor_devs", "parse_vlan_range_table", "parse_device_mapping_table",
    "parse_excluded_vf_table", "Finding", "Severity", "check_config", "check_files", "VLAN_MAX",
    "VLAN_MIN",
]
