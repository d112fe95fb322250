"""cases: entity lists, their entities and versions, what each submission's entity actions came
to, the acts on cases no submission records; app users' places; officers' answers to reviews

Revision ID: 0008_cases
Revises: 0007_web_users_no_digest
Create Date: 2026-12-02

The case tables are a projection of submission versions and case_events (renormalise rebuilds
them); review_comments gains an author from the phones (its user_id may now be empty).
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_cases'
down_revision = '0007_web_users_no_digest'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('entity_lists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('properties', sa.Text(), nullable=False),
    sa.Column('epoch', sa.String(length=32), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('table_name', sa.String(length=63), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entity_lists')),
    sa.UniqueConstraint('name', name=op.f('uq_entity_lists_name'))
    )
    op.create_table('app_user_places',
    sa.Column('app_user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['app_user_id'], ['app_users.id'], name=op.f('fk_app_user_places_app_user_id_app_users')),
    sa.PrimaryKeyConstraint('app_user_id', 'kind', 'value', name=op.f('pk_app_user_places'))
    )
    op.create_table('entities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('label', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('conflict', sa.String(length=8), nullable=True),
    sa.Column('governorate', sa.String(length=255), nullable=True),
    sa.Column('forum', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=255), nullable=True),
    sa.Column('follow_up', sa.String(length=32), nullable=True),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('csv_row', sa.Text(), nullable=False),
    sa.Column('creator_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['creator_id'], ['app_users.id'], name=op.f('fk_entities_creator_id_app_users')),
    sa.ForeignKeyConstraint(['list_id'], ['entity_lists.id'], name=op.f('fk_entities_list_id_entity_lists')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entities')),
    sa.UniqueConstraint('uuid', name=op.f('uq_entities_uuid'))
    )
    with op.batch_alter_table('entities', schema=None) as batch_op:
        batch_op.create_index('ix_entities_list_forum', ['list_id', 'forum'], unique=False)
        batch_op.create_index('ix_entities_list_governorate', ['list_id', 'governorate'], unique=False)
        batch_op.create_index('ix_entities_list_seq', ['list_id', 'seq'], unique=False)

    op.create_table('case_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('submission_def_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('after_def_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['submission_def_id'], ['submission_defs.id'], name=op.f('fk_case_events_submission_def_id_submission_defs')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_case_events_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_events'))
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_events_uuid'), ['uuid'], unique=False)

    op.create_table('entity_defs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('label', sa.Text(), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('data_received', sa.Text(), nullable=False),
    sa.Column('base_version', sa.Integer(), nullable=True),
    sa.Column('branch_id', sa.String(length=36), nullable=True),
    sa.Column('trunk_version', sa.Integer(), nullable=True),
    sa.Column('branch_base_version', sa.Integer(), nullable=True),
    sa.Column('conflict', sa.String(length=8), nullable=True),
    sa.Column('conflicting_properties', sa.Text(), nullable=True),
    sa.Column('forced', sa.Boolean(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=True),
    sa.Column('submission_def_id', sa.Integer(), nullable=True),
    sa.Column('app_user_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['app_user_id'], ['app_users.id'], name=op.f('fk_entity_defs_app_user_id_app_users')),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_entity_defs_entity_id_entities')),
    sa.ForeignKeyConstraint(['submission_def_id'], ['submission_defs.id'], name=op.f('fk_entity_defs_submission_def_id_submission_defs')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_entity_defs_submission_id_submissions')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_entity_defs_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entity_defs')),
    sa.UniqueConstraint('entity_id', 'version', name=op.f('uq_entity_defs_entity_id'))
    )
    with op.batch_alter_table('entity_defs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entity_defs_entity_id'), ['entity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_entity_defs_submission_id'), ['submission_id'], unique=False)

    op.create_table('entity_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_def_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('list_name', sa.String(length=255), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('refusal', sa.String(length=32), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('branch_id', sa.String(length=36), nullable=True),
    sa.Column('base_version', sa.Integer(), nullable=True),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('entity_def_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entity_def_id'], ['entity_defs.id'], name=op.f('fk_entity_actions_entity_def_id_entity_defs')),
    sa.ForeignKeyConstraint(['submission_def_id'], ['submission_defs.id'], name=op.f('fk_entity_actions_submission_def_id_submission_defs')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_entity_actions_submission_id_submissions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entity_actions')),
    sa.UniqueConstraint('submission_def_id', 'position', name=op.f('uq_entity_actions_submission_def_id'))
    )
    with op.batch_alter_table('entity_actions', schema=None) as batch_op:
        batch_op.create_index('ix_entity_actions_held', ['outcome', 'uuid'], unique=False)
        batch_op.create_index(batch_op.f('ix_entity_actions_submission_id'), ['submission_id'], unique=False)

    with op.batch_alter_table('review_comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('app_user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('answer_submission_id', sa.Integer(), nullable=True))
        batch_op.alter_column('user_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_unique_constraint(batch_op.f('uq_review_comments_answer_submission_id'), ['answer_submission_id'])
        batch_op.create_foreign_key(batch_op.f('fk_review_comments_app_user_id_app_users'), 'app_users', ['app_user_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_review_comments_answer_submission_id_submissions'), 'submissions', ['answer_submission_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('review_comments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_review_comments_answer_submission_id_submissions'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_review_comments_app_user_id_app_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_review_comments_answer_submission_id'), type_='unique')
        batch_op.alter_column('user_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('answer_submission_id')
        batch_op.drop_column('app_user_id')

    with op.batch_alter_table('entity_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entity_actions_submission_id'))
        batch_op.drop_index('ix_entity_actions_held')

    op.drop_table('entity_actions')
    with op.batch_alter_table('entity_defs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entity_defs_submission_id'))
        batch_op.drop_index(batch_op.f('ix_entity_defs_entity_id'))

    op.drop_table('entity_defs')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_events_uuid'))

    op.drop_table('case_events')
    with op.batch_alter_table('entities', schema=None) as batch_op:
        batch_op.drop_index('ix_entities_list_seq')
        batch_op.drop_index('ix_entities_list_governorate')
        batch_op.drop_index('ix_entities_list_forum')

    op.drop_table('entities')
    op.drop_table('app_user_places')
    op.drop_table('entity_lists')
