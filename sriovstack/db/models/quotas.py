"""Quota tables: the hard limits an operator set for a project or a quota class, per service."""

from __future__ import annotations

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sriovstack.db.base import Base

__all__ = ["QuotaLimitRow"]


class QuotaLimitRow(Base):
    """One limit set through the API: ``service`` is ``compute`` (os-quota-sets,
    os-quota-class-sets) or ``network`` (/v2.0/quotas); ``scope`` is ``project`` (``owner`` a
    project id) or ``class`` (``owner`` a quota class name, nova's ``default``).  A resource
    with no row has its class's limit, then the built-in default; -1 is unlimited."""

    __tablename__ = "quota_limits"
    __table_args__ = (UniqueConstraint("service", "scope", "owner", "resource"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(255))
    resource: Mapped[str] = mapped_column(String(255))
    hard_limit: Mapped[int] = mapped_column(Integer)
