"""Pharmacists at the same moment, in real parallel sessions on committed data (PostgreSQL when
TEST_DATABASE_URL points at it; SQLite's write lock runs them one after another): a batch never
goes below zero, the ledger always equals the shelf, and the loser is told why."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.core.errors import Conflict, DomainError
from app.core.security import SYSTEM
from app.domain.dispensary import ledger
from app.domain.dispensary.dispensing import dispense
from app.domain.dispensary.models import Dispensing, StockBatch, StockMovement
from app.domain.identity import services as identity
from app.domain.identity.models import User
from app.extensions import db
from tests import factories
from tests.conftest import PASSWORD, make_app, run_together


@pytest.fixture(scope="module")
def committed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = make_app(tmp_path_factory.mktemp("dispensing"), name="dispensing")
    yield app
    with app.app_context():
        db.engine.dispose()


def pharmacists(n: int) -> list[int]:
    ids = []
    for _ in range(n):
        user, _ = identity.create_user(db.session, SYSTEM, username=f"ph{next(factories._seq)}",
                                       full_name="Pharmacist", roles=["pharmacist"], ward_ids=[],
                                       password=PASSWORD)
        ids.append(user.id)
    return ids


def as_user(user_id: int, prescription_id: int, quantity: int, **kw: Any) -> Callable[[], str]:
    def work() -> str:
        user = db.session.get(User, user_id)
        assert user is not None
        return dispense(db.session, user, prescription_id, quantity, **kw).number
    return work


def shelf_and_ledger(batch_id: int) -> tuple[int, int, int]:
    quantity = db.session.scalar(select(StockBatch.quantity).where(StockBatch.id == batch_id))
    total = db.session.scalar(select(func.coalesce(func.sum(StockMovement.quantity), 0))
                              .where(StockMovement.batch_id == batch_id))
    supplied = db.session.scalar(select(func.coalesce(func.sum(Dispensing.quantity), 0))
                                 .join(StockMovement, StockMovement.dispensing_id == Dispensing.id)
                                 .where(StockMovement.batch_id == batch_id))
    return int(quantity or 0), int(total or 0), int(supplied or 0)


def test_two_pharmacists_taking_from_one_batch_never_go_below_zero(committed_app: Flask) -> None:
    with committed_app.app_context():
        d = factories.drug(db.session)
        b = factories.batch(db.session, d, 10)
        rxs = [factories.verified_prescription(db.session, factories.patient(db.session), d).id for _ in range(2)]
        users = pharmacists(2)
        batch_id = b.id
        db.session.commit()
        db.session.remove()

    numbers, errors = run_together(committed_app, [as_user(u, rx, 7) for u, rx in zip(users, rxs, strict=True)])

    assert len(numbers) == 1 and len(errors) == 1
    [error] = errors
    assert isinstance(error, DomainError) and error.field == "quantity"
    assert "3 tablet" in error.message  # the loser is told what is left
    with committed_app.app_context():
        assert shelf_and_ledger(batch_id) == (3, 3, 7)
        db.session.remove()


def test_a_crowd_at_one_batch_takes_exactly_what_is_there(committed_app: Flask) -> None:
    crowd = 8
    with committed_app.app_context():
        d = factories.drug(db.session)
        b = factories.batch(db.session, d, 10)
        rxs = [factories.verified_prescription(db.session, factories.patient(db.session), d).id for _ in range(crowd)]
        users = pharmacists(crowd)
        batch_id, drug_id = b.id, d.id
        db.session.commit()
        db.session.remove()

    numbers, errors = run_together(committed_app, [as_user(u, rx, 3) for u, rx in zip(users, rxs, strict=True)])

    assert len(numbers) == 3 and len(set(numbers)) == 3  # 3 x 3 of the 10; distinct numbers
    assert len(errors) == crowd - 3 and all(isinstance(e, DomainError) for e in errors)
    with committed_app.app_context():
        assert shelf_and_ledger(batch_id) == (1, 1, 9)
        assert ledger.on_hand(db.session, drug_id) == 1
        db.session.remove()


def test_a_double_click_from_two_benches_supplies_the_prescription_once(committed_app: Flask) -> None:
    with committed_app.app_context():
        d = factories.drug(db.session)
        b = factories.batch(db.session, d, 100)
        rx = factories.verified_prescription(db.session, factories.patient(db.session), d).id
        users = pharmacists(2)
        batch_id = b.id
        db.session.commit()
        db.session.remove()

    numbers, errors = run_together(committed_app, [as_user(u, rx, 21, expected_supplies=0) for u in users])

    assert len(numbers) == 1
    [error] = errors
    assert isinstance(error, Conflict) and "dispensed meanwhile" in error.message
    with committed_app.app_context():
        assert shelf_and_ledger(batch_id) == (79, 79, 21)
        db.session.remove()
