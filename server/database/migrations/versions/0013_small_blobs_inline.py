"""small files' bytes kept with their row: a small file (an encrypted submission's XML) is
committed with its submission instead of being flushed to disk on its own

Revision ID: 0013_small_blobs_inline
Revises: 0012_key_unlocks
Create Date: 2026-12-03

Issue 15 §4: receiving encrypted referrals as fast as plain ones.
"""
from alembic import op
import sqlalchemy as sa


revision = '0013_small_blobs_inline'
down_revision = '0012_key_unlocks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # not a batch: on SQLite that copies the table and drops it, which its references refuse
    op.add_column('blobs', sa.Column('content', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.execute('ALTER TABLE blobs DROP COLUMN content')
