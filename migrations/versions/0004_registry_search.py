"""registry: search columns and indexes, record versions (helper: search & registration)

Revision ID: 0004_registry_search
Revises: 0003_printing
Create Date: 2026-11-22 17:10:00
"""
from alembic import op
import sqlalchemy as sa
import app.core.db


revision = '0004_registry_search'
down_revision = '0003_printing'
branch_labels = None
depends_on = None


def _search_text(length):
    # Byte-order collation on PostgreSQL: one btree index serves prefix ranges and ORDER BY.
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade():
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('family_norm', _search_text(100), server_default='', nullable=False))
        batch_op.add_column(sa.Column('given_norm', _search_text(150), server_default='', nullable=False))
        batch_op.add_column(sa.Column('name_key', sa.String(length=4), server_default='', nullable=False))
        batch_op.add_column(sa.Column('phone_e164', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('status', sa.String(length=10), server_default='active', nullable=False))
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_patient_merged_into_id_patient'), 'patient', ['merged_into_id'], ['id'])
        batch_op.drop_index('ix_patient_names')

    _backfill()

    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.create_index('ix_patient_search_name', ['family_norm', 'given_norm', 'id'], unique=False)
        batch_op.create_index('ix_patient_search_dob', ['birth_date', 'family_norm', 'given_norm', 'id'], unique=False)
        batch_op.create_index('ix_patient_name_key', ['name_key', 'family_norm'], unique=False)
        batch_op.create_index(batch_op.f('ix_patient_phone_e164'), ['phone_e164'], unique=False)
        batch_op.create_index(batch_op.f('ix_patient_status'), ['status'], unique=False)

    if op.get_bind().dialect.name == 'postgresql':
        # The typo-tolerant search: trigram similarity on the whole normalised name.
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.execute("CREATE INDEX ix_patient_name_trgm ON patient "
                   "USING gin ((family_norm || ' ' || given_norm) gin_trgm_ops)")

    op.create_table('patient_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('changed_by_id', sa.Integer(), nullable=True),
    sa.Column('changed_by_label', sa.String(length=120), nullable=False),
    sa.Column('changed_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('change', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['changed_by_id'], ['user_account.id'], name=op.f('fk_patient_version_changed_by_id_user_account')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_patient_version_patient_id_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient_version')),
    sa.UniqueConstraint('patient_id', 'version', name=op.f('uq_patient_version_patient_id'))
    )
    with op.batch_alter_table('patient_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_version_patient_id'), ['patient_id'], unique=False)


def _backfill():
    """Fill the search columns of patients registered before this revision."""
    from flask import current_app, has_app_context

    from app.domain.patients import rules

    region = (current_app.config.get('PHONE_REGION') if has_app_context() else None) or rules.DEFAULT_PHONE_REGION
    conn = op.get_bind()
    patient = sa.table('patient', sa.column('id', sa.Integer), sa.column('family_name', sa.String),
                       sa.column('given_names', sa.String), sa.column('phone', sa.String),
                       sa.column('family_norm', sa.String), sa.column('given_norm', sa.String),
                       sa.column('name_key', sa.String), sa.column('phone_e164', sa.String))
    rows = conn.execute(sa.select(patient.c.id, patient.c.family_name, patient.c.given_names,
                                  patient.c.phone)).all()
    updates = [{'pid': r.id, 'family_norm': rules.normalise_name(r.family_name),
                'given_norm': rules.normalise_name(r.given_names),
                'name_key': rules.name_key(r.family_name),
                'phone_e164': rules.phone_e164(r.phone, region)} for r in rows]
    if updates:
        conn.execute(
            patient.update().where(patient.c.id == sa.bindparam('pid')).values(
                family_norm=sa.bindparam('family_norm'), given_norm=sa.bindparam('given_norm'),
                name_key=sa.bindparam('name_key'), phone_e164=sa.bindparam('phone_e164')),
            updates)


def downgrade():
    with op.batch_alter_table('patient_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_version_patient_id'))
    op.drop_table('patient_version')

    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_patient_name_trgm')

    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_status'))
        batch_op.drop_index(batch_op.f('ix_patient_phone_e164'))
        batch_op.drop_index('ix_patient_name_key')
        batch_op.drop_index('ix_patient_search_dob')
        batch_op.drop_index('ix_patient_search_name')
        batch_op.create_index('ix_patient_names', ['family_name', 'given_names'], unique=False)
        batch_op.drop_constraint(batch_op.f('fk_patient_merged_into_id_patient'), type_='foreignkey')
        batch_op.drop_column('merged_into_id')
        batch_op.drop_column('status')
        batch_op.drop_column('phone_e164')
        batch_op.drop_column('name_key')
        batch_op.drop_column('given_norm')
        batch_op.drop_column('family_norm')
