"""key unlocks and decryption checks: keys unlocked for a session, what decrypting each
encrypted submission version showed, and the form setting that puts decrypted rows in the tables

Revision ID: 0012_key_unlocks
Revises: 0011_encryption_keys
Create Date: 2026-12-03

Issue 15: key holders unlock a key for their session; reviews and exports decrypt with it.
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_key_unlocks'
down_revision = '0011_encryption_keys'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('key_unlocks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('wrapped', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['encryption_keys.id'], name=op.f('fk_key_unlocks_key_id_encryption_keys')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_key_unlocks_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_key_unlocks'))
    )
    with op.batch_alter_table('key_unlocks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_key_unlocks_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_key_unlocks_key_id'), ['key_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_key_unlocks_user_id'), ['user_id'], unique=False)
    op.create_table('decryption_checks',
    sa.Column('submission_def_id', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('projected', sa.Boolean(), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['encryption_keys.id'], name=op.f('fk_decryption_checks_key_id_encryption_keys')),
    sa.ForeignKeyConstraint(['submission_def_id'], ['submission_defs.id'], name=op.f('fk_decryption_checks_submission_def_id_submission_defs')),
    sa.PrimaryKeyConstraint('submission_def_id', name=op.f('pk_decryption_checks'))
    )
    # not a batch: on SQLite that copies `forms` and drops it, which its versions' keys refuse
    op.execute('ALTER TABLE forms ADD COLUMN decrypted_rows BOOLEAN DEFAULT false NOT NULL')


def downgrade() -> None:
    op.execute('ALTER TABLE forms DROP COLUMN decrypted_rows')
    op.drop_table('decryption_checks')
    with op.batch_alter_table('key_unlocks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_key_unlocks_user_id'))
        batch_op.drop_index(batch_op.f('ix_key_unlocks_key_id'))
        batch_op.drop_index(batch_op.f('ix_key_unlocks_expires_at'))
    op.drop_table('key_unlocks')
