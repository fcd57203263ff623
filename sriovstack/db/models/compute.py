"""Compute tables: flavors, images, servers, the ports they hold, faults and host revisions."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from sriovstack.db import Base, UtcDateTime

__all__ = ["FlavorRow", "ImageRow", "ServerRow", "ServerPortRow", "FaultRow", "HostRevisionRow",
           "InstanceActionRow", "InstanceActionEventRow", "ServerConsoleRow"]


def _now() -> datetime:
    return datetime.now(timezone.utc)


class FlavorRow(Base):
    __tablename__ = "flavors"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    ram: Mapped[int] = mapped_column(Integer)
    vcpus: Mapped[int] = mapped_column(Integer)
    disk: Mapped[int] = mapped_column(Integer)
    ephemeral: Mapped[int] = mapped_column(Integer, default=0)
    swap: Mapped[int] = mapped_column(Integer, default=0)
    rxtx_factor: Mapped[float] = mapped_column(Float, default=1.0)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)


class ImageRow(Base):
    __tablename__ = "images"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    status: Mapped[str] = mapped_column(String(32), default="active")
    visibility: Mapped[str] = mapped_column(String(32), default="public")
    disk_format: Mapped[str] = mapped_column(String(32), default="qcow2")
    container_format: Mapped[str] = mapped_column(String(32), default="bare")
    min_disk: Mapped[int] = mapped_column(Integer, default=0)
    min_ram: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    checksum: Mapped[str | None] = mapped_column(String(64), nullable=True)
    owner: Mapped[str | None] = mapped_column(String(36), nullable=True)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=_now)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    os_hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    os_hash_value: Mapped[str | None] = mapped_column(String(128), nullable=True)


class ServerRow(Base):
    __tablename__ = "servers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), index=True)  # nova: SHELVED_OFFLOADED fits
    task_state: Mapped[str | None] = mapped_column(String(32), nullable=True)
    flavor_id: Mapped[str] = mapped_column(String(36))
    image_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    availability_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    access_ipv4: Mapped[str] = mapped_column(String(64), default="")
    access_ipv6: Mapped[str] = mapped_column(String(64), default="")
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    key_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The key pair's public key at create (nova's instance key_data): the guest keeps it even
    # when the key pair is deleted later.
    key_data: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=_now)
    launched_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    locked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    locked_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The build lease (compute/build_lease.py): who is building the server and until when.
    build_owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    build_lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class ServerPortRow(Base):
    """A port held by a server; ``port_id`` is unique, so a port has at most one server."""

    __tablename__ = "server_ports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    server_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("servers.id", ondelete="CASCADE"), index=True)
    port_id: Mapped[str] = mapped_column(String(36), unique=True)
    network_id: Mapped[str] = mapped_column(String(36))
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_by_compute: Mapped[bool] = mapped_column(Boolean, default=False)
    vnic_type: Mapped[str] = mapped_column(String(32), default="normal")
    pci_address: Mapped[str | None] = mapped_column(String(16), nullable=True)
    vendor_id: Mapped[str | None] = mapped_column(String(4), nullable=True)
    product_id: Mapped[str | None] = mapped_column(String(4), nullable=True)
    physnet: Mapped[str | None] = mapped_column(String(64), nullable=True)
    generation: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The device tag of a hot-plugged interface (os-interface, 2.49).
    tag: Mapped[str | None] = mapped_column(String(60), nullable=True)


class FaultRow(Base):
    __tablename__ = "server_faults"

    server_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("servers.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime] = mapped_column(UtcDateTime(), default=_now)


class ServerConsoleRow(Base):
    """A server's console log (the last lines its compute agent reported), gone with it."""

    __tablename__ = "server_consoles"

    server_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("servers.id", ondelete="CASCADE"), primary_key=True)
    text: Mapped[str] = mapped_column(Text, default="")
    lines: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=_now)


class HostRevisionRow(Base):
    """The desired-state revision of one host: bumped on every change an agent must see."""

    __tablename__ = "host_revisions"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)


class SweepLeaseRow(Base):
    """Which API process runs a cluster-wide periodic job (the ledger's audit) until when:
    taken when free or expired, renewed by its holder at each run."""

    __tablename__ = "sweep_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class InstanceActionRow(Base):
    """One request that changed a server (nova's instance_actions), gone with the server."""

    __tablename__ = "instance_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    server_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("servers.id", ondelete="CASCADE"), index=True)
    request_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    project_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    start_time: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    message: Mapped[str | None] = mapped_column(String(255), nullable=True)


class InstanceActionEventRow(Base):
    """One step of an instance action (nova's instance_actions_events)."""

    __tablename__ = "instance_action_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("instance_actions.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(64))
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    start_time: Mapped[datetime] = mapped_column(UtcDateTime())
    finish_time: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    result: Mapped[str | None] = mapped_column(String(16), nullable=True)
    traceback: Mapped[str | None] = mapped_column(Text, nullable=True)
