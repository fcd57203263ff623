"""Request bodies of the Networking v2.0 API (neutron's wire names), turned into service specs."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (BaseModel, ConfigDict, Field, PlainValidator, StrictBool, field_validator,
                      model_validator)

from sriovstack.errors import Invalid
from sriovstack.mac import MacAddress
from sriovstack.network import (UNSET, BindingProfile, FixedIpRequest, HostRoute, IpRange,
                                NetworkSpec, NetworkUpdate, PortSpec, PortUpdate, ProviderSpec,
                                RuleSpec, SecurityGroupSpec, SecurityGroupUpdate, SubnetSpec,
                                SubnetUpdate, invalid_mac)
from sriovstack.wire import VnicType
from sriovstack.pci import PciAddress

__all__ = ["NetworkCreateRequest", "NetworkUpdateRequest", "SubnetCreateRequest",
           "SubnetUpdateRequest", "PortCreateRequest", "PortUpdateRequest",
           "SecurityGroupCreateRequest", "SecurityGroupUpdateRequest", "RuleCreateRequest"]

Name = Field(default="", max_length=255)
Description = Field(default="", max_length=1024)
Id = Field(max_length=36)


class _Strict(BaseModel):
    """Unknown attributes are a 400 naming them (neutron: "Unrecognized attribute(s)")."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # No database text column can hold a NUL byte (PostgreSQL refuses it): say so here.
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and "\x00" in t for t in texts):
            raise ValueError("text must not contain NUL (\\x00) characters")
        return value


def _project(body: _Strict) -> str | None:
    project: str | None = getattr(body, "project_id", None) or getattr(body, "tenant_id", None)
    return project


def _given(body: BaseModel, name: str) -> bool:
    return name in body.model_fields_set


def _one_form(one: object, many: object, singular: str, plural: str) -> None:
    """Neutron's create bodies: the single form or the bulk form, exactly one of them."""
    if (one is None) == (many is None):
        raise ValueError(f"give exactly one of '{singular}' or '{plural}'")


# --- networks --------------------------------------------------------------------------------

class NetworkIn(_Strict):
    name: str = Name
    description: str = Description
    admin_state_up: bool = True
    shared: bool = False
    port_security_enabled: bool = True
    network_type: str | None = Field(default=None, alias="provider:network_type", max_length=16)
    physical_network: str | None = Field(default=None, alias="provider:physical_network",
                                         max_length=64)
    # The CLI sends it as a string ("100"); pydantic's lax mode makes it an int.
    segmentation_id: int | None = Field(default=None, alias="provider:segmentation_id")
    project_id: str | None = Field(default=None, max_length=64)
    tenant_id: str | None = Field(default=None, max_length=64)

    def to_spec(self) -> NetworkSpec:
        provider = None
        if any(_given(self, f) for f in ("network_type", "physical_network", "segmentation_id")):
            provider = ProviderSpec(self.network_type, self.physical_network,
                                    self.segmentation_id)
        return NetworkSpec(name=self.name, description=self.description,
                           admin_state_up=self.admin_state_up, shared=self.shared,
                           port_security_enabled=self.port_security_enabled, provider=provider,
                           project_id=_project(self))


class NetworkCreateRequest(_Strict):
    """``{"network": {...}}`` or the bulk form ``{"networks": [{...}, ...]}``."""

    network: NetworkIn | None = None
    networks: list[NetworkIn] | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _one_form(self) -> NetworkCreateRequest:
        _one_form(self.network, self.networks, "network", "networks")
        return self

    def to_specs(self) -> list[NetworkSpec]:
        items = [self.network] if self.network is not None else list(self.networks or [])
        return [item.to_spec() for item in items]


class NetworkChange(_Strict):
    name: str = Name
    description: str = Description
    admin_state_up: bool = True
    shared: bool = False
    port_security_enabled: bool = True

    def to_update(self) -> NetworkUpdate:
        values = {f: getattr(self, f) for f in self.model_fields_set}
        return NetworkUpdate(**values)


