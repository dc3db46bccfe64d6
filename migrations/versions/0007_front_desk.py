"""front desk: check-in, queue tickets, no-shows, reminders

Revision ID: 0007_front_desk
Revises: 0006_scheduling
Create Date: 2026-11-22 17:10:00
"""
from alembic import op
import sqlalchemy as sa
import app.core.db


revision = '0007_front_desk'
down_revision = '0006_scheduling'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('reminder_channel', sa.String(length=10), nullable=True))

    op.create_table('queue_ticket',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department', sa.String(length=40), nullable=False),
    sa.Column('service_day', sa.Date(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=True),
    sa.Column('walk_in', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('issued_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('called_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('called_by_id', sa.Integer(), nullable=True),
    sa.Column('called_by_label', sa.String(length=120), nullable=True),
    sa.Column('called_to', sa.String(length=40), nullable=True),
    sa.Column('started_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], name=op.f('fk_queue_ticket_appointment_id_appointment')),
    sa.ForeignKeyConstraint(['called_by_id'], ['user_account.id'], name=op.f('fk_queue_ticket_called_by_id_user_account')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_queue_ticket_clinic_id_clinic')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['user_account.id'], name=op.f('fk_queue_ticket_issued_by_id_user_account')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_queue_ticket_patient_id_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queue_ticket')),
    sa.UniqueConstraint('appointment_id', name=op.f('uq_queue_ticket_appointment_id')),
    sa.UniqueConstraint('department', 'service_day', 'number', name=op.f('uq_queue_ticket_department'))
    )
    with op.batch_alter_table('queue_ticket', schema=None) as batch_op:
        batch_op.create_index('ix_queue_ticket_department_day_status', ['department', 'service_day', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_queue_ticket_patient_id'), ['patient_id'], unique=False)

    op.create_table('appointment_reminder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('offset_hours', sa.Integer(), nullable=False),
    sa.Column('for_start_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_job_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('channel', sa.String(length=10), nullable=True),
    sa.Column('sent_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], name=op.f('fk_appointment_reminder_appointment_id_appointment')),
    sa.ForeignKeyConstraint(['due_job_id'], ['due_job.id'], name=op.f('fk_appointment_reminder_due_job_id_due_job')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_appointment_reminder_patient_id_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_reminder')),
    sa.UniqueConstraint('appointment_id', 'offset_hours', 'for_start_at', name=op.f('uq_appointment_reminder_appointment_id'))
    )
    with op.batch_alter_table('appointment_reminder', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_reminder_appointment_id'), ['appointment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointment_reminder_patient_id'), ['patient_id'], unique=False)

    op.create_table('reminder_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reminder_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('recipient', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempted_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['reminder_id'], ['appointment_reminder.id'], name=op.f('fk_reminder_attempt_reminder_id_appointment_reminder')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder_attempt'))
    )
    with op.batch_alter_table('reminder_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminder_attempt_reminder_id'), ['reminder_id'], unique=False)


def downgrade():
    with op.batch_alter_table('reminder_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminder_attempt_reminder_id'))
    op.drop_table('reminder_attempt')
    with op.batch_alter_table('appointment_reminder', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointment_reminder_patient_id'))
        batch_op.drop_index(batch_op.f('ix_appointment_reminder_appointment_id'))
    op.drop_table('appointment_reminder')
    with op.batch_alter_table('queue_ticket', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_queue_ticket_patient_id'))
        batch_op.drop_index('ix_queue_ticket_department_day_status')
    op.drop_table('queue_ticket')
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_column('reminder_channel')
        batch_op.drop_column('email')
