"""Migration 0012 builds exactly the inventory tables the models describe."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.core.db import Base
from app.extensions import db

TABLES = {"goods_receipt", "goods_receipt_line", "stock_transfer", "stock_transfer_line",
          "reorder_level", "stock_count", "stock_count_line", "controlled_drug_check",
          "stock_alert_run"}


def _ours(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
    table = obj if kind == "table" else getattr(obj, "table", None)
    return table is None or table.name in TABLES


def test_migration_matches_the_models(app: Any) -> None:
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "compare_type": True,
            "include_name": lambda name, kind, parent: kind != "table" or name in TABLES,
            "include_object": _ours,
        })
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