class NetworkUpdateRequest(_Strict):
    network: NetworkChange


# --- subnets ---------------------------------------------------------------------------------

class PoolIn(_Strict):
    start: str = Field(max_length=64)
    end: str = Field(max_length=64)


class RouteIn(_Strict):
    destination: str = Field(max_length=64)
    nexthop: str = Field(max_length=64)


class SubnetIn(_Strict):
    network_id: str = Id
    cidr: str = Field(max_length=64)
    ip_version: int = 4
    name: str = Name
    description: str = Description
    gateway_ip: str | None = Field(default=None, max_length=64)
    allocation_pools: list[PoolIn] | None = Field(default=None, max_length=64)
    enable_dhcp: bool = True
    dns_nameservers: list[str] = Field(default_factory=list, max_length=16)
    host_routes: list[RouteIn] = Field(default_factory=list, max_length=64)
    project_id: str | None = Field(default=None, max_length=64)
    tenant_id: str | None = Field(default=None, max_length=64)

    def to_spec(self) -> SubnetSpec:
        pools = None if self.allocation_pools is None else tuple(
            IpRange(p.start, p.end) for p in self.allocation_pools)
        return SubnetSpec(
            network_id=self.network_id, cidr=self.cidr, ip_version=self.ip_version,
            name=self.name, description=self.description,
            gateway_ip=self.gateway_ip if _given(self, "gateway_ip") else UNSET,
            allocation_pools=pools, enable_dhcp=self.enable_dhcp,
            dns_nameservers=tuple(self.dns_nameservers),
            host_routes=tuple(HostRoute(r.destination, r.nexthop) for r in self.host_routes),
            project_id=_project(self))


class SubnetCreateRequest(_Strict):
    """``{"subnet": {...}}`` or the bulk form ``{"subnets": [{...}, ...]}``."""

    subnet: SubnetIn | None = None
    subnets: list[SubnetIn] | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _one_form(self) -> SubnetCreateRequest:
        _one_form(self.subnet, self.subnets, "subnet", "subnets")
        return self

    def to_specs(self) -> list[SubnetSpec]:
        items = [self.subnet] if self.subnet is not None else list(self.subnets or [])
        return [item.to_spec() for item in items]


class SubnetChange(_Strict):
    name: str = Name
    description: str = Description
    enable_dhcp: bool = True
    dns_nameservers: list[str] = Field(default_factory=list, max_length=16)
    host_routes: list[RouteIn] = Field(default_factory=list, max_length=64)
    gateway_ip: str | None = Field(default=None, max_length=64)
    allocation_pools: list[PoolIn] = Field(default_factory=list, max_length=64)

    def to_update(self) -> SubnetUpdate:
        given = self.model_fields_set
        return SubnetUpdate(
            gateway_ip=self.gateway_ip if "gateway_ip" in given else UNSET,
            allocation_pools=tuple(IpRange(p.start, p.end) for p in self.allocation_pools)
            if "allocation_pools" in given else UNSET,
            name=self.name if "name" in given else UNSET,
            description=self.description if "description" in given else UNSET,
            enable_dhcp=self.enable_dhcp if "enable_dhcp" in given else UNSET,
            dns_nameservers=tuple(self.dns_nameservers) if "dns_nameservers" in given
            else UNSET,
            host_routes=tuple(HostRoute(r.destination, r.nexthop) for r in self.host_routes)
            if "host_routes" in given else UNSET)


class SubnetUpdateRequest(_Strict):
    subnet: SubnetChange


# --- ports -----------------------------------------------------------------------------------

def _pci_address(value: Any) -> PciAddress:
    if not isinstance(value, str):
        raise ValueError("expected a PCI address as text, e.g. 0000:0b:10.0")
    try:
        return PciAddress.parse(value)
    except Invalid as exc:
        raise ValueError(exc.message) from exc


