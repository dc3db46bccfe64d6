"""dispensing (helper C)

Revision ID: 0011_dispensing
Revises: 0010_pharmacy_printing
Create Date: 2026-11-22 20:10:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import app.core.db  # noqa: F401


revision = '0011_dispensing'
down_revision = '0010_pharmacy_printing'
branch_labels = None
depends_on = None


# Dispensing numbers start at 5000000 (then a Luhn check digit). The counter row exists from
# the start so the first two dispensings at the same moment queue on its row lock instead of
# both inserting it.
_counter = sa.table('identifier_counter', sa.column('name', sa.String),
                    sa.column('next_value', sa.BigInteger))


def upgrade():
    op.bulk_insert(_counter, [{'name': 'dispensing', 'next_value': 5000000}])


def downgrade():
    op.execute(_counter.delete().where(_counter.c.name == 'dispensing'))
