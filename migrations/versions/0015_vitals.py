"""Wards: schema changes for vital signs, NEWS2 and escalation (none yet).

Revision ID: 0015_vitals
Revises: 0014_adt
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = "0015_vitals"
down_revision = "0014_adt"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
