"""scheduling: resources, clinics, templates, appointments, bookings

Revision ID: 0006_scheduling
Revises: 0005_registry_duplicates
Create Date: 2026-11-22 17:10:00
"""
from alembic import op
import sqlalchemy as sa
import app.core.db


revision = '0006_scheduling'
down_revision = '0005_registry_duplicates'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('clinic',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('department', sa.String(length=40), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinic')),
    sa.UniqueConstraint('code', name=op.f('uq_clinic_code'))
    )
    op.create_table('resource',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('clinic_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_resource_clinic_id_clinic')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_resource_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resource'))
    )
    op.create_index(op.f('ix_resource_clinic_id'), 'resource', ['clinic_id'], unique=False)
    op.create_table('appointment_type',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=True),
    sa.Column('slot_minutes', sa.Integer(), nullable=False),
    sa.Column('needs', sa.String(length=60), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_appointment_type_clinic_id_clinic')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_type')),
    sa.UniqueConstraint('code', name=op.f('uq_appointment_type_code'))
    )
    op.create_index(op.f('ix_appointment_type_clinic_id'), 'appointment_type', ['clinic_id'], unique=False)
    op.create_table('appointment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('appointment_type_id', sa.Integer(), nullable=False),
    sa.Column('start_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('booked_by_id', sa.Integer(), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.Column('cancelled_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rescheduled_from_id', sa.Integer(), nullable=True),
    sa.Column('checked_in_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['appointment_type_id'], ['appointment_type.id'], name=op.f('fk_appointment_appointment_type_id_appointment_type')),
    sa.ForeignKeyConstraint(['booked_by_id'], ['user_account.id'], name=op.f('fk_appointment_booked_by_id_user_account')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_appointment_clinic_id_clinic')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_appointment_patient_id_patient')),
    sa.ForeignKeyConstraint(['rescheduled_from_id'], ['appointment.id'], name=op.f('fk_appointment_rescheduled_from_id_appointment')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment'))
    )
    op.create_index('ix_appointment_clinic_start', 'appointment', ['clinic_id', 'start_at'], unique=False)
    op.create_index('ix_appointment_status_start', 'appointment', ['status', 'start_at'], unique=False)
    op.create_index(op.f('ix_appointment_patient_id'), 'appointment', ['patient_id'], unique=False)
    op.create_table('booking',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('start_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], name=op.f('fk_booking_appointment_id_appointment')),
    sa.ForeignKeyConstraint(['resource_id'], ['resource.id'], name=op.f('fk_booking_resource_id_resource')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking'))
    )
    op.create_index(op.f('ix_booking_appointment_id'), 'booking', ['appointment_id'], unique=False)
    op.create_index('ix_booking_resource_start', 'booking', ['resource_id', 'start_at'], unique=False)
    op.create_index('uq_booking_resource_start_active', 'booking', ['resource_id', 'start_at'], unique=True,
                    sqlite_where=sa.text('active = 1'), postgresql_where=sa.text('active'))
    if op.get_bind().dialect.name == 'postgresql':
        # No resource is ever double-booked: the database refuses overlapping active bookings.
        op.execute('CREATE EXTENSION IF NOT EXISTS btree_gist')
        op.execute(
            "ALTER TABLE booking ADD CONSTRAINT ex_booking_resource_overlap "
            "EXCLUDE USING gist (resource_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&) "
            "WHERE (active)"
        )
    op.create_table('schedule_template',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=False),
    sa.Column('end_time', sa.Time(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('weekday >= 0 AND weekday <= 6', name=op.f('ck_schedule_template_weekday')),
    sa.CheckConstraint('end_time > start_time', name=op.f('ck_schedule_template_session_order')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_schedule_template_clinic_id_clinic')),
    sa.ForeignKeyConstraint(['resource_id'], ['resource.id'], name=op.f('fk_schedule_template_resource_id_resource')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_template'))
    )
    op.create_index(op.f('ix_schedule_template_clinic_id'), 'schedule_template', ['clinic_id'], unique=False)
    op.create_index(op.f('ix_schedule_template_resource_id'), 'schedule_template', ['resource_id'], unique=False)
    op.create_table('schedule_template_type',
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('appointment_type_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['appointment_type_id'], ['appointment_type.id'], name=op.f('fk_schedule_template_type_appointment_type_id_appointment_type')),
    sa.ForeignKeyConstraint(['template_id'], ['schedule_template.id'], name=op.f('fk_schedule_template_type_template_id_schedule_template'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('template_id', 'appointment_type_id', name=op.f('pk_schedule_template_type'))
    )
    op.create_table('schedule_closure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=True),
    sa.Column('clinic_id', sa.Integer(), nullable=True),
    sa.Column('start_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(resource_id IS NULL) <> (clinic_id IS NULL)', name=op.f('ck_schedule_closure_one_scope')),
    sa.CheckConstraint('end_at > start_at', name=op.f('ck_schedule_closure_span_order')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_schedule_closure_clinic_id_clinic')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_schedule_closure_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['resource_id'], ['resource.id'], name=op.f('fk_schedule_closure_resource_id_resource')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_closure'))
    )
    op.create_index('ix_schedule_closure_start_end', 'schedule_closure', ['start_at', 'end_at'], unique=False)
    op.create_table('hospital_holiday',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hospital_holiday')),
    sa.UniqueConstraint('day', name=op.f('uq_hospital_holiday_day'))
    )


def downgrade():
    op.drop_table('hospital_holiday')
    op.drop_index('ix_schedule_closure_start_end', table_name='schedule_closure')
    op.drop_table('schedule_closure')
    op.drop_table('schedule_template_type')
    op.drop_index(op.f('ix_schedule_template_resource_id'), table_name='schedule_template')
    op.drop_index(op.f('ix_schedule_template_clinic_id'), table_name='schedule_template')
    op.drop_table('schedule_template')
    op.drop_table('booking')
    op.drop_table('appointment')
    op.drop_table('appointment_type')
    op.drop_table('resource')
    op.drop_table('clinic')
