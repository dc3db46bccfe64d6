"""An alert belongs to the patient, not to the ward they were on: it moves with a transfer (and
its cancel), reaches the new ward's people, and closes when the stay ends. The alert list is
filtered in the database; an acknowledgement never silences an alert that moved on meanwhile."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.core import clock
from app.core.audit import AuditEvent
from app.core.errors import Conflict
from app.domain.admissions import adt
from app.domain.escalation import services as escalation
from app.domain.escalation.models import Alert
from app.domain.notifications import services as notifications
from app.domain.notifications.models import Notification
from app.domain.observations import services as vitals
from tests import factories
from tests.domain.observations.support import (
    HIGH,
    MEDIUM,
    notified,
    run_escalations,
    ward_with_patient,
)


def _second_ward(session: Any) -> Any:
    ward = factories.ward(session, beds=2)
    charge = factories.staff(session, "charge_nurse", [ward.id])
    nurse = factories.staff(session, "nurse", [ward.id])
    return ward, charge, nurse


def _transfer(session: Any, w: Any, ward: Any) -> None:
    adt.transfer(session, w.doctor, w.encounter.id, ward.rooms[0].beds[0].id)


def test_a_transfer_moves_the_alert_to_the_receiving_ward(app: Any, db_session: Any) -> None:
    w = ward_with_patient(db_session)
    ward, charge, nurse = _second_ward(db_session)
    ack = app.config["ALERT_ACK_MINUTES"]
    with clock.freeze(clock.now()) as t:
        vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM)
        alert = vitals.open_news2_alert(db_session, w.encounter.id)
        assert alert is not None and alert.ward_id == w.ward.id
        _transfer(db_session, w, ward)
        db_session.refresh(alert)
        assert alert.ward_id == ward.id
        # The receiving ward's staff see it and its charge nurse may acknowledge it; the old
        # ward's nurse no longer has it on her list.
        assert [a.id for a in escalation.alerts_for(db_session, nurse)] == [alert.id]
        assert escalation.alerts_for(db_session, w.nurse) == []
        assert escalation.get_alert(db_session, charge, alert.id) is alert
        # A later step reaches the new ward, not the old one.
        assert escalation.recipients(db_session, alert, 0) == sorted([charge.id, w.doctor.id])
        t.advance(minutes=ack)
        run_escalations(db_session)
        assert escalation.acknowledge_alert(db_session, charge, alert.id).acknowledged_by_id == charge.id
    moved = db_session.scalar(select(AuditEvent).where(
        AuditEvent.action == "alert.moved", AuditEvent.entity_id == str(alert.id)))
    assert moved is not None


def test_the_old_ward_stops_getting_the_escalations(app: Any, db_session: Any) -> None:
    w = ward_with_patient(db_session)
    w.encounter.attending_id = None
    ward, charge, _ = _second_ward(db_session)
    with clock.freeze(clock.now()):
        alert = escalation.raise_alert(
            db_session, kind="dose_overdue", subject_key="dose:9", patient_id=w.encounter.patient_id,
            encounter_id=w.encounter.id, ward_id=w.ward.id, text="overdue", link=None,
            chain="dose_overdue")
        before = len(notified(db_session, w.charge.id))
        _transfer(db_session, w, ward)
        # Level 1 of the dose chain is "the ward's charge nurses": the new ward's.
        escalation.escalate(db_session, alert.id, "dose_overdue", 1)
    assert len(notified(db_session, w.charge.id)) == before
    assert len(notified(db_session, charge.id)) == 1


def test_cancelling_the_transfer_moves_the_alert_back(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    ward, _, _ = _second_ward(db_session)
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM)
    alert = vitals.open_news2_alert(db_session, w.encounter.id)
    assert alert is not None
    _transfer(db_session, w, ward)
    adt.cancel_transfer(db_session, w.doctor, w.encounter.id, "wrong patient moved")
    db_session.refresh(alert)
    assert alert.ward_id == w.ward.id


def test_discharge_resolves_every_open_alert_of_the_stay(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, HIGH)
    dose = escalation.raise_alert(
        db_session, kind="dose_overdue", subject_key="dose:10", patient_id=w.encounter.patient_id,
        encounter_id=w.encounter.id, ward_id=w.ward.id, text="overdue", link=None, chain="dose_overdue")
    adt.discharge(db_session, w.doctor, w.encounter.id, summary="Home, well.", disposition="home")
    rows = list(db_session.scalars(select(Alert).where(Alert.encounter_id == w.encounter.id)))
    assert len(rows) == 2 and dose in rows
    assert {(a.status, a.resolution) for a in rows} == {("resolved", "The patient was discharged.")}
    assert escalation.alerts_for(db_session, w.charge) == []


def test_cancelling_the_admission_resolves_its_alerts(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM)
    adt.cancel_admission(db_session, w.doctor, w.encounter.id, "admitted the wrong patient")
    alert = db_session.scalar(select(Alert).where(Alert.encounter_id == w.encounter.id))
    assert alert.status == "resolved" and alert.resolution == "The admission was cancelled."


def test_my_alerts_are_found_in_the_database_not_in_the_newest_500(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    busy = factories.ward(db_session, beds=1)
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM)
    mine = vitals.open_news2_alert(db_session, w.encounter.id)
    assert mine is not None
    later = clock.now() + timedelta(minutes=1)
    db_session.add_all(Alert(kind="dose_overdue", subject_key=f"busy:{i}", patient_id=w.encounter.patient_id,
                             ward_id=busy.id, text="elsewhere", chain="dose_overdue", status="open",
                             raised_at=later, recipient_ids=[]) for i in range(520))
    db_session.flush()
    assert [a.id for a in escalation.alerts_for(db_session, w.nurse)] == [mine.id]
    # A doctor on no ward finds the alerts that reached him.
    assert [a.id for a in escalation.alerts_for(db_session, w.doctor)] == [mine.id]


def test_an_acknowledgement_of_what_was_since_upgraded_is_refused(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM)
    alert = vitals.open_news2_alert(db_session, w.encounter.id)
    assert alert is not None and alert.chain == "news2_medium"
    seen = (alert.chain, alert.level)
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, HIGH)  # upgraded while she looked
    with pytest.raises(Conflict, match=r"escalated to .* while you were looking.*acknowledge again"):
        escalation.acknowledge_alert(db_session, w.charge, alert.id, seen_chain=seen[0], seen_level=seen[1])
    db_session.refresh(alert)
    assert alert.status == "open" and alert.chain == "news2_high"
    again = escalation.acknowledge_alert(db_session, w.charge, alert.id, seen_chain="news2_high", seen_level=0)
    assert again.status == "acknowledged"


def test_acknowledging_acknowledges_my_urgent_notifications_about_it(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM)
    alert = vitals.open_news2_alert(db_session, w.encounter.id)
    assert alert is not None
    escalation.acknowledge_alert(db_session, w.charge, alert.id)
    mine = notified(db_session, w.charge.id)
    assert mine and all(n.acknowledged_at is not None for n in mine)
    # The doctor's own notification is his to acknowledge.
    assert all(n.acknowledged_at is None for n in notified(db_session, w.doctor.id))
    assert notifications.acknowledge_for(db_session, w.doctor, escalation.alert_path(alert.id)) == 1
    assert db_session.scalar(select(Notification.acknowledged_at).where(
        Notification.recipient_id == w.doctor.id)) is not None


def test_removing_a_shift_under_way_ends_it_and_keeps_who_was_on_call(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    now = clock.now()
    shift = escalation.add_shift(db_session, w.charge, team="medical", user_id=w.other_doctor.id,
                                 starts_at=now - timedelta(hours=2), ends_at=now + timedelta(hours=6))
    escalation.remove_shift(db_session, w.charge, shift.id, "went home ill")
    assert escalation.on_call(db_session, "medical", now + timedelta(minutes=1)) == []
    assert escalation.on_call(db_session, "medical", now - timedelta(hours=1)) == [w.other_doctor.id]
    assert shift.cancel_reason == "went home ill" and shift.cancelled_by_id == w.charge.id
    assert escalation.rota(db_session, now - timedelta(days=1), now + timedelta(days=1)) == []
