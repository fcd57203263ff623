"""Device health: ``pci_devices.unhealthy_reason``, set while the SR-IOV agent reports the
device's PF without carrier (the scheduler then does not offer it).

Revision ID: 0009_device_health
Revises: 0006_server_lifecycle
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0009_device_health'
down_revision = '0006_server_lifecycle'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pci_devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unhealthy_reason', sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('pci_devices', schema=None) as batch_op:
        batch_op.drop_column('unhealthy_reason')
