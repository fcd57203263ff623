"""The identity revision: one counter row bumped with every change to what a validated token
says, so each API worker may cache validated tokens and still see a revocation within a second.

Revision ID: 0014_identity_revision
Revises: 0012_migrations
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0014_identity_revision'
down_revision = '0012_migrations'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identity_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_revision'))
    )
    op.execute(sa.text("INSERT INTO identity_revision (id, value) VALUES (1, 0)"))


def downgrade() -> None:
    op.drop_table('identity_revision')
