"""The network service (ML2): networks, subnets, IPAM, ports, binding, security groups, agents."""

from sriovstack.network.addresses import invalid_mac
from sriovstack.network.agents import Agent
from sriovstack.network.listing import ListQuery
from sriovstack.network.config import Ml2Settings, ml2_settings, ml2_settings_for
from sriovstack.network.security_groups import (RuleSpec, SecurityGroup, SecurityGroupRule,
                                                SecurityGroupSpec, SecurityGroupUpdate)
from sriovstack.network.service import NetworkService
from sriovstack.network.wiring import PortWiring, port_wirings
from sriovstack.network.types import (UNSET, BindingProfile, BindingStatus, FixedIp,
                                      FixedIpRequest, HostBinding,
                                      HostRoute, IpRange, Network, NetworkSpec, NetworkType,
                                      NetworkUpdate, Port, PortBinding, PortRequest, PortSpec,
                                      RequestedPort,
                                      PortUpdate, ProviderSpec, Segment, Subnet,
                                      SubnetSpec, SubnetUpdate, VifType)
from sriovstack.network.ports import profile_json
from sriovstack.network.port_bindings import COMPUTE_BINDINGS, BindRefused, DeviceBinding
from sriovstack.network.quotas import NETWORK_DEFAULTS, NetworkQuotaDetail, NetworkQuotas

__all__ = [
    "NetworkService", "Ml2Settings", "ml2_settings", "ml2_settings_for", "Agent", "invalid_mac",
    "PortWiring", "port_wirings", "VifType", "NetworkType", "Segment", "ProviderSpec", "Network",
    "NetworkSpec", "NetworkUpdate", "IpRange", "HostRoute", "Subnet", "SubnetSpec", "SubnetUpdate",
    "FixedIp", "FixedIpRequest", "BindingProfile", "BindingStatus", "HostBinding",
    "PortBinding", "Port", "PortSpec", "PortUpdate",
    "PortRequest", "RequestedPort", "SecurityGroup", "SecurityGroupRule", "SecurityGroupSpec",
    "SecurityGroupUpdate", "RuleSpec", "UNSET", "profile_json", "ListQuery", "NetworkQuotas",
    "NetworkQuotaDetail", "NETWORK_DEFAULTS", "DeviceBinding", "BindRefused",
    "COMPUTE_BINDINGS",
]
