"""Adjustments: a signed quantity with a reason, audited with before and after, never below zero."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from app.core.audit import AuditEvent
from app.core.errors import DomainError
from app.domain.dispensary import adjustments, ledger, stock
from tests import factories
from tests.domain.dispensary.inventory_support import ledger_sum, movements


def test_breakage_takes_stock_off_with_its_reason_and_an_audit_of_before_and_after(
        db_session: Any, make_user: Any) -> None:
    pharmacist = make_user("pharmacist")
    b = factories.batch(db_session, factories.drug(db_session), 40)
    movement = adjustments.adjust_stock(db_session, pharmacist, b.id, -3, "breakage",
                                        "bottle dropped")
    assert b.quantity == 37 and ledger_sum(db_session, b.id) == 37
    assert movement.kind == "adjustment" and movement.reason == "Breakage: bottle dropped"
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "stock.adjusted"))
    assert json.loads(event.before)["quantity"] == 40 and json.loads(event.after)["quantity"] == 37
    assert event.reason == "Breakage: bottle dropped"


def test_a_count_correction_can_add_stock(db_session: Any, make_user: Any) -> None:
    b = factories.batch(db_session, factories.drug(db_session), 5)
    adjustments.adjust_stock(db_session, make_user("pharmacist"), b.id, 2, "count_correction")
    assert b.quantity == 7 and movements(db_session, b.id)[-1] == ("adjustment", 2)


@pytest.mark.parametrize(("quantity", "reason", "note", "field"), [
    (0, "breakage", "", "quantity"),
    (-1, "lost", "", "reason"),
    (-1, "other", "  ", "note"),
    (stock.MAX_STOCK_QUANTITY + 1, "count_correction", "", "quantity"),
    (3_000_000_000, "count_correction", "", "quantity"),  # beyond the database's integer
])
def test_bad_adjustments_are_refused_beside_the_field(
        db_session: Any, make_user: Any, quantity: int, reason: str, note: str, field: str) -> None:
    b = factories.batch(db_session, factories.drug(db_session), 5)
    with pytest.raises(DomainError) as refused:
        adjustments.adjust_stock(db_session, make_user("pharmacist"), b.id, quantity, reason, note)
    assert refused.value.field == field
    assert b.quantity == 5


def test_an_adjustment_never_takes_a_batch_below_zero(db_session: Any, make_user: Any) -> None:
    b = factories.batch(db_session, factories.drug(db_session), 5)
    with pytest.raises(ledger.StockShort):
        adjustments.adjust_stock(db_session, make_user("pharmacist"), b.id, -6, "expired")
    assert b.quantity == 5 and movements(db_session, b.id) == [("receipt", 5)]


def test_a_controlled_adjustment_needs_a_witness(db_session: Any, make_user: Any) -> None:
    pharmacist, witness = make_user("pharmacist"), make_user("pharmacist")
    d = factories.drug(db_session, "Diazepam 5 MG Oral Tablet", generic_name="diazepam", controlled=True)
    b = factories.batch(db_session, d, 0)
    ledger.post(db_session, pharmacist, b.id, 10, "receipt", witness=witness)
    with pytest.raises(DomainError) as refused:
        adjustments.adjust_stock(db_session, pharmacist, b.id, -1, "destroyed", "spoilt")
    assert refused.value.field == "witness"
    adjustments.adjust_stock(db_session, pharmacist, b.id, -1, "destroyed", "spoilt", witness=witness)
    assert b.quantity == 9
