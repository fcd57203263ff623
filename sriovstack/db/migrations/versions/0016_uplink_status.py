"""Uplink status propagation: ``net_ports.propagate_uplink_status`` (neutron's port attribute,
extension ``uplink-status-propagation``): the VF's link state follows its PF (``auto``).

Revision ID: 0016_uplink_status
Revises: 0008_images_placement
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0016_uplink_status'
down_revision = '0008_images_placement'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('net_ports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('propagate_uplink_status', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('net_ports', schema=None) as batch_op:
        batch_op.drop_column('propagate_uplink_status')
