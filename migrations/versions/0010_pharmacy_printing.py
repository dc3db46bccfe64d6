"""pharmacy printing (helper B)

Revision ID: 0010_pharmacy_printing
Revises: 0009_prescribing
Create Date: 2026-11-22 20:10:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import app.core.db  # noqa: F401


revision = '0010_pharmacy_printing'
down_revision = '0009_prescribing'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
