"""Two workers raising the same alert at once (the overdue sweep on two schedulers, a dose
reminder and the sweep): one alert, one round of notifications. PostgreSQL, committed data."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.domain.escalation import services as escalation
from app.domain.escalation.models import Alert
from app.domain.notifications.models import Notification
from app.extensions import db
from tests.conftest import ON_POSTGRES, make_app, run_together
from tests.domain.observations.support import ward_with_patient

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


def test_an_acknowledgement_racing_an_upgrade_does_not_silence_the_high_alert(race_app: Flask) -> None:
    """The charge nurse acknowledges the medium alert she is looking at while a new set moves
    it to the high chain: her UPDATE waits on the upgrade's row lock, then finds the alert is
    no longer what she saw. The high alert stays open; she is told to acknowledge again."""
    from app.core.errors import Conflict
    from app.domain.identity.models import User
    from app.domain.observations import services as vitals
    from tests.domain.observations.support import HIGH, MEDIUM

    with race_app.app_context():
        w = ward_with_patient(db.session)
        vitals.record_vitals(db.session, w.nurse, w.encounter.id, MEDIUM)
        alert = vitals.open_news2_alert(db.session, w.encounter.id)
        assert alert is not None
        ids = (alert.id, w.encounter.id, w.nurse.id, w.charge.id)
        seen = (alert.chain, alert.level)
        db.session.commit()
        db.session.remove()
    alert_id, encounter_id, nurse_id, charge_id = ids

    def upgrade() -> str:
        vitals.record_vitals(db.session, db.session.get(User, nurse_id), encounter_id, HIGH)
        time.sleep(0.8)  # hold the row lock while the acknowledgement arrives
        return "upgraded"

    def acknowledge() -> str:
        time.sleep(0.3)
        try:
            escalation.acknowledge_alert(db.session, db.session.get(User, charge_id), alert_id,
                                         seen_chain=seen[0], seen_level=seen[1])
        except Conflict as exc:
            return exc.message
        return "acknowledged"

    results, errors = run_together(race_app, [upgrade, acknowledge])
    assert errors == []
    assert "upgraded" in results
    refused = next(r for r in results if r != "upgraded")
    assert "while you were looking" in refused and "acknowledge again" in refused
    with race_app.app_context():
        final = db.session.get(Alert, alert_id)
        assert final is not None and final.chain == "news2_high" and final.status == "open"
        db.session.remove()
