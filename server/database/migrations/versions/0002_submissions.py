"""submissions, their versions and attachments; relational projection mapping

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('projection_tables',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=1000), nullable=False),
    sa.Column('parent_key', sa.String(length=1000), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('table_name', sa.String(length=63), nullable=False),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_projection_tables_form_id_forms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projection_tables')),
    sa.UniqueConstraint('form_id', 'key', name=op.f('uq_projection_tables_form_id')),
    sa.UniqueConstraint('table_name', name=op.f('uq_projection_tables_table_name'))
    )
    with op.batch_alter_table('projection_tables', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_projection_tables_form_id'), ['form_id'], unique=False)

    op.create_table('submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.String(length=255), nullable=False),
    sa.Column('current_def_id', sa.Integer(), nullable=True),
    sa.Column('review_state', sa.String(length=16), nullable=False),
    sa.Column('submitter_id', sa.Integer(), nullable=True),
    sa.Column('device_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_submissions_form_id_forms')),
    sa.ForeignKeyConstraint(['submitter_id'], ['app_users.id'], name=op.f('fk_submissions_submitter_id_app_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submissions')),
    sa.UniqueConstraint('form_id', 'instance_id', name=op.f('uq_submissions_form_id'))
    )
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submissions_form_id'), ['form_id'], unique=False)

    op.create_table('projection_columns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('table_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=1000), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('part', sa.String(length=16), nullable=False),
    sa.Column('column_name', sa.String(length=63), nullable=False),
    sa.ForeignKeyConstraint(['table_id'], ['projection_tables.id'], name=op.f('fk_projection_columns_table_id_projection_tables')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projection_columns')),
    sa.UniqueConstraint('table_id', 'column_name', name='uq_projection_columns_name'),
    sa.UniqueConstraint('table_id', 'path', 'kind', 'part', name='uq_projection_columns_field')
    )
    with op.batch_alter_table('projection_columns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_projection_columns_table_id'), ['table_id'], unique=False)

    op.create_table('submission_defs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('form_version_id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.String(length=255), nullable=False),
    sa.Column('deprecated_id', sa.String(length=255), nullable=True),
    sa.Column('xml', sa.LargeBinary(), nullable=False),
    sa.Column('xml_sha256', sa.String(length=64), nullable=False),
    sa.Column('submitter_id', sa.Integer(), nullable=True),
    sa.Column('device_id', sa.String(length=255), nullable=True),
    sa.Column('user_agent', sa.String(length=255), nullable=True),
    sa.Column('attachments_expected', sa.Integer(), nullable=False),
    sa.Column('attachments_present', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('normalised_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('normalise_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_submission_defs_form_id_forms')),
    sa.ForeignKeyConstraint(['form_version_id'], ['form_versions.id'], name=op.f('fk_submission_defs_form_version_id_form_versions')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_submission_defs_submission_id_submissions')),
    sa.ForeignKeyConstraint(['submitter_id'], ['app_users.id'], name=op.f('fk_submission_defs_submitter_id_app_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submission_defs')),
    sa.UniqueConstraint('form_id', 'instance_id', name=op.f('uq_submission_defs_form_id'))
    )
    with op.batch_alter_table('submission_defs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submission_defs_submission_id'), ['submission_id'], unique=False)

    # submissions and submission_defs point at each other: the second key once both exist
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_submissions_current_def_id_submission_defs'),
                                    'submission_defs', ['current_def_id'], ['id'])

    op.create_table('submission_attachments',
    sa.Column('submission_def_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('blob_sha256', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['blob_sha256'], ['blobs.sha256'], name=op.f('fk_submission_attachments_blob_sha256_blobs')),
    sa.ForeignKeyConstraint(['submission_def_id'], ['submission_defs.id'], name=op.f('fk_submission_attachments_submission_def_id_submission_defs')),
    sa.PrimaryKeyConstraint('submission_def_id', 'name', name=op.f('pk_submission_attachments'))
    )
    op.create_table('value_issues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_def_id', sa.Integer(), nullable=False),
    sa.Column('row_key', sa.Text(), nullable=False),
    sa.Column('path', sa.String(length=1000), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['submission_def_id'], ['submission_defs.id'], name=op.f('fk_value_issues_submission_def_id_submission_defs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_value_issues'))
    )
    with op.batch_alter_table('value_issues', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_value_issues_submission_def_id'), ['submission_def_id'], unique=False)

    with op.batch_alter_table('forms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('projection_revision', sa.String(length=32),
                                      nullable=False, server_default=''))



def downgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_submissions_current_def_id_submission_defs'),
                                 type_='foreignkey')
    with op.batch_alter_table('forms', schema=None) as batch_op:
        batch_op.drop_column('projection_revision')

    with op.batch_alter_table('value_issues', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_value_issues_submission_def_id'))

    op.drop_table('value_issues')
    op.drop_table('submission_attachments')
    with op.batch_alter_table('submission_defs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submission_defs_submission_id'))

    op.drop_table('submission_defs')
    with op.batch_alter_table('projection_columns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_projection_columns_table_id'))

    op.drop_table('projection_columns')
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submissions_form_id'))

    op.drop_table('submissions')
    with op.batch_alter_table('projection_tables', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_projection_tables_form_id'))

    op.drop_table('projection_tables')
