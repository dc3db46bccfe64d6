"""Wards: schema changes for the shift handover (none yet).

Revision ID: 0017_handover
Revises: 0016_mar
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = "0017_handover"
down_revision = "0016_mar"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
