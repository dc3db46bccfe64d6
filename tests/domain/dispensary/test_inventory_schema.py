"""Migrations 0008 (pharmacy) and 0012 (inventory) build exactly the tables the models describe,
and the database itself refuses a witness countersigning their own count or check."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.core import clock
from app.core.db import Base
from app.domain.dispensary import stock
from app.domain.dispensary.inventory_models import ControlledDrugCheck, StockCount
from app.extensions import db
from tests import factories

PHARMACY_TABLES = {"drug", "stock_location", "stock_batch", "prescription", "prescription_version",
                   "safety_override", "dispensing", "dispensing_line", "stock_movement",
                   "controlled_drug_entry"}  # 0008 (later migrations may alter them)
INVENTORY_TABLES = {"goods_receipt", "goods_receipt_line", "stock_transfer", "stock_transfer_line",
                    "reorder_level", "stock_count", "stock_count_line", "controlled_drug_check",
                    "stock_alert_run"}  # 0012
TABLES = PHARMACY_TABLES | INVENTORY_TABLES


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


def test_the_migrations_build_the_models_check_constraints(app: Any) -> None:
    # Alembic's comparison does not look at CHECK constraints: compare their names here.
    with app.app_context(), db.engine.connect() as conn:
        inspector = sa.inspect(conn)
        built = {t: {c["name"] for c in inspector.get_check_constraints(t)} for t in TABLES}
    described = {t: {c.name for c in Base.metadata.tables[t].constraints
                     if isinstance(c, sa.CheckConstraint)} for t in TABLES}
    assert built == described
    assert "ck_stock_count_witness_is_second_person" in built["stock_count"]
    assert "ck_controlled_drug_check_witness_is_second_person" in built["controlled_drug_check"]


@pytest.mark.parametrize("table", ["controlled_drug_check", "stock_count"])
def test_the_database_refuses_a_witness_who_is_the_actor(db_session: Any, make_user: Any,
                                                         table: str) -> None:
    pharmacist, other = make_user("pharmacist"), make_user("pharmacist")
    main = stock.main_location(db_session)

    def row(witness_id: int) -> Any:
        if table == "stock_count":
            return StockCount(location_id=main.id, status="closed", opened_by_label="x",
                              closed_by_id=pharmacist.id, closed_by_label="x",
                              closed_at=clock.now(), witness_id=witness_id)
        d = factories.drug(db_session, controlled=True)
        return ControlledDrugCheck(drug_id=d.id, location_id=main.id, expected=1, counted=1,
                                   actor_id=pharmacist.id, witness_id=witness_id)

    with db_session.begin_nested():
        db_session.add(row(other.id))
    with pytest.raises(sa.exc.IntegrityError), db_session.begin_nested():
        db_session.add(row(pharmacist.id))
        db_session.flush()
