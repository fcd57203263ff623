"""Interface hot-plug: ``server_ports.tag``, the device tag an interface attach gives a port
(os-interface, microversion 2.49; shown from 2.70).

Revision ID: 0013_interface_tag
Revises: 0008_images_placement
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0013_interface_tag'
down_revision = '0008_images_placement'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('server_ports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tag', sa.String(length=60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('server_ports', schema=None) as batch_op:
        batch_op.drop_column('tag')
