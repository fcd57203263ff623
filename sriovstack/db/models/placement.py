"""Placement's own table: the custom resource classes and traits operators create."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from sriovstack.db import Base

__all__ = ["PlacementNameRow"]


class PlacementNameRow(Base):
    """One custom name: ``kind`` is ``resource_class`` or ``trait``, ``name`` CUSTOM_*."""

    __tablename__ = "placement_names"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
