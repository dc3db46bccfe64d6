"""Wards: schema changes for admissions, transfers, discharges and the bed board (none yet).

Revision ID: 0014_adt
Revises: 0013_wards
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = "0014_adt"
down_revision = "0013_wards"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
