"""prescribing and verification (helper A)

Revision ID: 0009_prescribing
Revises: 0008_pharmacy
Create Date: 2026-11-22 20:10:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import app.core.db  # noqa: F401


revision = '0009_prescribing'
down_revision = '0008_pharmacy'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
