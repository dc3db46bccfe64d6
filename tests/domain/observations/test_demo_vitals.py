"""The demo seed's observations: days of sets, one patient alerting, today's rota."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app.core import clock
from app.demo import seed
from app.domain.escalation import services as escalation
from app.domain.escalation.models import Alert
from app.domain.identity.models import User
from app.domain.observations.models import VitalSigns


def test_demo_has_charted_patients_an_open_news2_alert_and_a_rota(db_session: Any) -> None:
    seed(db_session, patients_wanted=40)
    sets = db_session.scalar(select(func.count()).select_from(VitalSigns)) or 0
    assert sets >= 10
    alerts = list(db_session.scalars(select(Alert).where(Alert.kind == "news2", Alert.status == "open")))
    assert len(alerts) == 1
    doctor = db_session.scalar(select(User).where(User.username == "doctor"))
    charge = db_session.scalar(select(User).where(User.username == "charge_nurse"))
    assert {doctor.id, charge.id} <= set(alerts[0].recipient_ids)
    assert escalation.on_call(db_session, "medical", clock.now()) == [doctor.id]
    seed(db_session, patients_wanted=40)  # again: nothing more
    assert db_session.scalar(select(func.count()).select_from(VitalSigns)) == sets
    assert len(list(db_session.scalars(select(Alert).where(Alert.kind == "news2")))) == 1
