"""Wards: vital signs, NEWS2 and escalation. An alert remembers its escalation chain, the page
it is about and everyone it has reached (for "my alerts").

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


def downgrade() -> None:
    with op.batch_alter_table("clinical_alert", schema=None) as batch_op:
        batch_op.drop_column("recipient_ids")
        batch_op.drop_column("link")
        batch_op.drop_column("chain")
