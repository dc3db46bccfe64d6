"""The `alert.escalate` due row, delivered as the worker delivers it."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from app.core import clock, jobs
from app.core.jobs import HANDLERS, DueJob
from app.domain.observations import services as vitals
from tests.domain.observations.support import MEDIUM, notified, ward_with_patient


def test_the_handler_is_registered() -> None:
    assert "alert.escalate" in HANDLERS


def test_a_due_row_escalates_once_even_if_delivered_twice(app: Any, db_session: Any) -> None:
    w = ward_with_patient(db_session)
    with clock.freeze(clock.now()) as t:
        vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM)
        alert = vitals.open_news2_alert(db_session, w.encounter.id)
        assert alert is not None
        row = next(r for r in db_session.scalars(select(DueJob).where(DueJob.kind == "alert.escalate"))
                   if json.loads(r.payload)["alert_id"] == alert.id)
        assert json.loads(row.payload) == {"alert_id": alert.id, "chain": "news2_medium", "level": 1}
        t.advance(minutes=app.config["ALERT_ACK_MINUTES"])
        assert jobs.deliver(db_session, row.id, inline=True) == "done"
        assert jobs.deliver(db_session, row.id, inline=True) == "skipped"
        db_session.refresh(alert)
        assert alert.level == 1
        # Nobody on the rota: the escalation team's step reaches the ward's doctors (the
        # attending), never a doctor with nothing to do with the patient.
        assert notified(db_session, w.other_doctor.id) == []
        assert len(notified(db_session, w.doctor.id)) == 2