PciSlot = Annotated[PciAddress, PlainValidator(_pci_address)]


class ProfileIn(_Strict):
    """``binding:profile`` as nova writes it for PCI ports."""

    pci_slot: PciSlot | None = None
    pci_vendor_info: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$")
    physical_network: str | None = Field(default=None, max_length=64)

    def to_profile(self) -> BindingProfile:
        return BindingProfile(self.pci_slot, self.pci_vendor_info, self.physical_network)


class BindingIn(_Strict):
    """One binding of a port to a host (``binding-extended``); vnic_type defaults to normal,
    as neutron's."""

    host: str = Field(min_length=1, max_length=255)
    vnic_type: VnicType = VnicType.NORMAL
    profile: ProfileIn | None = None

    def to_profile(self) -> BindingProfile:
        return _profile(self.profile)


class BindingCreateRequest(_Strict):
    binding: BindingIn


def _mac(requested: str | None) -> MacAddress | None:
    """The port's requested MAC; neutron's 400 when it is not one (the service refuses a
    multicast or zero MAC with the same words)."""
    if requested is None:
        return None
    try:
        return MacAddress.parse(requested, field="mac_address")
    except Invalid:
        raise invalid_mac(requested) from None


class FixedIpIn(_Strict):
    subnet_id: str | None = Field(default=None, max_length=36)
    ip_address: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _one_at_least(self) -> FixedIpIn:
        if self.subnet_id is None and self.ip_address is None:
            raise ValueError("a fixed_ips item needs subnet_id, ip_address or both")
        return self

    def to_request(self) -> FixedIpRequest:
        return FixedIpRequest(self.subnet_id, self.ip_address)


def _profile(profile: ProfileIn | None) -> BindingProfile:
    return BindingProfile() if profile is None else profile.to_profile()


class PortIn(_Strict):
    network_id: str = Id
    name: str = Name
    description: str = Description
    admin_state_up: bool = True
    mac_address: str | None = Field(default=None, max_length=17)
    fixed_ips: list[FixedIpIn] | None = Field(default=None, max_length=64)
    device_id: str = Field(default="", max_length=255)
    device_owner: str = Field(default="", max_length=255)
    vnic_type: VnicType = Field(default=VnicType.NORMAL, alias="binding:vnic_type")
    host_id: str | None = Field(default=None, alias="binding:host_id", max_length=255)
    profile: ProfileIn | None = Field(default=None, alias="binding:profile")
    security_groups: list[str] | None = Field(default=None, max_length=64)
    port_security_enabled: StrictBool | None = None
    # uplink-status-propagation; false by default (neutron-lib's definition says true: see
    # docs/architecture.md, "Departures").
    propagate_uplink_status: bool = False
    project_id: str | None = Field(default=None, max_length=64)
    tenant_id: str | None = Field(default=None, max_length=64)

    def to_spec(self) -> PortSpec:
        fixed = None if self.fixed_ips is None else tuple(f.to_request() for f in self.fixed_ips)
        # An empty or null profile asks for nothing: accepted from anyone (neutron's 403 for
        # tenants sending {} broke Terraform, neutron_sriov.md §6 point 2).
        profile = self.profile.to_profile() if self.profile is not None else None
        if profile is not None and profile.is_empty:
            profile = None
        return PortSpec(
            network_id=self.network_id, name=self.name, description=self.description,
            vnic_type=self.vnic_type, mac=_mac(self.mac_address), fixed_ips=fixed,
            admin_state_up=self.admin_state_up, device_id=self.device_id,
            device_owner=self.device_owner, port_security_enabled=self.port_security_enabled,
            security_groups=None if self.security_groups is None
            else tuple(self.security_groups),
            host=self.host_id or None, profile=profile, project_id=_project(self),
            propagate_uplink_status=self.propagate_uplink_status)


