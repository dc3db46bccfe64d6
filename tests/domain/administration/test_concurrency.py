"""Two nurses recording the same dose at once: exactly one succeeds, the other is told who did
it (real parallel sessions and committed data; PostgreSQL in the PostgreSQL pass). And two PRN
doses at once cannot both slip under the minimum interval."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app.core import clock
from app.core.errors import Conflict, DomainError
from app.domain.administration import planning, services
from app.domain.administration.models import Administration, ScheduledDose
from app.domain.identity.models import User
from app.extensions import db
from tests import factories
from tests.conftest import run_together
from tests.domain.administration.builders import stay


def _setup(app: Flask, **rx: Any) -> dict[str, int]:
    with app.app_context():
        s = stay(db.session)
        other = factories.staff(db.session, "nurse", [s.ward.id])
        now = clock.now()
        p = factories.inpatient_prescription(db.session, s.patient, s.drug, start_at=now - timedelta(hours=5),
                                             duration_days=None, **rx)
        planning.plan_prescription(db.session, p.id, now - timedelta(hours=5))
        # The latest dose already due (a dose may not be recorded before its due window).
        dose = db.session.scalar(select(ScheduledDose).where(ScheduledDose.prescription_id == p.id,
                                                             ScheduledDose.due_at <= now)
                                 .order_by(ScheduledDose.due_at.desc()).limit(1))
        ids = {"nurse": s.nurse.id, "other": other.id, "rx": p.id, "dose": dose.id if dose else 0}
        db.session.commit()
        db.session.remove()
    return ids


def test_two_nurses_one_dose_exactly_one_records_it(race_app: Flask) -> None:
    ids = _setup(race_app, frequency="Q4H")

    def record(user_id: int) -> Any:
        def go() -> int:
            user = db.session.get(User, user_id)
            return services.record_dose(db.session, user, ids["dose"], "given").id
        return go

    results, errors = run_together(race_app, [record(ids["nurse"]), record(ids["other"])])
    assert len(results) == 1 and len(errors) == 1, errors
    assert isinstance(errors[0], Conflict) and "already recorded" in errors[0].message
    with race_app.app_context():
        n = db.session.scalar(select(func.count()).select_from(Administration).where(
            Administration.scheduled_dose_id == ids["dose"], Administration.status == "completed"))
        assert n == 1
        db.session.remove()


def test_two_prn_doses_at_once_respect_the_interval(race_app: Flask) -> None:
    ids = _setup(race_app, frequency="PRN", prn=True, prn_min_interval_minutes=240,
                 prn_max_daily_doses=4)

    def give(user_id: int) -> Any:
        def go() -> int:
            user = db.session.get(User, user_id)
            return services.record_prn(db.session, user, ids["rx"]).id
        return go

    results, errors = run_together(race_app, [give(ids["nurse"]), give(ids["other"])])
    assert len(results) == 1 and len(errors) == 1, errors
    assert isinstance(errors[0], DomainError) and "240 minutes" in errors[0].message
