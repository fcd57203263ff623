"""Server migrations (nova's ``migrations`` table): resize, cold and live migration.

A migration's ``uuid`` is also the consumer of the *source* host's claims while the server
moves (as nova's migration-based allocations): the source VF and RAM/vCPU stay held, owned by
the migration, until the move is confirmed (released) or reverted (handed back).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sriovstack.db.base import Base, UtcDateTime

__all__ = ["MigrationRow"]


def _now() -> datetime:
    return datetime.now(timezone.utc)


class MigrationRow(Base):
    __tablename__ = "migrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    server_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("servers.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    migration_type: Mapped[str] = mapped_column(String(16))  # resize|migration|live-migration
    status: Mapped[str] = mapped_column(String(16), index=True)
    source_compute: Mapped[str] = mapped_column(String(255))
    dest_compute: Mapped[str | None] = mapped_column(String(255), nullable=True)
    old_flavor_id: Mapped[str] = mapped_column(String(36))
    new_flavor_id: Mapped[str] = mapped_column(String(36))
    # The status the server returns to (ACTIVE or SHUTOFF) and the source ports' devices:
    # {port_id: {pci_address, vendor_id, product_id, physnet, generation}} for a revert.
    old_status: Mapped[str] = mapped_column(String(16))
    source_ports: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    request_id: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=_now)
