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
    pass


def downgrade():
    pass
