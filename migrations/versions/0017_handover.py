"""Wards: at most one open handover session per ward, enforced by the database; and the facts
snapshots a refresh replaced (handover_entry.facts_history).

Revision ID: 0017_handover
Revises: 0016_mar
"""
import sqlalchemy as sa
from alembic import op

revision = "0017_handover"
down_revision = "0016_mar"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Two nurses pressing "Start handover" at once must end up in the same session.
    with op.batch_alter_table("handover_session", schema=None) as batch_op:
        batch_op.create_index("uq_handover_session_ward_open", ["ward_id"], unique=True,
                              postgresql_where=sa.text("status = 'open'"),
                              sqlite_where=sa.text("status = 'open'"))
    with op.batch_alter_table("handover_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("facts_history", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("handover_entry", schema=None) as batch_op:
        batch_op.drop_column("facts_history")
    with op.batch_alter_table("handover_session", schema=None) as batch_op:
        batch_op.drop_index("uq_handover_session_ward_open",
                            postgresql_where=sa.text("status = 'open'"),
                            sqlite_where=sa.text("status = 'open'"))
