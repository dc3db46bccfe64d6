"""`flask demo seed` leaves every department's queue alive for the waiting-room screens."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.core import clock
from app.demo import seed
from app.domain.frontdesk.models import QueueTicket
from tests.domain.frontdesk import support
from tests.domain.frontdesk.support import MONDAY_9AM


def test_the_seed_fills_todays_queues_once(db_session: Any) -> None:
    with clock.freeze(MONDAY_9AM):
        support.clinic(db_session, department="cardiology")
        support.clinic(db_session, department="ophthalmology")
        seed(db_session, patients_wanted=60)
        seed(db_session, patients_wanted=60)
        tickets = list(db_session.scalars(select(QueueTicket)))
    by_dept: dict[str, list[str]] = {}
    for t in tickets:
        by_dept.setdefault(t.department, []).append(t.status)
    assert {"cardiology", "ophthalmology"} <= set(by_dept)  # and the scheduling seed's clinics
    for statuses in by_dept.values():
        assert sorted(statuses) == ["called", "in-consultation", "waiting", "waiting", "waiting"]
    assert len({t.patient_id for t in tickets}) == len(tickets)
