"""Network service tables: networks, segments' VLAN/flat allocations, subnets, IP allocations,
ports, security groups and rules, and the agents registry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint,
                        false)
from sqlalchemy.orm import Mapped, mapped_column

from sriovstack.db.base import Base, UtcDateTime

__all__ = ["NetworkRow", "VlanAllocationRow", "FlatAllocationRow", "SubnetRow",
           "IpAllocationRow", "PortRow", "PortHostBindingRow", "PortSecurityGroupRow", "SecurityGroupRow",
           "DefaultSecurityGroupRow", "SecurityGroupRuleRow", "AgentRow"]

_ID = 36  # uuid4 text


class NetworkRow(Base):
    __tablename__ = "net_networks"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255), default="", index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    mtu: Mapped[int] = mapped_column(Integer, default=1500)
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    network_type: Mapped[str] = mapped_column(String(16))
    physnet: Mapped[str | None] = mapped_column(String(64), nullable=True)
    segmentation_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revision_number: Mapped[int] = mapped_column(Integer, default=1)


class VlanAllocationRow(Base):
    """One allocatable or reserved (physnet, VLAN); synced with network_vlan_ranges at start."""

    __tablename__ = "net_vlan_allocations"

    physnet: Mapped[str] = mapped_column(String(64), primary_key=True)
    vlan_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    allocated: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class FlatAllocationRow(Base):
    """A physnet taken by a flat network (one flat network per physnet)."""

    __tablename__ = "net_flat_allocations"

    physnet: Mapped[str] = mapped_column(String(64), primary_key=True)


class SubnetRow(Base):
    __tablename__ = "net_subnets"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    network_id: Mapped[str] = mapped_column(
        ForeignKey("net_networks.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    cidr: Mapped[str] = mapped_column(String(64))
    ip_version: Mapped[int] = mapped_column(Integer)
    gateway_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    allocation_pools: Mapped[list[Any]] = mapped_column(JSON)
    enable_dhcp: Mapped[bool] = mapped_column(Boolean, default=True)
    dns_nameservers: Mapped[list[Any]] = mapped_column(JSON)
    host_routes: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revision_number: Mapped[int] = mapped_column(Integer, default=1)
    # The address last given out by default (network/addresses.py): the next allocation
    # looks from there on (next fit).  NULL: from the pools' first address.
    ip_cursor: Mapped[str | None] = mapped_column(String(64), nullable=True)


class PortRow(Base):
    __tablename__ = "net_ports"
    __table_args__ = (UniqueConstraint("network_id", "mac_address",
                                       name="uq_net_ports_network_mac"),)

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("net_networks.id"), index=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    mac_address: Mapped[str] = mapped_column(String(17), index=True)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    device_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    device_owner: Mapped[str] = mapped_column(String(255), default="")
    vnic_type: Mapped[str] = mapped_column(String(32))
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # neutron's uplink-status-propagation: the VF's link state follows its PF (auto).
    propagate_uplink_status: Mapped[bool] = mapped_column(Boolean, default=False,
                                                          server_default=false())
    binding_host: Mapped[str] = mapped_column(String(255), default="", index=True)
    binding_profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    vif_type: Mapped[str] = mapped_column(String(32))
    vif_details: Mapped[dict[str, Any]] = mapped_column(JSON)
    binding_failure: Mapped[str | None] = mapped_column(Text, nullable=True)
    device_up: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revision_number: Mapped[int] = mapped_column(Integer, default=1)


class PortHostBindingRow(Base):
    """An INACTIVE binding of a port to another host (neutron's multiple port bindings,
    ``binding-extended``); the port's ACTIVE binding is its own ``binding_*`` columns.
    One binding per (port, host)."""

    __tablename__ = "net_port_bindings"

    port_id: Mapped[str] = mapped_column(
        ForeignKey("net_ports.id", ondelete="CASCADE"), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    vnic_type: Mapped[str] = mapped_column(String(32))
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    vif_type: Mapped[str] = mapped_column(String(32))
    vif_details: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class IpAllocationRow(Base):
    """One address of a subnet held by a port; the unique key settles allocation races."""

    __tablename__ = "net_ip_allocations"

    subnet_id: Mapped[str] = mapped_column(
        ForeignKey("net_subnets.id", ondelete="CASCADE"), primary_key=True)
    ip_address: Mapped[str] = mapped_column(String(64), primary_key=True)
    port_id: Mapped[str] = mapped_column(
        ForeignKey("net_ports.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class SecurityGroupRow(Base):
    __tablename__ = "net_security_groups"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255), default="", index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    stateful: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revision_number: Mapped[int] = mapped_column(Integer, default=1)


class DefaultSecurityGroupRow(Base):
    """The one ``default`` group of a project (the primary key makes creating it race-safe)."""

    __tablename__ = "net_default_security_groups"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("net_security_groups.id", ondelete="CASCADE"))


class SecurityGroupRuleRow(Base):
    __tablename__ = "net_security_group_rules"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("net_security_groups.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(8))
    ethertype: Mapped[str] = mapped_column(String(8))
    protocol: Mapped[str | None] = mapped_column(String(40), nullable=True)
    port_range_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    port_range_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(64), nullable=True)
    remote_group_id: Mapped[str | None] = mapped_column(String(_ID), nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PortSecurityGroupRow(Base):
    __tablename__ = "net_port_security_groups"

    port_id: Mapped[str] = mapped_column(
        ForeignKey("net_ports.id", ondelete="CASCADE"), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("net_security_groups.id"), primary_key=True)


class AgentRow(Base):
    __tablename__ = "net_agents"
    __table_args__ = (UniqueConstraint("host", "agent_type", name="uq_net_agents_host_type"),)

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), index=True)
    agent_type: Mapped[str] = mapped_column(String(64))
    binary: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(64), default="N/A")
    configurations: Mapped[dict[str, Any]] = mapped_column(JSON)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime)
