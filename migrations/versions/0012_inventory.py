"""inventory and controlled drugs (helper D)

Revision ID: 0012_inventory
Revises: 0011_dispensing
Create Date: 2026-11-22 20:10:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import app.core.db  # noqa: F401


revision = '0012_inventory'
down_revision = '0011_dispensing'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
