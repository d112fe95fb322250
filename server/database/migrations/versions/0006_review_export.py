"""the version a review was made on; the rights an export was made with

Revision ID: 0006_review_export
Revises: 0005_times_with_offsets
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_review_export'
down_revision = '0005_times_with_offsets'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('review_comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version_id', sa.String(length=255), nullable=True))
    with op.batch_alter_table('export_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rights', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('export_jobs', schema=None) as batch_op:
        batch_op.drop_column('rights')
    with op.batch_alter_table('review_comments', schema=None) as batch_op:
        batch_op.drop_column('version_id')
