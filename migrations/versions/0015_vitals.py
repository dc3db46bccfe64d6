"""Wards: vital signs, NEWS2 and escalation. An alert remembers its escalation chain, the page
it is about and everyone it has reached (for "my alerts"). A shift taken off the on-call rota
is ended and kept (who was on call stays answerable), with when, by whom and why.

Revision ID: 0015_vitals
Revises: 0014_adt
"""
import sqlalchemy as sa
from alembic import op

revision = "0015_vitals"
down_revision = "0014_adt"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clinical_alert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain", sa.String(length=30), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("link", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("recipient_ids", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("on_call_shift", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("cancelled_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("cancel_reason", sa.Text(), nullable=True))
        batch_op.create_foreign_key("fk_on_call_shift_cancelled_by_id_user_account", "user_account",
                                    ["cancelled_by_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("on_call_shift", schema=None) as batch_op:
        batch_op.drop_constraint("fk_on_call_shift_cancelled_by_id_user_account", type_="foreignkey")
        batch_op.drop_column("cancel_reason")
        batch_op.drop_column("cancelled_by_id")
        batch_op.drop_column("cancelled_at")
    with op.batch_alter_table("clinical_alert", schema=None) as batch_op:
        batch_op.drop_column("recipient_ids")
        batch_op.drop_column("link")
        batch_op.drop_column("chain")
