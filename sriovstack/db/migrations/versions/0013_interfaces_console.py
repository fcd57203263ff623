"""Day two: ``server_ports.tag``, the device tag an interface attach gives a port
(os-interface, microversion 2.49; shown from 2.70), and ``server_consoles``, each server's
console log as its compute agent reported it (os-getConsoleOutput).

Revision ID: 0013_interfaces_console
Revises: 0016_uplink_status
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sriovstack.db.base import UtcDateTime


revision = '0013_interfaces_console'
down_revision = '0016_uplink_status'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('server_ports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tag', sa.String(length=60), nullable=True))
    op.create_table(
        'server_consoles',
        sa.Column('server_id', sa.String(length=36), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('lines', sa.Integer(), nullable=False),
        sa.Column('updated_at', UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['server_id'], ['servers.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('server_id'))


def downgrade() -> None:
    op.drop_table('server_consoles')
    with op.batch_alter_table('server_ports', schema=None) as batch_op:
        batch_op.drop_column('tag')
