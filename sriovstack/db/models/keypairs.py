"""Keypair and flavor-detail tables: users' key pairs, flavors' extra specs and access lists."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sriovstack.db import Base, UtcDateTime

__all__ = ["KeyPairRow", "FlavorExtraSpecRow", "FlavorProjectRow"]


def _now() -> datetime:
    return datetime.now(timezone.utc)


class KeyPairRow(Base):
    """One user's key pair (nova's key_pairs): the name is unique per user."""

    __tablename__ = "key_pairs"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_key_pairs_user_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    fingerprint: Mapped[str] = mapped_column(String(255))
    public_key: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(8), default="ssh")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=_now)


class FlavorExtraSpecRow(Base):
    """One extra spec of a flavor (``hw:cpu_policy=dedicated``), gone with the flavor."""

    __tablename__ = "flavor_extra_specs"

    flavor_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("flavors.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


class FlavorProjectRow(Base):
    """A project allowed to use a private flavor (nova's flavor_projects)."""

    __tablename__ = "flavor_projects"

    flavor_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("flavors.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
