"""Wards: the medication record's reminder markers (each dose reminds once, alerts once), and
one amendment per nursing note version (two nurses amending the same note at once cannot fork it).

Revision ID: 0016_mar
Revises: 0015_vitals
"""
import sqlalchemy as sa
from alembic import op

from app.core.db import UTCDateTime

revision = "0016_mar"
down_revision = "0015_vitals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scheduled_dose") as batch:
        batch.add_column(sa.Column("reminded_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("overdue_alerted_at", UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("nursing_note") as batch:
        batch.drop_index("ix_nursing_note_replaces_id")
        batch.create_index("ix_nursing_note_replaces_id", ["replaces_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("nursing_note") as batch:
        batch.drop_index("ix_nursing_note_replaces_id")
        batch.create_index("ix_nursing_note_replaces_id", ["replaces_id"], unique=False)
    with op.batch_alter_table("scheduled_dose") as batch:
        batch.drop_column("overdue_alerted_at")
        batch.drop_column("reminded_at")
