"""A server's description (compute 2.19) and its lock with a reason (2.9, 2.73).

Revision ID: 0006_server_lifecycle
Revises: 0004_scheduler_revision
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006_server_lifecycle'
down_revision = '0004_scheduler_revision'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('servers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('description', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('locked', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column('locked_reason', sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('servers', schema=None) as batch_op:
        batch_op.drop_column('locked_reason')
        batch_op.drop_column('locked')
        batch_op.drop_column('description')
