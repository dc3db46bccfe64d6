"""Two pharmacists sending the last units of one batch to wards at the same moment, in real
parallel sessions (PostgreSQL with TEST_DATABASE_URL; SQLite serialises them): one transfer goes through, the other is refused, and the batch
never goes below zero."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.core.security import SYSTEM
from app.domain.dispensary import ledger, stock, transfers
from app.domain.dispensary.models import StockBatch, StockMovement
from app.extensions import db
from tests import factories
from tests.conftest import make_app, run_together


@pytest.fixture(scope="module")
def committed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = make_app(tmp_path_factory.mktemp("inventory"), name="inventory")
    yield app
    with app.app_context():
        db.engine.dispose()


def test_two_transfers_racing_for_the_last_units_never_go_negative(committed_app: Flask) -> None:
    with committed_app.app_context():
        wards = [factories.ward(db.session, name=f"Race {n}") for n in range(2)]
        d = factories.drug(db.session, "Race Drug 10 MG Oral Tablet")
        b = factories.batch(db.session, d, 10, expiry=stock.today() + timedelta(days=60))
        ids = (d.id, b.id, [w.id for w in wards])
        db.session.commit()
        db.session.remove()
    drug_id, batch_id, ward_ids = ids

    def send(ward_id: int) -> Callable[[], str]:
        return lambda: transfers.transfer_to_ward(db.session, SYSTEM, drug_id=drug_id,
                                                  ward_id=ward_id, quantity=7).number

    for _ in range(3):
        _, errors = run_together(committed_app, [send(w) for w in ward_ids])
        assert all(isinstance(e, ledger.StockShort) for e in errors), errors
        with committed_app.app_context():
            left = db.session.scalar(select(StockBatch.quantity).where(StockBatch.id == batch_id))
            total = db.session.scalar(select(func.sum(StockMovement.quantity))
                                      .where(StockMovement.batch_id == batch_id))
            on_wards = db.session.scalar(select(func.coalesce(func.sum(StockBatch.quantity), 0))
                                         .where(StockBatch.drug_id == drug_id,
                                                StockBatch.location_id != stock.main_location(db.session).id))
            db.session.remove()
        assert left >= 0 and left == total
        assert left + on_wards == 10
    assert left == 3 and on_wards == 7


def test_two_deliveries_of_a_new_batch_at_once_make_one_batch(committed_app: Flask) -> None:
    from decimal import Decimal

    from app.domain.dispensary import receiving
    from app.domain.dispensary.receiving import ReceiptLine

    with committed_app.app_context():
        d = factories.drug(db.session, "Race Drug 20 MG Oral Tablet")
        drug_id, expiry = d.id, stock.today() + timedelta(days=90)
        db.session.commit()
        db.session.remove()

    def deliver(ref: str) -> Callable[[], str]:
        return lambda: receiving.receive_goods(
            db.session, SYSTEM, supplier="S", delivery_reference=ref,
            lines=[ReceiptLine(drug_id=drug_id, batch_number="SAME", expiry=expiry, quantity=5,
                               unit_cost=Decimal("1"))]).number

    numbers, errors = run_together(committed_app, [deliver("A"), deliver("B"), deliver("C")])
    assert errors == [] and len(set(numbers)) == 3
    with committed_app.app_context():
        [quantity] = db.session.scalars(select(StockBatch.quantity).where(StockBatch.drug_id == drug_id)).all()
        db.session.remove()
    assert quantity == 15
