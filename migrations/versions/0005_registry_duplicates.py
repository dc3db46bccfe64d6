"""registry: duplicate candidates, merges (helper: duplicates & merge)

Revision ID: 0005_registry_duplicates
Revises: 0004_registry_search
Create Date: 2026-11-22 17:10:00
"""
from alembic import op
import sqlalchemy as sa
import app.core.db


revision = '0005_registry_duplicates'
down_revision = '0004_registry_search'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
