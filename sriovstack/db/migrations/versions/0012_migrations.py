"""Server migrations: resize, cold and live migration (nova's ``migrations`` table).

Revision ID: 0012_migrations
Revises: 0011_quotas_services
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sriovstack.db.base import UtcDateTime

revision = '0012_migrations'
down_revision = '0011_quotas_services'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'migrations',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('uuid', sa.String(length=36), nullable=False, unique=True),
        sa.Column('server_id', sa.String(length=36),
                  sa.ForeignKey('servers.id', ondelete='CASCADE'), nullable=False),
        sa.Column('project_id', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.String(length=64), nullable=False),
        sa.Column('migration_type', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('source_compute', sa.String(length=255), nullable=False),
        sa.Column('dest_compute', sa.String(length=255), nullable=True),
        sa.Column('old_flavor_id', sa.String(length=36), nullable=False),
        sa.Column('new_flavor_id', sa.String(length=36), nullable=False),
        sa.Column('old_status', sa.String(length=16), nullable=False),
        sa.Column('source_ports', sa.JSON(), nullable=False),
        sa.Column('request_id', sa.String(length=64), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('updated_at', UtcDateTime(), nullable=False),
    )
    op.create_index('ix_migrations_server_id', 'migrations', ['server_id'])
    op.create_index('ix_migrations_status', 'migrations', ['status'])


def downgrade() -> None:
    op.drop_index('ix_migrations_status', table_name='migrations')
    op.drop_index('ix_migrations_server_id', table_name='migrations')
    op.drop_table('migrations')
