"""The daily stock check: one notification to the pharmacy summarising low stock and expiring
batches, once per hospital day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.core import clock
from app.core.security import SYSTEM
from app.domain.dispensary import reorder, stock
from app.domain.notifications.models import Notification
from app.jobs.runner import run_periodic
from app.jobs.schedule import BY_NAME
from tests import factories


def _alerts(session: Any, user_id: int) -> list[Notification]:
    return list(session.scalars(select(Notification).where(
        Notification.recipient_id == user_id, Notification.kind == reorder.STOCK_ALERT_KIND)))


def test_low_stock_and_expiring_batches_are_summarised_once_a_day(db_session: Any, make_user: Any) -> None:
    pharmacist_id, nurse_id = make_user("pharmacist").id, make_user("nurse").id
    with clock.freeze(datetime(2026, 11, 23, 6, 0, tzinfo=UTC)) as traveller:
        today = stock.today()
        main = stock.main_location(db_session)
        low = factories.drug(db_session, "Amlodipine 5 MG Oral Tablet")
        fine = factories.drug(db_session, "Metformin 500 MG Oral Tablet")
        factories.batch(db_session, low, 8, expiry=today + timedelta(days=400))
        factories.batch(db_session, low, 500, expiry=today - timedelta(days=3), batch_number="GONE")
        factories.batch(db_session, fine, 100, expiry=today + timedelta(days=30), batch_number="SOON")
        factories.batch(db_session, fine, 100, expiry=today + timedelta(days=91), batch_number="LATER")
        reorder.set_reorder_level(db_session, SYSTEM, low.id, main.id, 10, 100)
        reorder.set_reorder_level(db_session, SYSTEM, fine.id, main.id, 50, 100)
        db_session.flush()

        assert run_periodic("pharmacy-stock-check") == "ok"
        [alert] = _alerts(db_session, pharmacist_id)
        assert "1 below reorder level: Amlodipine 5 MG Oral Tablet (MAIN: 8 of 10)" in alert.text
        assert "1 batch(es) expire within 90 days" in alert.text and "SOON" in alert.text
        assert "1 expired batch(es) still in stock" in alert.text
        assert alert.priority == "high" and alert.link == reorder.STOCK_ALERT_LINK
        assert _alerts(db_session, nurse_id) == []

        traveller.advance(hours=6)
        assert run_periodic("pharmacy-stock-check") == "ok"
        assert len(_alerts(db_session, pharmacist_id)) == 1

        traveller.advance(days=1)
        assert run_periodic("pharmacy-stock-check") == "ok"
        assert len(_alerts(db_session, pharmacist_id)) == 2


def test_nothing_to_report_sends_nothing(db_session: Any, make_user: Any) -> None:
    pharmacist_id = make_user("pharmacist").id
    d = factories.drug(db_session)
    factories.batch(db_session, d, 100, expiry=stock.today() + timedelta(days=365))
    reorder.set_reorder_level(db_session, SYSTEM, d.id, stock.main_location(db_session).id, 100, 50)
    assert run_periodic("pharmacy-stock-check") == "ok"
    assert _alerts(db_session, pharmacist_id) == []


def test_the_check_is_scheduled_daily_in_the_morning() -> None:
    spec = BY_NAME["pharmacy-stock-check"]
    assert spec.daily_at is not None and spec.daily_at.hour == 6
