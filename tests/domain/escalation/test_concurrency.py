"""Two workers raising the same alert at once (the overdue sweep on two schedulers, a dose
reminder and the sweep): one alert, one round of notifications. PostgreSQL, committed data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.domain.escalation import services as escalation
from app.domain.escalation.models import Alert
from app.domain.notifications.models import Notification
from app.extensions import db
from tests.conftest import make_app, run_together
from tests.domain.observations.support import ward_with_patient

ON_POSTGRES = (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgresql")
pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="runs in the PostgreSQL pass")


@pytest.fixture(scope="module")
def race_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = make_app(tmp_path_factory.mktemp("alert_race"), name="alert_race")
    yield app
    with app.app_context():
        db.engine.dispose()


def test_concurrent_raises_make_one_alert(race_app: Flask) -> None:
    with race_app.app_context():
        w = ward_with_patient(db.session)
        ids = (w.encounter.patient_id, w.encounter.id, w.ward.id, w.nurse.id)
        db.session.commit()
        db.session.remove()

    def raise_it() -> Any:
        patient_id, encounter_id, ward_id, _ = ids
        return escalation.raise_alert(
            db.session, kind="dose_overdue", subject_key="race:1", patient_id=patient_id,
            encounter_id=encounter_id, ward_id=ward_id, text="overdue", link=None,
            chain="dose_overdue").id

    results, errors = run_together(race_app, [raise_it] * 4)
    assert errors == []
    assert len(set(results)) == 1
    with race_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Alert).where(
            Alert.subject_key == "race:1")) == 1
        assert db.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.recipient_id == ids[3], Notification.kind == "alert.dose_overdue")) == 1
        db.session.remove()
