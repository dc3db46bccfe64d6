"""dispensing (helper C)

Revision ID: 0011_dispensing
Revises: 0010_pharmacy_printing
Create Date: 2026-11-22 20:10:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import app.core.db  # noqa: F401


revision = '0011_dispensing'
down_revision = '0010_pharmacy_printing'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
