"""``hosts.revision`` widens to a bigint: on PostgreSQL it now holds the id of the transaction
that last changed the host (``pg_current_xact_id()``, 64 bits), so claims no longer queue on
the one ``scheduler_revision`` row (which SQLite still counts with).

Revision ID: 0022_host_revision_xid
Revises: 0017_server_status_width
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0022_host_revision_xid'
down_revision = '0017_server_status_width'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.alter_column('revision', existing_type=sa.Integer(), type_=sa.BigInteger(),
                              existing_nullable=False, existing_server_default='0')


def downgrade() -> None:
    # A stamp above 2**31 - 1 cannot go back: restart every host at 0 (indexes reload all).
    op.execute("UPDATE hosts SET revision = 0")
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.alter_column('revision', existing_type=sa.BigInteger(), type_=sa.Integer(),
                              existing_nullable=False, existing_server_default='0')
