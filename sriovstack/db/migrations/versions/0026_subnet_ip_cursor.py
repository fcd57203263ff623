"""``net_subnets.ip_cursor``: the address a subnet last gave out by default, so the next
allocation reads the few addresses after it instead of every address the subnet holds (a
subnet of 50,000 ports read them all on each port create, under the subnet's lock).

Revision ID: 0026_subnet_ip_cursor
Revises: 0025_sweep_leases
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0026_subnet_ip_cursor'
down_revision = '0025_sweep_leases'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: the next allocation starts from the pools' first address, as before.
    op.add_column('net_subnets', sa.Column('ip_cursor', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('net_subnets') as batch:
        batch.drop_column('ip_cursor')
