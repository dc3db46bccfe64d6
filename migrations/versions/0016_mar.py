"""Wards: schema changes for the medication administration record and nursing notes (none yet).

Revision ID: 0016_mar
Revises: 0015_vitals
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = "0016_mar"
down_revision = "0015_vitals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
