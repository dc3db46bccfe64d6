"""The scheduling migration builds exactly the tables the models describe, on either database."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.core.db import Base
from app.extensions import db

TABLES = {
    "clinic", "resource", "appointment_type", "appointment", "booking",
    "schedule_template", "schedule_template_type", "schedule_closure", "hospital_holiday",
}


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
        checks = {t: {c["name"] for c in inspect(conn).get_check_constraints(t)}
                  for t in ("schedule_template", "schedule_closure")}
    assert differences == []
    assert checks["schedule_template"] == {"ck_schedule_template_weekday", "ck_schedule_template_session_order"}
    assert checks["schedule_closure"] == {"ck_schedule_closure_one_scope", "ck_schedule_closure_span_order"}
