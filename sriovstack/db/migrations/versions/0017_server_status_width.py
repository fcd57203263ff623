"""``servers.status`` widens to 32 characters: nova's SHELVED_OFFLOADED (17) did not fit in 16,
so shelving a server failed on PostgreSQL (SQLite does not enforce the length).

Revision ID: 0017_server_status_width
Revises: 0015_port_bindings
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0017_server_status_width'
down_revision = '0015_port_bindings'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('servers', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=16),
                              type_=sa.String(length=32), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('servers', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=32),
                              type_=sa.String(length=16), existing_nullable=False)
