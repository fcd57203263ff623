"""``scheduler_revision`` row 2 counts the hosts removed (os-services delete), on both
dialects: a deleted host row carries no revision stamp, so the schedulers' indexes learned of
it by counting every host at every read (a scan of ``hosts`` per decision); they now read
this counter with the changed hosts and list the host ids only when it moved.

Revision ID: 0024_hosts_removed_counter
Revises: 0023_device_owner_status_index
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0024_hosts_removed_counter'
down_revision = '0023_device_owner_status_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.text("INSERT INTO scheduler_revision (id, value) VALUES (2, 0)"))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM scheduler_revision WHERE id = 2"))
