"""A token remembers the token it was made from (``identity_tokens.parent_id``, indexed), so
revoking a token revokes every token re-scoped from it (issue 10, finding 3).

Revision ID: 0005_token_parent
Revises: 0004_scheduler_revision
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005_token_parent'
down_revision = '0004_scheduler_revision'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('identity_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_identity_tokens_parent_id'), ['parent_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('identity_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_tokens_parent_id'))
        batch_op.drop_column('parent_id')
