"""pharmacy printing: no schema change

Dispensing labels count their prints in dispensing.label_prints (0008). Prescription prints are
counted from the audit trail (print.prescription rows), so a verified prescription's row is never
written to for a print.

Revision ID: 0010_pharmacy_printing
Revises: 0009_prescribing
Create Date: 2026-11-22 20:10:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import app.core.db  # noqa: F401


revision = '0010_pharmacy_printing'
down_revision = '0009_prescribing'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
