"""``sweep_leases``: which API process runs a cluster-wide periodic job (the ledger's audit)
until when, so that one process audits at a time instead of every worker of every API node
reading the whole ledger each minute.

Revision ID: 0025_sweep_leases
Revises: 0024_hosts_removed_counter
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sriovstack.db.base import UtcDateTime


revision = '0025_sweep_leases'
down_revision = '0024_hosts_removed_counter'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sweep_leases',
                    sa.Column('name', sa.String(length=64), nullable=False),
                    sa.Column('owner', sa.String(length=255), nullable=False),
                    sa.Column('expires_at', UtcDateTime(),
                              nullable=False),
                    sa.PrimaryKeyConstraint('name', name=op.f('pk_sweep_leases')))


def downgrade() -> None:
    op.drop_table('sweep_leases')
