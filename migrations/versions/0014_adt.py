"""Wards: indexes for the census (today's admissions and discharges by time).

Revision ID: 0014_adt
Revises: 0013_wards
"""
from alembic import op

revision = "0014_adt"
down_revision = "0013_wards"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_encounter_started", "encounter", ["started_at"])
    op.create_index("ix_encounter_ended", "encounter", ["ended_at"])


def downgrade() -> None:
    op.drop_index("ix_encounter_ended", table_name="encounter")
    op.drop_index("ix_encounter_started", table_name="encounter")
