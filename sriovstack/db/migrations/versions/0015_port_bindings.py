"""Multiple port bindings (neutron's ``binding-extended``): ``net_port_bindings`` holds each
port's INACTIVE bindings, one per host; the ACTIVE one stays on ``net_ports``.

Revision ID: 0015_port_bindings
Revises: 0014_identity_revision
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sriovstack.db.base import UtcDateTime


revision = '0015_port_bindings'
down_revision = '0014_identity_revision'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'net_port_bindings',
        sa.Column('port_id', sa.String(length=36), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('vnic_type', sa.String(length=32), nullable=False),
        sa.Column('profile', sa.JSON(), nullable=False),
        sa.Column('vif_type', sa.String(length=32), nullable=False),
        sa.Column('vif_details', sa.JSON(), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['port_id'], ['net_ports.id'],
                                name=op.f('fk_net_port_bindings_port_id_net_ports'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('port_id', 'host', name=op.f('pk_net_port_bindings')))


def downgrade() -> None:
    op.drop_table('net_port_bindings')