class PortCreateRequest(_Strict):
    """``{"port": {...}}`` or the bulk form ``{"ports": [{...}, ...]}``."""

    port: PortIn | None = None
    ports: list[PortIn] | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _one_form(self) -> PortCreateRequest:
        _one_form(self.port, self.ports, "port", "ports")
        return self

    def to_specs(self) -> list[PortSpec]:
        items = [self.port] if self.port is not None else list(self.ports or [])
        return [item.to_spec() for item in items]


class PortChange(_Strict):
    name: str = Name
    description: str = Description
    admin_state_up: bool = True
    device_id: str = Field(default="", max_length=255)
    device_owner: str = Field(default="", max_length=255)
    vnic_type: VnicType = Field(default=VnicType.NORMAL, alias="binding:vnic_type")
    host_id: str = Field(default="", alias="binding:host_id", max_length=255)
    profile: ProfileIn | None = Field(default=None, alias="binding:profile")
    fixed_ips: list[FixedIpIn] = Field(default_factory=list, max_length=64)
    security_groups: list[str] = Field(default_factory=list, max_length=64)
    port_security_enabled: StrictBool = True
    propagate_uplink_status: bool = False  # uplink-status-propagation-updatable

    def to_update(self) -> PortUpdate:
        given = self.model_fields_set
        values: dict[str, Any] = {}
        for name in ("name", "description", "admin_state_up", "device_id", "device_owner",
                     "vnic_type", "port_security_enabled", "propagate_uplink_status"):
            if name in given:
                values[name] = getattr(self, name)
        if "host_id" in given:
            values["host"] = self.host_id
        if "profile" in given:
            values["profile"] = _profile(self.profile)
        if "fixed_ips" in given:
            values["fixed_ips"] = tuple(f.to_request() for f in self.fixed_ips)
        if "security_groups" in given:
            values["security_groups"] = tuple(self.security_groups)
        return PortUpdate(**values)


class PortUpdateRequest(_Strict):
    port: PortChange


# --- security groups -------------------------------------------------------------------------

class SecurityGroupIn(_Strict):
    name: str = Name
    description: str = Description
    stateful: bool = True
    project_id: str | None = Field(default=None, max_length=64)
    tenant_id: str | None = Field(default=None, max_length=64)

    def to_spec(self) -> SecurityGroupSpec:
        return SecurityGroupSpec(self.name, self.description, _project(self))


class SecurityGroupCreateRequest(_Strict):
    security_group: SecurityGroupIn


class SecurityGroupChange(_Strict):
    name: str = Name
    description: str = Description

    def to_update(self) -> SecurityGroupUpdate:
        given = self.model_fields_set
        return SecurityGroupUpdate(name=self.name if "name" in given else UNSET,
                                   description=self.description if "description" in given
                                   else UNSET)


class SecurityGroupUpdateRequest(_Strict):
    security_group: SecurityGroupChange


class RuleIn(_Strict):
    security_group_id: str = Id
    direction: str = Field(max_length=8)
    ethertype: str = Field(default="IPv4", max_length=8)
    protocol: str | None = Field(default=None, max_length=40)
    port_range_min: int | None = Field(default=None, ge=0, le=65535)
    port_range_max: int | None = Field(default=None, ge=0, le=65535)
    remote_ip_prefix: str | None = Field(default=None, max_length=64)
    remote_group_id: str | None = Field(default=None, max_length=36)
    description: str = Description
    project_id: str | None = Field(default=None, max_length=64)
    tenant_id: str | None = Field(default=None, max_length=64)

    def to_spec(self) -> RuleSpec:
        return RuleSpec(self.security_group_id, self.direction, self.ethertype, self.protocol,
                        self.port_range_min, self.port_range_max, self.remote_ip_prefix,
                        self.remote_group_id, self.description)


class RuleCreateRequest(_Strict):
    security_group_rule: RuleIn
