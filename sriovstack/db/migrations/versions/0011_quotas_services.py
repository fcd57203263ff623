"""Quotas and services: the ``quota_limits`` table (compute and network limits per project
or quota class) and ``hosts.forced_down`` (os-services' forced down, 2.11).

Revision ID: 0011_quotas_services
Revises: 0010_keypairs_flavors
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0011_quotas_services'
down_revision = '0010_keypairs_flavors'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'quota_limits',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('service', sa.String(length=16), nullable=False),
        sa.Column('scope', sa.String(length=16), nullable=False),
        sa.Column('owner', sa.String(length=255), nullable=False),
        sa.Column('resource', sa.String(length=255), nullable=False),
        sa.Column('hard_limit', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('service', 'scope', 'owner', 'resource'),
    )
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('forced_down', sa.Boolean(), server_default='0',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.drop_column('forced_down')
    op.drop_table('quota_limits')
