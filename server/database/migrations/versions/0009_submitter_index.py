"""submissions indexed by their sender

Revision ID: 0009_submitter_index
Revises: 0008_cases
Create Date: 2026-12-02

Each phone's feedback list (issue 13) is its app user's own returned submissions: without an
index on the sender, every list download read the whole submissions table.
"""
from alembic import op


revision = '0009_submitter_index'
down_revision = '0008_cases'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f('ix_submissions_submitter_id'), 'submissions', ['submitter_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_submissions_submitter_id'), table_name='submissions')
