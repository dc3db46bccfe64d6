"""Pharmacists at the same moment, in real parallel sessions on committed data (PostgreSQL with
TEST_DATABASE_URL; SQLite's write lock runs them one after another): of two transfers of the
last units one goes through and the batch never goes below zero; two deliveries of a new batch
make one batch; two people closing one count, or checking one controlled drug's cupboard, enter
each difference once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.core.errors import Conflict
from app.core.security import SYSTEM
from app.domain.dispensary import controlled, counts, ledger, stock, transfers
from app.domain.dispensary.inventory_models import ControlledDrugCheck
from app.domain.dispensary.models import ControlledDrugEntry, StockBatch, StockMovement
from app.domain.identity import services as identity
from app.domain.identity.models import User
from app.extensions import db
from tests import factories
from tests.conftest import PASSWORD, make_app, run_together


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


def _pharmacist_and_witness() -> tuple[int, int]:
    ids = []
    for role in ("pharmacist", "nurse"):
        user, _ = identity.create_user(db.session, SYSTEM, username=f"{role}{next(factories._seq)}",
                                       full_name=role.title(), roles=[role], ward_ids=[],
                                       password=PASSWORD)
        ids.append(user.id)
    return ids[0], ids[1]


def _closing(user_id: int, count_id: int) -> Callable[[], int]:
    def close() -> int:
        user = db.session.get(User, user_id)
        assert user is not None
        return counts.close_count(db.session, user, count_id, reason="three missing").id
    return close


def _checking(user_id: int, witness_id: int, drug_id: int, location_id: int,
              counted: dict[int, int]) -> Callable[[], tuple[int, int]]:
    def check() -> tuple[int, int]:
        user, witness = db.session.get(User, user_id), db.session.get(User, witness_id)
        assert user is not None
        done = controlled.check_register(db.session, user, drug_id=drug_id,
                                         location_id=location_id, counted=counted,
                                         witness=witness, reason="one tablet missing")
        return done.expected, done.counted
    return check


def test_two_pharmacists_closing_one_count_at_once_post_each_variance_once(
        committed_app: Flask) -> None:
    for attempt in range(3):
        with committed_app.app_context():
            pharmacist_id, _ = _pharmacist_and_witness()
            location = stock.ward_location(db.session, factories.ward(db.session).id)
            d = factories.drug(db.session, f"Count Race {attempt} 5 MG Oral Tablet")
            b = factories.batch(db.session, d, 10, location=location)
            pharmacist = db.session.get(User, pharmacist_id)
            count = counts.open_count(db.session, pharmacist, location.id)
            counts.record_counted(db.session, pharmacist, count.id,
                                  {line.id: 7 for line in count.lines})
            ids = (count.id, b.id)
            db.session.commit()
            db.session.remove()
        count_id, batch_id = ids
        done, errors = run_together(committed_app, [_closing(pharmacist_id, count_id)] * 2)
        assert done == [count_id], errors
        assert len(errors) == 1 and isinstance(errors[0], Conflict), errors
        assert errors[0].status_code == 409
        with committed_app.app_context():
            left = db.session.scalar(select(StockBatch.quantity).where(StockBatch.id == batch_id))
            posted = db.session.scalars(select(StockMovement.quantity).where(
                StockMovement.batch_id == batch_id, StockMovement.kind == "count")).all()
            db.session.remove()
        assert (left, posted) == (7, [-3])


def test_two_witnessed_register_checks_at_once_enter_the_difference_once(
        committed_app: Flask) -> None:
    for attempt in range(3):
        with committed_app.app_context():
            pharmacist_id, witness_id = _pharmacist_and_witness()
            d = factories.drug(db.session, f"Check Race {attempt} 10 MG Oral Tablet", controlled=True)
            b = factories.batch(db.session, d, 0)
            ledger.post(db.session, db.session.get(User, pharmacist_id), b.id, 20, "receipt",
                        witness=db.session.get(User, witness_id))
            ids = (d.id, b.id, b.location_id)
            db.session.commit()
            db.session.remove()
        drug_id, batch_id, location_id = ids
        check = _checking(pharmacist_id, witness_id, drug_id, location_id, {batch_id: 19})
        results, errors = run_together(committed_app, [check, check])
        assert errors == []
        # The second check counts a cupboard the first already corrected: nothing to enter.
        assert sorted(results) == [(19, 19), (20, 19)]
        with committed_app.app_context():
            left = db.session.scalar(select(StockBatch.quantity).where(StockBatch.id == batch_id))
            entries = db.session.scalars(select(ControlledDrugEntry.quantity).where(
                ControlledDrugEntry.drug_id == drug_id, ControlledDrugEntry.kind == "count")).all()
            checks = db.session.scalar(select(func.count()).select_from(ControlledDrugCheck)
                                       .where(ControlledDrugCheck.drug_id == drug_id))
            db.session.remove()
        assert (left, entries, checks) == (19, [-1], 2)
