"""The typed values the network service takes and returns: networks, subnets, ports, bindings."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sriovstack.mac import MacAddress
from sriovstack.pci import PciAddress
from sriovstack.wire import PortStatus, VnicType

__all__ = [
    "BindingStatus", "HostBinding",
    "VnicType", "PortStatus", "VifType", "NetworkType", "Segment", "ProviderSpec",
    "Network", "NetworkSpec", "NetworkUpdate", "IpRange", "HostRoute", "Subnet", "SubnetSpec",
    "SubnetUpdate", "FixedIp", "FixedIpRequest", "BindingProfile", "PortBinding", "Port",
    "PortSpec", "PortUpdate", "PortRequest", "RequestedPort", "UNSET", "Unset",
]


class Unset(enum.Enum):
    """Marks an update field the request did not mention (apart from an explicit null)."""

    UNSET = "unset"


UNSET = Unset.UNSET




class VifType(enum.StrEnum):
    UNBOUND = "unbound"
    BINDING_FAILED = "binding_failed"
    OVS = "ovs"
    HW_VEB = "hw_veb"
    HOSTDEV_PHYSICAL = "hostdev_physical"

    @property
    def is_bound(self) -> bool:
        return self not in (VifType.UNBOUND, VifType.BINDING_FAILED)


class NetworkType(enum.StrEnum):
    """The type drivers we implement (20.3: sriovnicswitch binds only flat and vlan)."""

    FLAT = "flat"
    VLAN = "vlan"


@dataclass(frozen=True, slots=True)
class Segment:
    """A network's one segment: flat (physnet) or vlan (physnet + tag)."""

    network_type: NetworkType
    physnet: str | None
    segmentation_id: int | None


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """The ``provider:*`` attributes of a create request; any may be None (partial spec)."""

    network_type: str | None = None
    physnet: str | None = None
    segmentation_id: int | None = None


@dataclass(frozen=True, slots=True)
class Network:
    id: str
    name: str
    project_id: str
    description: str
    admin_state_up: bool
    shared: bool
    mtu: int
    port_security_enabled: bool
    segment: Segment
    subnet_ids: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    revision_number: int
    status: str = "ACTIVE"


@dataclass(frozen=True, slots=True)
class NetworkSpec:
    name: str = ""
    description: str = ""
    admin_state_up: bool = True
    shared: bool = False
    port_security_enabled: bool = True
    provider: ProviderSpec | None = None
    project_id: str | None = None  # admin may create for another project


@dataclass(frozen=True, slots=True)
class NetworkUpdate:
    name: str | Unset = UNSET
    description: str | Unset = UNSET
    admin_state_up: bool | Unset = UNSET
    shared: bool | Unset = UNSET
    port_security_enabled: bool | Unset = UNSET


@dataclass(frozen=True, slots=True)
class IpRange:
    """An inclusive allocation pool ``start``–``end`` (addresses as text, as on the wire)."""

    start: str
    end: str


@dataclass(frozen=True, slots=True)
class HostRoute:
    destination: str
    nexthop: str


@dataclass(frozen=True, slots=True)
class Subnet:
    id: str
    name: str
    network_id: str
    project_id: str
    description: str
    cidr: str
    ip_version: int
    gateway_ip: str | None
    allocation_pools: tuple[IpRange, ...]
    enable_dhcp: bool
    dns_nameservers: tuple[str, ...]
    host_routes: tuple[HostRoute, ...]
    created_at: datetime
    updated_at: datetime
    revision_number: int


@dataclass(frozen=True, slots=True)
class SubnetSpec:
    network_id: str
    cidr: str
    ip_version: int = 4
    name: str = ""
    description: str = ""
    gateway_ip: str | None | Unset = UNSET  # UNSET: first host; None: no gateway
    allocation_pools: tuple[IpRange, ...] | None = None
    enable_dhcp: bool = True
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[HostRoute, ...] = ()
    project_id: str | None = None


@dataclass(frozen=True, slots=True)
class SubnetUpdate:
    name: str | Unset = UNSET
    description: str | Unset = UNSET
    enable_dhcp: bool | Unset = UNSET
    dns_nameservers: tuple[str, ...] | Unset = UNSET
    host_routes: tuple[HostRoute, ...] | Unset = UNSET
    gateway_ip: str | None | Unset = UNSET  # None: no gateway
    allocation_pools: tuple[IpRange, ...] | Unset = UNSET


