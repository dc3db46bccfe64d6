"""registry: search columns and indexes, record versions (helper: search & registration)

Revision ID: 0004_registry_search
Revises: 0003_printing
Create Date: 2026-11-22 17:10:00
"""
from alembic import op
import sqlalchemy as sa
import app.core.db


revision = '0004_registry_search'
down_revision = '0003_printing'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
