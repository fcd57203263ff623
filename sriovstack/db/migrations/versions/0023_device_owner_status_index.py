"""``pci_devices``: the index on ``owner`` becomes one on ``(owner, status)``.

Every statement that reads a server's devices names their status too (the claim's fence,
the release, the desired state's devices held for no port).  With ``owner`` alone in the
key, PostgreSQL without statistics on the table (a fresh database, autovacuum not yet run)
estimated thousands of rows per owner and planned the desired state's check as one scan of
``ix_pci_devices_host_status`` by status: the whole index, at every agent's read (24 ms a
read at 5,000 hosts).  Both columns in the key make the per-server lookup the cheap plan
with or without statistics.

Revision ID: 0023_device_owner_status_index
Revises: 0022_host_revision_xid
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op


revision = '0023_device_owner_status_index'
down_revision = '0022_host_revision_xid'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pci_devices', schema=None) as batch_op:
        batch_op.drop_index('ix_pci_devices_owner')
        batch_op.create_index('ix_pci_devices_owner_status', ['owner', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pci_devices', schema=None) as batch_op:
        batch_op.drop_index('ix_pci_devices_owner_status')
        batch_op.create_index('ix_pci_devices_owner', ['owner'], unique=False)
