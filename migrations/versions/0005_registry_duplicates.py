"""registry: duplicate candidates, merges (helper: duplicates & merge)

Revision ID: 0005_registry_duplicates
Revises: 0004_registry_search
Create Date: 2026-11-22 17:10:00
"""
from alembic import op
import sqlalchemy as sa
import app.core.db


revision = '0005_registry_duplicates'
down_revision = '0004_registry_search'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.create_index('ix_patient_dob_words', ['birth_date', 'family_norm', 'given_norm', 'id'], unique=False)

    op.create_table('patient_merge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survivor_id', sa.Integer(), nullable=False),
    sa.Column('retired_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('field_choices', sa.JSON(), nullable=False),
    sa.Column('survivor_before', sa.JSON(), nullable=False),
    sa.Column('retired_before', sa.JSON(), nullable=False),
    sa.Column('survivor_after', sa.JSON(), nullable=False),
    sa.Column('moved_rows', sa.JSON(), nullable=False),
    sa.Column('merged_by_id', sa.Integer(), nullable=True),
    sa.Column('merged_by_label', sa.String(length=120), nullable=False),
    sa.Column('merged_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('undone_by_id', sa.Integer(), nullable=True),
    sa.Column('undone_by_label', sa.String(length=120), nullable=True),
    sa.Column('undone_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('undo_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['merged_by_id'], ['user_account.id'], name=op.f('fk_patient_merge_merged_by_id_user_account')),
    sa.ForeignKeyConstraint(['retired_id'], ['patient.id'], name=op.f('fk_patient_merge_retired_id_patient')),
    sa.ForeignKeyConstraint(['survivor_id'], ['patient.id'], name=op.f('fk_patient_merge_survivor_id_patient')),
    sa.ForeignKeyConstraint(['undone_by_id'], ['user_account.id'], name=op.f('fk_patient_merge_undone_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient_merge'))
    )
    with op.batch_alter_table('patient_merge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_merge_retired_id'), ['retired_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patient_merge_survivor_id'), ['survivor_id'], unique=False)
        batch_op.create_index('uq_patient_merge_active_retired', ['retired_id'], unique=True,
                              postgresql_where=sa.text("status = 'active'"),
                              sqlite_where=sa.text("status = 'active'"))

    op.create_table('duplicate_candidate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_a_id', sa.Integer(), nullable=False),
    sa.Column('patient_b_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=30), nullable=False),
    sa.Column('override_reason', sa.Text(), nullable=True),
    sa.Column('detected_by_id', sa.Integer(), nullable=True),
    sa.Column('detected_by_label', sa.String(length=120), nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_by_label', sa.String(length=120), nullable=True),
    sa.Column('reviewed_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('merge_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('patient_a_id < patient_b_id', name=op.f('ck_duplicate_candidate_ordered_pair')),
    sa.ForeignKeyConstraint(['detected_by_id'], ['user_account.id'], name=op.f('fk_duplicate_candidate_detected_by_id_user_account')),
    sa.ForeignKeyConstraint(['merge_id'], ['patient_merge.id'], name=op.f('fk_duplicate_candidate_merge_id_patient_merge')),
    sa.ForeignKeyConstraint(['patient_a_id'], ['patient.id'], name=op.f('fk_duplicate_candidate_patient_a_id_patient')),
    sa.ForeignKeyConstraint(['patient_b_id'], ['patient.id'], name=op.f('fk_duplicate_candidate_patient_b_id_patient')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['user_account.id'], name=op.f('fk_duplicate_candidate_reviewed_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duplicate_candidate')),
    sa.UniqueConstraint('patient_a_id', 'patient_b_id', name=op.f('uq_duplicate_candidate_patient_a_id'))
    )
    with op.batch_alter_table('duplicate_candidate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_duplicate_candidate_patient_b_id'), ['patient_b_id'], unique=False)
        batch_op.create_index('ix_duplicate_candidate_status_score', ['status', 'score'], unique=False)


def downgrade():
    with op.batch_alter_table('duplicate_candidate', schema=None) as batch_op:
        batch_op.drop_index('ix_duplicate_candidate_status_score')
        batch_op.drop_index(batch_op.f('ix_duplicate_candidate_patient_b_id'))
    op.drop_table('duplicate_candidate')

    with op.batch_alter_table('patient_merge', schema=None) as batch_op:
        batch_op.drop_index('uq_patient_merge_active_retired')
        batch_op.drop_index(batch_op.f('ix_patient_merge_survivor_id'))
        batch_op.drop_index(batch_op.f('ix_patient_merge_retired_id'))
    op.drop_table('patient_merge')

    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_index('ix_patient_dob_words')
