"""Key pairs (``key_pairs``), the server's ``key_data``, flavors' extra specs and access lists.

Revision ID: 0010_keypairs_flavors
Revises: 0013_interfaces_console
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sriovstack.db.base import UtcDateTime


revision = '0010_keypairs_flavors'
down_revision = '0013_interfaces_console'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'key_pairs',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('user_id', sa.String(length=64), nullable=False),
        sa.Column('fingerprint', sa.String(length=255), nullable=False),
        sa.Column('public_key', sa.Text(), nullable=False),
        sa.Column('type', sa.String(length=8), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'name', name='uq_key_pairs_user_name'))
    op.create_index(op.f('ix_key_pairs_user_id'), 'key_pairs', ['user_id'], unique=False)
    op.create_table(
        'flavor_extra_specs',
        sa.Column('flavor_id', sa.String(length=36), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('value', sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(['flavor_id'], ['flavors.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('flavor_id', 'key'))
    op.create_table(
        'flavor_projects',
        sa.Column('flavor_id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['flavor_id'], ['flavors.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('flavor_id', 'project_id'))
    with op.batch_alter_table('servers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_data', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('servers', schema=None) as batch_op:
        batch_op.drop_column('key_data')
    op.drop_table('flavor_projects')
    op.drop_table('flavor_extra_specs')
    op.drop_index(op.f('ix_key_pairs_user_id'), table_name='key_pairs')
    op.drop_table('key_pairs')
