"""Glance v2 writes: an image's tags, ``os_hidden`` and the sha512 of its uploaded data
(``os_hash_value``; the md5 stays in ``checksum``); placement's custom resource classes and
traits (``placement_names``).

Revision ID: 0008_images_placement
Revises: 0009_device_health
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008_images_placement'
down_revision = '0009_device_health'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('images', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tags', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('os_hidden', sa.Boolean(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('os_hash_value', sa.String(length=128), nullable=True))
    op.create_table('placement_names',
                    sa.Column('kind', sa.String(length=16), nullable=False),
                    sa.Column('name', sa.String(length=255), nullable=False),
                    sa.PrimaryKeyConstraint('kind', 'name', name=op.f('pk_placement_names')))


def downgrade() -> None:
    op.drop_table('placement_names')
    with op.batch_alter_table('images', schema=None) as batch_op:
        batch_op.drop_column('os_hash_value')
        batch_op.drop_column('os_hidden')
        batch_op.drop_column('tags')
