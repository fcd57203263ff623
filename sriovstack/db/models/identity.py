"""Identity tables: domains, projects, users, roles, role assignments and issued tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sriovstack.db.base import Base, UtcDateTime

__all__ = ["DomainRow", "ProjectRow", "UserRow", "RoleRow", "RoleAssignmentRow", "TokenRow",
           "IdentityRevisionRow"]


class DomainRow(Base):
    __tablename__ = "identity_domains"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class ProjectRow(Base):
    __tablename__ = "identity_projects"
    __table_args__ = (UniqueConstraint("domain_id", "name", name="uq_identity_projects_name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[str] = mapped_column(ForeignKey("identity_domains.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class UserRow(Base):
    __tablename__ = "identity_users"
    __table_args__ = (UniqueConstraint("domain_id", "name", name="uq_identity_users_name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[str] = mapped_column(ForeignKey("identity_domains.id"))
    password_hash: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    default_project_id: Mapped[str | None] = mapped_column(
        ForeignKey("identity_projects.id", ondelete="SET NULL"), nullable=True)


class RoleRow(Base):
    __tablename__ = "identity_roles"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)


class RoleAssignmentRow(Base):
    __tablename__ = "identity_role_assignments"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("identity_users.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("identity_projects.id", ondelete="CASCADE"), primary_key=True)
    role_id: Mapped[str] = mapped_column(
        ForeignKey("identity_roles.id", ondelete="CASCADE"), primary_key=True)


class TokenRow(Base):
    """An issued token: only the SHA-256 of the secret is stored."""

    __tablename__ = "identity_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("identity_users.id", ondelete="CASCADE"))
    project_id: Mapped[str | None] = mapped_column(
        ForeignKey("identity_projects.id", ondelete="CASCADE"), nullable=True)
    methods: Mapped[list[Any]] = mapped_column(JSON)
    audit_id: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # The token this one was re-scoped from (None for a password token): revoking a token
    # revokes its descendants.
    parent_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class IdentityRevisionRow(Base):
    """One counter (id 1) bumped by every change to what a validated token says (a revoked
    token, a deleted user or project, a role granted or taken): each API worker's token cache
    compares it with the one it saw, at most once a second."""

    __tablename__ = "identity_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer)
