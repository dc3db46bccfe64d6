"""Migration 0005 builds exactly the tables the registry models describe, on either database."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, inspect, text
from sqlalchemy.exc import IntegrityError

from app.core import clock
from app.core.db import Base
from app.domain.registry.models import PatientMerge
from app.extensions import db
from tests import factories

TABLES = {"duplicate_candidate", "patient_merge"}


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
        checks = {c["name"] for c in inspect(conn).get_check_constraints("duplicate_candidate")}
        indexes = {i["name"]: i for i in inspect(conn).get_indexes("patient_merge")}
    assert differences == []
    assert checks == {"ck_duplicate_candidate_ordered_pair"}
    assert indexes["uq_patient_merge_active_retired"]["unique"]


def test_a_record_is_retired_by_one_active_merge_at_most(db_session: Any) -> None:
    """The database's own guard, under the row locks: two active merges of one retired record
    cannot both be stored; an undone one can be followed by another."""
    a, b, c = (factories.patient(db_session, f"P{i}", "Q") for i in range(3))
    row = {"status": "active", "reason": "r", "field_choices": {}, "survivor_before": {},
           "retired_before": {}, "survivor_after": {}, "moved_rows": [], "merged_by_label": "x",
           "merged_at": clock.now()}
    db_session.execute(insert(PatientMerge).values(survivor_id=a.id, retired_id=b.id, **row))
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.execute(insert(PatientMerge).values(survivor_id=c.id, retired_id=b.id, **row))
    db_session.execute(text("UPDATE patient_merge SET status = 'undone'"))
    db_session.execute(insert(PatientMerge).values(survivor_id=c.id, retired_id=b.id, **row))