@dataclass(frozen=True, slots=True)
class FixedIp:
    subnet_id: str
    ip_address: str


@dataclass(frozen=True, slots=True)
class FixedIpRequest:
    """One ``fixed_ips`` item of a request: a subnet, an address, or both."""

    subnet_id: str | None = None
    ip_address: str | None = None


@dataclass(frozen=True, slots=True)
class BindingProfile:
    """``binding:profile`` as nova writes it for a PCI port (all None for other ports)."""

    pci_slot: PciAddress | None = None
    pci_vendor_info: str | None = None
    physical_network: str | None = None

    @property
    def is_empty(self) -> bool:
        return self.pci_slot is None and self.pci_vendor_info is None and \
            self.physical_network is None


@dataclass(frozen=True, slots=True)
class PortBinding:
    """The ``binding:*`` result; ``failure`` says why binding_failed (our addition)."""

    host: str
    vif_type: VifType
    vif_details: tuple[tuple[str, str | bool], ...]
    profile: BindingProfile
    failure: str | None = None


class BindingStatus(enum.StrEnum):
    """A port binding's status (``binding-extended``): one ACTIVE, the others INACTIVE."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


@dataclass(frozen=True, slots=True)
class HostBinding:
    """One binding of a port to a host, as ``/v2.0/ports/{id}/bindings`` shows it."""

    port_id: str
    host: str
    status: BindingStatus
    vnic_type: VnicType
    vif_type: VifType
    vif_details: tuple[tuple[str, str | bool], ...]
    profile: BindingProfile


@dataclass(frozen=True, slots=True)
class Port:
    id: str
    name: str
    network_id: str
    project_id: str
    description: str
    mac: MacAddress
    fixed_ips: tuple[FixedIp, ...]
    vnic_type: VnicType
    status: PortStatus
    admin_state_up: bool
    device_id: str
    device_owner: str
    port_security_enabled: bool
    security_group_ids: tuple[str, ...]
    binding: PortBinding
    created_at: datetime
    updated_at: datetime
    revision_number: int
    propagate_uplink_status: bool = False


@dataclass(frozen=True, slots=True)
class PortSpec:
    network_id: str
    name: str = ""
    description: str = ""
    vnic_type: VnicType = VnicType.NORMAL
    mac: MacAddress | None = None
    fixed_ips: tuple[FixedIpRequest, ...] | None = None  # None: one address per subnet kind
    admin_state_up: bool = True
    device_id: str = ""
    device_owner: str = ""
    port_security_enabled: bool | None = None  # None: the network's default (normal ports)
    security_groups: tuple[str, ...] | None = None  # ids or names; None: the default group
    host: str | None = None  # binding:host_id; None: not given (admin/service only to give)
    profile: BindingProfile | None = None  # binding:profile; None: not given (same policy)
    project_id: str | None = None
    propagate_uplink_status: bool = False  # the VF's link state follows its PF (auto)


@dataclass(frozen=True, slots=True)
class PortUpdate:
    name: str | Unset = UNSET
    description: str | Unset = UNSET
    admin_state_up: bool | Unset = UNSET
    device_id: str | Unset = UNSET
    device_owner: str | Unset = UNSET
    vnic_type: VnicType | Unset = UNSET
    fixed_ips: tuple[FixedIpRequest, ...] | Unset = UNSET
    port_security_enabled: bool | Unset = UNSET
    security_groups: tuple[str, ...] | Unset = UNSET
    host: str | Unset = UNSET
    profile: BindingProfile | Unset = UNSET
    propagate_uplink_status: bool | Unset = UNSET


@dataclass(frozen=True, slots=True)
class PortRequest:
    """What compute needs to ask the scheduler for a device for one port."""

    port_id: str
    vnic_type: VnicType
    physnet: str | None
    network_type: NetworkType
    segmentation_id: int | None


@dataclass(frozen=True, slots=True)
class RequestedPort:
    """A port a new server asks for, checked free: what to schedule on, and what the
    server's addresses show (``network_name`` None when the caller cannot see the network)."""

    request: PortRequest
    network_id: str
    network_name: str | None
    mac: MacAddress
    fixed_ips: tuple[FixedIp, ...]
