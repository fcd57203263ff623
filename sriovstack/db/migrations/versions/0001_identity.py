"""Identity tables: domains, projects, users, roles, role assignments, tokens.

Revision ID: 0001_identity
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sriovstack.db.base import UtcDateTime

revision = "0001_identity"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_domains",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_domains")),
        sa.UniqueConstraint("name", name=op.f("uq_identity_domains_name")),
    )
    op.create_table(
        "identity_roles",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_roles")),
        sa.UniqueConstraint("name", name=op.f("uq_identity_roles_name")),
    )
    op.create_table(
        "identity_projects",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("domain_id", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["domain_id"], ["identity_domains.id"],
                                name=op.f("fk_identity_projects_domain_id_identity_domains")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_projects")),
        sa.UniqueConstraint("domain_id", "name", name="uq_identity_projects_name"),
    )
    op.create_table(
        "identity_users",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("domain_id", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("default_project_id", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["domain_id"], ["identity_domains.id"],
                                name=op.f("fk_identity_users_domain_id_identity_domains")),
        sa.ForeignKeyConstraint(["default_project_id"], ["identity_projects.id"],
                                name=op.f("fk_identity_users_default_project_id_identity_projects"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_users")),
        sa.UniqueConstraint("domain_id", "name", name="uq_identity_users_name"),
    )
    op.create_table(
        "identity_role_assignments",
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("role_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["identity_users.id"], ondelete="CASCADE",
                                name=op.f("fk_identity_role_assignments_user_id_identity_users")),
        sa.ForeignKeyConstraint(
            ["project_id"], ["identity_projects.id"], ondelete="CASCADE",
            name=op.f("fk_identity_role_assignments_project_id_identity_projects")),
        sa.ForeignKeyConstraint(["role_id"], ["identity_roles.id"], ondelete="CASCADE",
                                name=op.f("fk_identity_role_assignments_role_id_identity_roles")),
        sa.PrimaryKeyConstraint("user_id", "project_id", "role_id",
                                name=op.f("pk_identity_role_assignments")),
    )
    op.create_table(
        "identity_tokens",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=True),
        sa.Column("methods", sa.JSON(), nullable=False),
        sa.Column("audit_id", sa.String(64), nullable=False),
        sa.Column("issued_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["identity_users.id"], ondelete="CASCADE",
                                name=op.f("fk_identity_tokens_user_id_identity_users")),
        sa.ForeignKeyConstraint(["project_id"], ["identity_projects.id"], ondelete="CASCADE",
                                name=op.f("fk_identity_tokens_project_id_identity_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_tokens")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_identity_tokens_secret_hash")),
    )
    op.create_index(op.f("ix_identity_tokens_expires_at"), "identity_tokens", ["expires_at"])


def downgrade() -> None:
    for table in ("identity_tokens", "identity_role_assignments", "identity_users",
                  "identity_projects", "identity_roles", "identity_domains"):
        op.drop_table(table)
