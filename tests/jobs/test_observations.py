"""The periodic overdue-observations sweep, as the scheduler runs it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.core import clock
from app.domain.escalation.models import Alert
from app.domain.observations import services as vitals
from app.jobs.observations import raise_overdue_observations
from app.jobs.schedule import BY_NAME
from tests.domain.observations.support import MEDIUM, ward_with_patient


def test_the_sweep_is_scheduled_every_minute() -> None:
    spec = BY_NAME["observations-overdue"]
    assert spec.func == "app.jobs.observations.raise_overdue_observations"
    assert spec.every == timedelta(minutes=1)


def test_sweep_raises_once_per_missed_set(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    with clock.freeze(clock.now()) as t:
        vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM)
        t.advance(minutes=61)
        assert raise_overdue_observations(db_session) is None
        assert raise_overdue_observations(db_session) is None
    alerts = list(db_session.scalars(select(Alert).where(Alert.encounter_id == w.encounter.id)))
    overdue = [a for a in alerts if a.kind == "obs_overdue"]
    assert len(overdue) == 1 and overdue[0].status == "open" and overdue[0].chain == "obs_overdue"
    assert overdue[0].link == f"/wards/encounters/{w.encounter.id}/vitals"


def test_discharged_patients_are_not_swept(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    w.encounter.status = "finished"
    db_session.flush()
    with clock.freeze(clock.now() + timedelta(hours=3)):
        raise_overdue_observations(db_session)
    assert db_session.scalar(select(Alert.id).where(Alert.encounter_id == w.encounter.id)) is None
