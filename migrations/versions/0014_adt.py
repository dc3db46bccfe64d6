"""Wards: indexes for the census (today's admissions and discharges by time), and what a
cancelled admission, transfer or discharge puts back (on the location period).

Revision ID: 0014_adt
Revises: 0013_wards
"""
import sqlalchemy as sa
from alembic import op

revision = "0014_adt"
down_revision = "0013_wards"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_encounter_started", "encounter", ["started_at"])
    op.create_index("ix_encounter_ended", "encounter", ["ended_at"])
    with op.batch_alter_table("encounter_location", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reservation_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("nurse_before_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("ordered_at_discharge", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.create_foreign_key("fk_encounter_location_reservation_id_bed_reservation",
                                    "bed_reservation", ["reservation_id"], ["id"])
        batch_op.create_foreign_key("fk_encounter_location_nurse_before_id_user_account",
                                    "user_account", ["nurse_before_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("encounter_location", schema=None) as batch_op:
        batch_op.drop_constraint("fk_encounter_location_nurse_before_id_user_account", type_="foreignkey")
        batch_op.drop_constraint("fk_encounter_location_reservation_id_bed_reservation", type_="foreignkey")
        batch_op.drop_column("ordered_at_discharge")
        batch_op.drop_column("nurse_before_id")
        batch_op.drop_column("reservation_id")
    op.drop_index("ix_encounter_ended", table_name="encounter")
    op.drop_index("ix_encounter_started", table_name="encounter")
