"""field offices: the peers a server syncs with, its append-only log of changes, what the
other side sent that could not be applied, review conflicts, imported bundles; app users and
review comments learn which server they came from

Revision ID: 0010_field_offices
Revises: 0009_submitter_index
Create Date: 2026-12-03

Issue 14: a field office's own server syncs with headquarters through cut links.
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_field_offices'
down_revision = '0009_submitter_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sync_peers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('own_name', sa.String(length=255), nullable=True),
    sa.Column('url', sa.String(length=1000), nullable=True),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=True),
    sa.Column('places', sa.Text(), nullable=False),
    sa.Column('public_key', sa.String(length=64), nullable=True),
    sa.Column('down_seq', sa.Integer(), nullable=False),
    sa.Column('up_seq', sa.Integer(), nullable=False),
    sa.Column('their_seq', sa.Integer(), nullable=False),
    sa.Column('last_contact_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_error_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_peers')),
    sa.UniqueConstraint('name', name=op.f('uq_sync_peers_name')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_sync_peers_token_sha256'))
    )
    op.create_table('sync_bundles',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('peer_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('first_seq', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['peer_id'], ['sync_peers.id'], name=op.f('fk_sync_bundles_peer_id_sync_peers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_bundles'))
    )
    op.create_table('sync_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('ref', sa.String(length=300), nullable=False),
    sa.Column('peer_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['peer_id'], ['sync_peers.id'], name=op.f('fk_sync_log_peer_id_sync_peers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_log')),
    sa.UniqueConstraint('seq', name=op.f('uq_sync_log_seq'))
    )
    op.create_index('ix_sync_log_kind_ref', 'sync_log', ['kind', 'ref'], unique=False)
    op.create_table('sync_refusals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('peer_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('item_sha256', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['peer_id'], ['sync_peers.id'], name=op.f('fk_sync_refusals_peer_id_sync_peers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_refusals'))
    )
    op.create_index(op.f('ix_sync_refusals_peer_id'), 'sync_refusals', ['peer_id'], unique=False)
    op.create_table('sync_conflicts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('peer_id', sa.Integer(), nullable=False),
    sa.Column('here_comment_id', sa.Integer(), nullable=False),
    sa.Column('there_comment_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['here_comment_id'], ['review_comments.id'], name=op.f('fk_sync_conflicts_here_comment_id_review_comments')),
    sa.ForeignKeyConstraint(['peer_id'], ['sync_peers.id'], name=op.f('fk_sync_conflicts_peer_id_sync_peers')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_sync_conflicts_submission_id_submissions')),
    sa.ForeignKeyConstraint(['there_comment_id'], ['review_comments.id'], name=op.f('fk_sync_conflicts_there_comment_id_review_comments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_conflicts'))
    )
    op.create_index(op.f('ix_sync_conflicts_submission_id'), 'sync_conflicts', ['submission_id'], unique=False)
    with op.batch_alter_table('app_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('peer_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_app_users_peer_id_sync_peers'), 'sync_peers', ['peer_id'], ['id'])
    with op.batch_alter_table('review_comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('author', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('peer_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_review_comments_peer_id_sync_peers'), 'sync_peers', ['peer_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('review_comments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_review_comments_peer_id_sync_peers'), type_='foreignkey')
        batch_op.drop_column('peer_id')
        batch_op.drop_column('author')
    with op.batch_alter_table('app_users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_app_users_peer_id_sync_peers'), type_='foreignkey')
        batch_op.drop_column('peer_id')
    op.drop_index(op.f('ix_sync_conflicts_submission_id'), table_name='sync_conflicts')
    op.drop_table('sync_conflicts')
    op.drop_index(op.f('ix_sync_refusals_peer_id'), table_name='sync_refusals')
    op.drop_table('sync_refusals')
    op.drop_index('ix_sync_log_kind_ref', table_name='sync_log')
    op.drop_table('sync_log')
    op.drop_table('sync_bundles')
    op.drop_table('sync_peers')
