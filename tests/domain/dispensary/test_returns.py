"""Medicine coming back to stock: into the batches it left, never more than went out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.core import events
from app.core.errors import DomainError
from app.domain.dispensary import ledger
from app.domain.dispensary.dispensing import dispense, return_to_stock
from app.domain.dispensary.models import StockMovement
from app.domain.dispensary.stock import today
from app.domain.identity.models import User
from tests import factories


@pytest.fixture()
def pharmacist(make_user: Callable[..., User]) -> User:
    return make_user("pharmacist")


def supplied(db_session: Any, pharmacist: User) -> tuple[Any, Any, Any, Any]:
    d = factories.drug(db_session)
    soon = factories.batch(db_session, d, 10, expiry=today() + timedelta(days=10), batch_number="SOON")
    late = factories.batch(db_session, d, 50, expiry=today() + timedelta(days=300), batch_number="LATE")
    rx = factories.verified_prescription(db_session, factories.patient(db_session), d, quantity=21)
    return dispense(db_session, pharmacist, rx.id, 21), soon, late, d


def test_a_return_goes_back_into_the_longest_dated_batch_first(db_session, pharmacist) -> None:
    result, soon, late, d = supplied(db_session, pharmacist)  # SOON 10, LATE 11
    received: list[dict[str, Any]] = []
    with events.dispense_returned.connected_to(lambda sender, **kw: received.append(kw)):
        moves = return_to_stock(db_session, pharmacist, result.id, 14, reason="Discharged early")
    assert (soon.quantity, late.quantity) == (3, 50)
    assert [(m.batch_id, m.quantity, m.kind) for m in moves] == [(late.id, 11, "return"), (soon.id, 3, "return")]
    assert result.quantity_returned == 14 and result.status == "dispensed"
    assert received == [dict(dispensing_id=result.id, return_id=moves[0].id, patient_id=result.patient_id,
                             drug_id=d.id, quantity=14)]
    assert ledger.on_hand(db_session, d.id) == 60 - 21 + 14


def test_never_more_than_was_supplied_less_what_came_back(db_session, pharmacist) -> None:
    result, soon, late, _ = supplied(db_session, pharmacist)
    return_to_stock(db_session, pharmacist, result.id, 20, reason="Not needed")
    with pytest.raises(DomainError) as exc:
        return_to_stock(db_session, pharmacist, result.id, 2, reason="Not needed")
    assert exc.value.field == "quantity" and "Only 1 tablet can come back" in exc.value.message
    return_to_stock(db_session, pharmacist, result.id, 1, reason="Not needed")
    assert result.status == "returned" and (soon.quantity, late.quantity) == (10, 50)


def test_per_batch_returns_are_bounded_by_each_line(db_session, pharmacist) -> None:
    result, soon, late, _ = supplied(db_session, pharmacist)
    soon_line = next(line for line in result.lines if line.batch_id == soon.id)
    with pytest.raises(DomainError, match="At most 10 tablet of batch SOON"):
        return_to_stock(db_session, pharmacist, result.id, lines={soon_line.id: 11}, reason="x")
    return_to_stock(db_session, pharmacist, result.id, lines={soon_line.id: 4}, reason="Spare")
    assert (soon.quantity, late.quantity, soon_line.quantity_returned) == (4, 39, 4)


def test_a_return_needs_a_reason_and_a_quantity(db_session, pharmacist) -> None:
    result, *_ = supplied(db_session, pharmacist)
    with pytest.raises(DomainError) as exc:
        return_to_stock(db_session, pharmacist, result.id, 3, reason="  ")
    assert exc.value.field == "reason"
    with pytest.raises(DomainError) as exc:
        return_to_stock(db_session, pharmacist, result.id, 0, reason="Spare")
    assert exc.value.field == "quantity"
    assert db_session.scalars(select(StockMovement).where(StockMovement.kind == "return")).all() == []


def test_stock_returned_to_an_expired_batch_is_kept_but_never_picked(db_session, pharmacist) -> None:
    from app.core import clock

    result, soon, late, d = supplied(db_session, pharmacist)
    with clock.freeze(clock.now() + timedelta(days=30)):  # SOON has expired by now
        return_to_stock(db_session, pharmacist, result.id, 21, reason="Patient died")
        assert soon.quantity == 10
        rx = factories.verified_prescription(db_session, factories.patient(db_session), d)
        again = dispense(db_session, pharmacist, rx.id, 5)
    assert [line.batch_id for line in again.lines] == [late.id]
