"""Tables of compute hosts, their whitelisted PCI devices and the resources servers hold on them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from sriovstack.db.base import Base

__all__ = ["HostRow", "PciDeviceRow", "HostAllocationRow", "SchedulerRevisionRow"]


def _uuid() -> str:
    return str(uuid.uuid4())


class HostRow(Base):
    """One compute host. ``generation`` is bumped on every change the scheduler must see
    (inventory, claims, releases, enable/disable); ``revision`` is then stamped (the writing
    transaction's id on PostgreSQL, the ``scheduler_revision`` counter on SQLite), so the
    index reloads only the hosts stamped since its last read (indexed; see
    ``compute/scheduler/revision.py``)."""

    __tablename__ = "hosts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # os-services' forced_down (2.11): the host is down whatever its heartbeat says.
    forced_down: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    availability_zone: Mapped[str] = mapped_column(String(255), default="nova")
    vcpus: Mapped[int] = mapped_column(Integer, default=0)
    memory_mb: Mapped[int] = mapped_column(Integer, default=0)
    disk_gb: Mapped[int] = mapped_column(Integer, default=0)
    vcpus_used: Mapped[int] = mapped_column(Integer, default=0)
    memory_mb_used: Mapped[int] = mapped_column(Integer, default=0)
    disk_gb_used: Mapped[int] = mapped_column(Integer, default=0)
    capabilities: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    numa_topology: Mapped[list[Any]] = mapped_column(JSON, default=list)
    last_heartbeat: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                            nullable=True, index=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", index=True)


class PciDeviceRow(Base):
    """One whitelisted PCI function of a host, with nova's status machine (nova_pci.md §2.4).

    ``pool_pf`` is the PF address for a VF and the device's own address otherwise: it is part
    of the pool key and the join that keeps a PF and its VFs from being held at once.
    ``generation`` is bumped on every ownership change: agents fence on it.
    """

    __tablename__ = "pci_devices"
    __table_args__ = (
        UniqueConstraint("host_id", "address"),
        Index("ix_pci_devices_host_status", "host_id", "status"),
        Index("ix_pci_devices_host_pool_pf", "host_id", "pool_pf"),
        # A server's devices in one status (its claim, its release, the devices it holds
        # for no port): both columns in the key, so the planner takes this index even
        # before any ANALYZE, not a whole scan of ix_pci_devices_host_status by status.
        Index("ix_pci_devices_owner_status", "owner", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    host_id: Mapped[str] = mapped_column(String(36), ForeignKey("hosts.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(16))
    vendor_id: Mapped[str] = mapped_column(String(4))
    product_id: Mapped[str] = mapped_column(String(4))
    dev_type: Mapped[str] = mapped_column(String(8))
    parent_addr: Mapped[str | None] = mapped_column(String(16), nullable=True)
    pool_pf: Mapped[str] = mapped_column(String(16))
    numa_node: Mapped[int | None] = mapped_column(Integer, nullable=True)
    physnet: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="available")
    owner: Mapped[str | None] = mapped_column(String(36), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    # Left the whitelist or the host while owned: removed (not re-pooled) when freed (§2.6).
    removed_when_freed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why the SR-IOV agent reports the device unhealthy (its PF has no carrier); None when
    # healthy. An unhealthy device is not offered to the scheduler, whatever its status.
    unhealthy_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)


class HostAllocationRow(Base):
    """The host resources one server holds: at most one claim per server (the primary key)."""

    __tablename__ = "host_allocations"

    server_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    host_id: Mapped[str] = mapped_column(String(36), ForeignKey("hosts.id", ondelete="CASCADE"),
                                         index=True)
    vcpus: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    disk_gb: Mapped[int] = mapped_column(Integer)


class SchedulerRevisionRow(Base):
    """The scheduler's counters, one row each (``compute/scheduler/revision.py``).

    Row 1, SQLite only: scheduler-visible changes, bumped by every transaction that bumps a
    host's generation (SQLite's one writer makes them commit in order); PostgreSQL stamps
    hosts with transaction ids instead and leaves it alone.  Row 2, both: hosts removed."""

    __tablename__ = "scheduler_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
