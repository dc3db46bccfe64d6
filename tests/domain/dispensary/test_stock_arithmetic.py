"""Whatever happens to a shelf, the ledger adds up to it and nothing goes below zero."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.core.security import SYSTEM
from app.domain.dispensary import ledger
from app.domain.dispensary.models import StockBatch, StockMovement
from tests import factories


@pytest.fixture()
def make_pharmacist(make_user: Any) -> Any:
    return make_user("pharmacist")


operations = st.lists(
    st.tuples(st.sampled_from(["receipt", "dispense", "return", "adjustment"]),
              st.integers(0, 2), st.integers(1, 60)),
    min_size=1, max_size=30)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_ledger_always_equals_the_shelf(db_session: Any, ops: list[tuple[str, int, int]]) -> None:
    savepoint = db_session.begin_nested()
    try:
        d = factories.drug(db_session)
        batches = [factories.batch(db_session, d, 0) for _ in range(3)]
        expected = [0, 0, 0]
        for kind, which, n in ops:
            sign = -1 if kind in ("dispense", "adjustment") else 1
            b = batches[which]
            try:
                with db_session.begin_nested():
                    ledger.post(db_session, SYSTEM, b.id, sign * n, kind, reason="test")
            except ledger.StockShort:
                assert sign < 0 and expected[which] < n  # refused only when the shelf is short
                continue
            expected[which] += sign * n
            assert expected[which] >= 0
        for b, want in zip(batches, expected, strict=True):
            db_session.refresh(b)
            total = db_session.scalar(select(func.coalesce(func.sum(StockMovement.quantity), 0))
                                      .where(StockMovement.batch_id == b.id))
            last = db_session.scalar(select(StockMovement.balance_after).where(StockMovement.batch_id == b.id)
                                     .order_by(StockMovement.id.desc()).limit(1))
            assert b.quantity == total == want >= 0
            assert last in (None, want)
        assert ledger.on_hand(db_session, d.id) == sum(expected)
        assert db_session.scalar(select(func.min(StockBatch.quantity)).where(StockBatch.drug_id == d.id)) >= 0
    finally:
        savepoint.rollback()


services_ops = st.lists(
    st.tuples(st.sampled_from(["receive", "dispense", "return"]), st.integers(0, 3), st.integers(1, 40)),
    min_size=1, max_size=15)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=services_ops)
def test_dispensing_and_returns_keep_ledger_shelf_and_supplies_in_step(
        db_session: Any, make_pharmacist: Any, ops: list[tuple[str, int, int]]) -> None:
    from datetime import timedelta

    from app.core.errors import DomainError
    from app.domain.dispensary.dispensing import dispense, return_to_stock
    from app.domain.dispensary.models import Dispensing
    from app.domain.dispensary.stock import today

    pharmacist = make_pharmacist
    savepoint = db_session.begin_nested()
    try:
        d = factories.drug(db_session)
        # three shelves' worth: one expired (never picked), two usable
        batches = [factories.batch(db_session, d, 20, expiry=today() + timedelta(days=days))
                   for days in (-1, 30, 300)]
        rx = factories.verified_prescription(db_session, factories.patient(db_session), d)
        supplied: list[Any] = []
        for op, which, n in ops:
            try:
                with db_session.begin_nested():
                    if op == "receive":
                        ledger.post(db_session, SYSTEM, batches[which % 3].id, n, "receipt")
                    elif op == "dispense":
                        supplied.append(dispense(db_session, pharmacist, rx.id, n, allow_partial=True))
                    elif supplied:
                        return_to_stock(db_session, pharmacist, supplied[which % len(supplied)].id, n,
                                        reason="came back")
            except DomainError:
                pass  # a refusal (nothing usable, too much back) writes nothing: checked below
        for b in batches:
            db_session.refresh(b)
            total = db_session.scalar(select(func.coalesce(func.sum(StockMovement.quantity), 0))
                                      .where(StockMovement.batch_id == b.id))
            assert b.quantity == total >= 0
        # the expired batch only ever received: nothing was dispensed from it
        assert db_session.scalar(select(func.count(StockMovement.id)).where(
            StockMovement.batch_id == batches[0].id, StockMovement.kind == "dispense")) == 0
        out = db_session.scalar(select(func.coalesce(func.sum(StockMovement.quantity), 0)).where(
            StockMovement.drug_id == d.id, StockMovement.kind.in_(["dispense", "return"])))
        net = db_session.scalar(select(func.coalesce(
            func.sum(Dispensing.quantity - Dispensing.quantity_returned), 0)).where(Dispensing.drug_id == d.id))
        assert -out == net >= 0
    finally:
        savepoint.rollback()
