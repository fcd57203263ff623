"""The host agents: the compute agent (inventory, guests, VF MAC/VLAN/spoof check) and the
SR-IOV NIC agent (VF admin state, device up/down); they reach the control plane only through
``ControlPlaneClient`` (the internal API over HTTP with a service token)."""

from sriovstack.agents.client import ControlPlaneClient, ServiceCredentials, load_credentials
from sriovstack.agents.compute import ComputeAgent, ComputePass, open_virt
from sriovstack.agents.config import (ComputeAgentSettings, NicMappings, SriovAgentSettings,
                                      VirtKind, host_name, host_resources_from, load_nic_mappings,
                                      load_whitelist)
from sriovstack.agents.sriov import NicPass, SriovNicAgent

__all__ = [
    "ControlPlaneClient", "ServiceCredentials", "load_credentials", "ComputeAgent", "ComputePass",
    "open_virt", "SriovNicAgent", "NicPass", "ComputeAgentSettings", "SriovAgentSettings",
    "NicMappings", "VirtKind", "load_whitelist", "load_nic_mappings", "host_name",
    "host_resources_from",
]
