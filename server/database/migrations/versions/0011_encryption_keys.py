"""encryption keys: key pairs whose private half is sealed with a passphrase; a form version
names the key it was published with; web users may be key holders

Revision ID: 0011_encryption_keys
Revises: 0010_field_offices
Create Date: 2026-12-03

Issue 15: incident referrals published encrypted, so that phones, field laptops and backups
hold ciphertext only.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_encryption_keys'
down_revision = '0010_field_offices'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('encryption_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('public_key', sa.Text(), nullable=False),
    sa.Column('sealed', sa.Text(), nullable=False),
    sa.Column('hint', sa.String(length=1000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_encryption_keys_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_encryption_keys')),
    sa.UniqueConstraint('name', name=op.f('uq_encryption_keys_name'))
    )
    with op.batch_alter_table('form_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('encryption_key_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_form_versions_encryption_key_id_encryption_keys'), 'encryption_keys', ['encryption_key_id'], ['id'])
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_holder', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('key_holder')
    with op.batch_alter_table('form_versions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_form_versions_encryption_key_id_encryption_keys'), type_='foreignkey')
        batch_op.drop_column('encryption_key_id')
    op.drop_table('encryption_keys')
