"""web users keep no Digest HA1

Revision ID: 0007_web_users_no_digest
Revises: 0006_review_export
Create Date: 2026-12-02

Web users' MD5 Digest HA1 sat beside their Argon2id hash: a copied database could be cracked at
MD5 speed, and the HA1 alone was enough to sign in by Digest. Web users now sign in on the pages
with the Argon2id hash and call the API with tokens; only app users (Collect on plain HTTP)
keep an HA1. The values are overwritten first, with SQLite's secure_delete on, so that the file
keeps no copy of them in its free space.
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_web_users_no_digest'
down_revision = '0006_review_export'
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == 'sqlite'
    if sqlite:
        was = bind.exec_driver_sql('PRAGMA secure_delete').scalar()
        bind.exec_driver_sql('PRAGMA secure_delete = ON')
    op.execute("UPDATE users SET digest_ha1 = ''")
    # a plain DROP COLUMN (SQLite 3.35+ rewrites every row without it); a batch copy of the table
    # would drop `users` while foreign keys, which are on, point at it
    op.drop_column('users', 'digest_ha1')
    if sqlite:
        bind.exec_driver_sql(f'PRAGMA secure_delete = {int(was)}')


def downgrade() -> None:
    # The HA1s cannot come back: after a downgrade a web user signs in by Digest only once they
    # have set a new password (the pages need none).
    op.add_column('users', sa.Column('digest_ha1', sa.String(length=32), nullable=False,
                                     server_default=''))
