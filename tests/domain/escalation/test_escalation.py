"""Alerts climb their chain each ALERT_ACK_MINUTES until acknowledged; every step is audited
and reaches the right people; the on-call rota decides who the teams are."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.core import clock
from app.core.audit import AuditEvent
from app.core.errors import Conflict, DomainError, Forbidden
from app.core.jobs import DueJob
from app.domain.escalation import services as escalation
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


def _actions(session: Any, alert_id: int) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity_type == "clinical_alert", AuditEvent.entity_id == str(alert_id)).order_by(AuditEvent.seq)))


def _raise_dose(session: Any, w: Any, key: str = "dose:1") -> Any:
    return escalation.raise_alert(
        session, kind="dose_overdue", subject_key=key, patient_id=w.encounter.patient_id,
        encounter_id=w.encounter.id, ward_id=w.ward.id, text="Amoxicillin 09:00 overdue",
        link="/somewhere", chain="dose_overdue", priority="high")


def test_medium_alert_escalates_each_ack_period_until_the_chain_ends(app: Any, db_session: Any) -> None:
    w = ward_with_patient(db_session)
    medical = factories.staff(db_session, "doctor")
    icu = factories.staff(db_session, "doctor")
    ack = app.config["ALERT_ACK_MINUTES"]
    with clock.freeze(clock.now()) as t:
        now = clock.now()
        for team, user in (("medical", medical), ("critical_care", icu)):
            escalation.add_shift(db_session, w.charge, team=team, user_id=user.id,
                                 starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=12))
        vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM)
        alert = vitals.open_news2_alert(db_session, w.encounter.id)
        assert alert is not None and alert.level == 0
        assert notified(db_session, medical.id) == [] and notified(db_session, icu.id) == []

        t.advance(minutes=ack - 1)
        assert run_escalations(db_session) == 0  # not yet
        t.advance(minutes=1)
        assert run_escalations(db_session) == 1
        db_session.refresh(alert)
        assert alert.level == 1 and alert.escalated_at == clock.now()
        got = notified(db_session, medical.id)
        assert len(got) == 1 and got[0].priority == "high" and got[0].text.startswith("Escalated")
        assert notified(db_session, icu.id) == []

        t.advance(minutes=ack)
        assert run_escalations(db_session) == 1
        db_session.refresh(alert)
        assert alert.level == 2 and len(notified(db_session, icu.id)) == 1

        t.advance(minutes=ack * 3)
        assert run_escalations(db_session) == 0  # the chain has ended
    assert _actions(db_session, alert.id) == ["alert.raised", "alert.escalated", "alert.escalated"]
    assert set(alert.recipient_ids) == {w.charge.id, w.doctor.id, medical.id, icu.id}


def test_acknowledging_stops_escalation_and_acknowledges_my_notifications(app: Any, db_session: Any) -> None:
    w = ward_with_patient(db_session)
    with clock.freeze(clock.now()) as t:
        vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM)
        alert = vitals.open_news2_alert(db_session, w.encounter.id)
        assert alert is not None
        escalation.acknowledge_alert(db_session, w.charge, alert.id)
        assert (alert.status, alert.acknowledged_by_id) == ("acknowledged", w.charge.id)
        mine = notified(db_session, w.charge.id)
        assert mine and all(n.acknowledged_at is not None for n in mine)
        # The doctor's notification is theirs to acknowledge.
        assert all(n.acknowledged_at is None for n in notified(db_session, w.doctor.id))
        t.advance(minutes=app.config["ALERT_ACK_MINUTES"] + 1)
        run_escalations(db_session)
        assert alert.level == 0
    assert "alert.acknowledged" in _actions(db_session, alert.id)
    assert db_session.scalar(select(AuditEvent.id).where(AuditEvent.action == "notification.acknowledged",
                                                         AuditEvent.actor_id == w.charge.id))
    # Acknowledging again changes nothing; a resolved alert cannot be acknowledged.
    assert escalation.acknowledge_alert(db_session, w.charge, alert.id).acknowledged_by_id == w.charge.id
    escalation.resolve_alert(db_session, kind="news2", subject_key=alert.subject_key, resolution="better")
    with pytest.raises(Conflict):
        escalation.acknowledge_alert(db_session, w.doctor, alert.id)


def test_a_nurse_of_another_ward_cannot_see_or_acknowledge(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM)
    alert = vitals.open_news2_alert(db_session, w.encounter.id)
    elsewhere = factories.ward(db_session)
    stranger = factories.staff(db_session, "nurse", [elsewhere.id])
    with pytest.raises(Forbidden):
        escalation.acknowledge_alert(db_session, stranger, alert.id)  # type: ignore[union-attr]
    assert escalation.alerts_for(db_session, stranger) == []
    assert [a.id for a in escalation.alerts_for(db_session, w.nurse)] == [alert.id]  # type: ignore[union-attr]
    assert [a.id for a in escalation.alerts_for(db_session, w.doctor)] == [alert.id]  # type: ignore[union-attr]
    assert escalation.alerts_for(db_session, w.other_doctor) == []


def test_with_nobody_on_call_the_ward_doctors_stand_in_and_the_gap_is_reported_once(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    ward_doctor = factories.staff(db_session, "doctor", [w.ward.id])
    other_ward = factories.ward(db_session, beds=1)
    elsewhere = factories.staff(db_session, "doctor", [other_ward.id])
    other_charge = factories.staff(db_session, "charge_nurse", [other_ward.id])
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, HIGH)
    alert = vitals.open_news2_alert(db_session, w.encounter.id)
    assert alert is not None and alert.chain == "news2_high"
    # The hospital's other doctors are not paged: the attending and the ward's doctors stand in.
    assert notified(db_session, w.other_doctor.id) == [] and notified(db_session, elsewhere.id) == []
    assert len(notified(db_session, ward_doctor.id)) == 1 and len(notified(db_session, w.doctor.id)) == 1
    # Whoever keeps the rota hears of the hole, once, however many alerts fall into it.
    gap = notified(db_session, other_charge.id, "on_call.gap")
    assert len(gap) == 1 and "Critical care on-call rota" in gap[0].text and "critical_care" not in gap[0].text and gap[0].priority == "high"
    second = ward_with_patient(db_session)
    vitals.record_vitals(db_session, second.nurse, second.encounter.id, HIGH)
    assert len(notified(db_session, other_charge.id, "on_call.gap")) == 1


def test_fallback_without_ward_doctors_is_the_charge_nurses(app: Any, db_session: Any) -> None:
    w = ward_with_patient(db_session)
    w.encounter.attending_id = None
    db_session.flush()
    alert = escalation.raise_alert(
        db_session, kind="news2", subject_key="x:1", patient_id=w.encounter.patient_id,
        encounter_id=w.encounter.id, ward_id=w.ward.id, text="t", link=None, chain="news2_medium")
    assert escalation.rota_fallback(db_session, alert) == [w.charge.id]
    app.config["ON_CALL_FALLBACK"] = "charge_nurses"
    try:
        w.encounter.attending_id = w.doctor.id
        assert escalation.rota_fallback(db_session, alert) == [w.charge.id]
    finally:
        app.config["ON_CALL_FALLBACK"] = "ward_doctors"


def test_raise_is_idempotent_and_resolve_stops_escalation(app: Any, db_session: Any) -> None:
    w = ward_with_patient(db_session)
    with clock.freeze(clock.now()) as t:
        first = _raise_dose(db_session, w)
        again = _raise_dose(db_session, w)
        assert again.id == first.id
        assert len(notified(db_session, w.nurse.id)) == 1  # nurse_id unset: the ward's nurses
        assert len(notified(db_session, w.charge.id)) == 1  # ... and charge nurses
        assert escalation.resolve_alert(db_session, kind="dose_overdue", subject_key="dose:1",
                                        resolution="dose given") is first
        assert escalation.resolve_alert(db_session, kind="dose_overdue", subject_key="dose:1",
                                        resolution="again") is None
        t.advance(minutes=app.config["ALERT_ACK_MINUTES"] * 5)
        run_escalations(db_session)
    assert first.level == 0 and first.status == "resolved" and first.resolution == "dose given"
    assert len(notified(db_session, w.charge.id)) == 1  # level 0 only: nothing escalated
    assert _actions(db_session, first.id) == ["alert.raised", "alert.resolved"]


def test_dose_chain_reaches_nurse_then_charge_then_doctor(app: Any, db_session: Any) -> None:
    w = ward_with_patient(db_session)
    w.encounter.nurse_id = w.nurse.id
    other_nurse = factories.staff(db_session, "nurse", [w.ward.id])
    ack = app.config["ALERT_ACK_MINUTES"]
    with clock.freeze(clock.now()) as t:
        alert = _raise_dose(db_session, w, "dose:2")
        assert alert.recipient_ids == [w.nurse.id]
        assert notified(db_session, other_nurse.id) == []
        t.advance(minutes=ack)
        run_escalations(db_session)
        assert set(alert.recipient_ids) == {w.nurse.id, w.charge.id}
        t.advance(minutes=ack)
        run_escalations(db_session)
        assert set(alert.recipient_ids) == {w.nurse.id, w.charge.id, w.doctor.id}
        assert notified(db_session, w.doctor.id)[0].priority == "high"


def test_escalation_of_a_discharged_patient_resolves_instead(app: Any, db_session: Any) -> None:
    w = ward_with_patient(db_session)
    with clock.freeze(clock.now()) as t:
        alert = _raise_dose(db_session, w, "dose:3")
        w.encounter.status = "finished"
        db_session.flush()
        t.advance(minutes=app.config["ALERT_ACK_MINUTES"])
        run_escalations(db_session)
    assert alert.status == "resolved" and len(notified(db_session, w.charge.id)) == 1  # level 0 only


def test_open_alerts_per_encounter(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    a = _raise_dose(db_session, w, "dose:4")
    b = _raise_dose(db_session, w, "dose:5")
    escalation.resolve_alert(db_session, kind="dose_overdue", subject_key="dose:5", resolution="given")
    got = escalation.open_alerts(db_session, [w.encounter.id, 999_999])
    assert [x.id for x in got[w.encounter.id]] == [a.id] and got[999_999] == []
    assert b.status == "resolved"
    assert escalation.open_alerts(db_session, []) == {}


def test_unknown_chain_is_refused(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    with pytest.raises(ValueError):
        escalation.raise_alert(db_session, kind="x", subject_key="y", patient_id=w.encounter.patient_id,
                               encounter_id=None, ward_id=None, text="t", link=None, chain="nope")


def test_on_call_rota(app: Any, db_session: Any) -> None:
    w = ward_with_patient(db_session)
    now = clock.now()
    shift = escalation.add_shift(db_session, w.charge, team="medical", user_id=w.doctor.id,
                                 starts_at=now, ends_at=now + timedelta(hours=8))
    assert escalation.on_call(db_session, "medical", now + timedelta(hours=1)) == [w.doctor.id]
    assert escalation.on_call(db_session, "medical", now + timedelta(hours=8)) == []
    assert escalation.on_call(db_session, "critical_care", now) == []
    for kw, field in (({"team": "surgery"}, "team"), ({"user_id": w.nurse.id}, "user_id"),
                      ({"ends_at": now}, "ends_at"), ({"ends_at": now + timedelta(days=8)}, "ends_at")):
        args = {"team": "medical", "user_id": w.doctor.id, "starts_at": now,
                "ends_at": now + timedelta(hours=8), **kw}
        with pytest.raises(DomainError) as exc:
            escalation.add_shift(db_session, w.charge, **args)  # type: ignore[arg-type]
        assert exc.value.field == field
    with pytest.raises(Forbidden):
        escalation.add_shift(db_session, w.nurse, team="medical", user_id=w.doctor.id,
                             starts_at=now, ends_at=now + timedelta(hours=1))
    with pytest.raises(DomainError):
        escalation.remove_shift(db_session, w.charge, shift.id, "")
    escalation.remove_shift(db_session, w.charge, shift.id, "swapped with a colleague")
    assert escalation.on_call(db_session, "medical", now + timedelta(hours=1)) == []
    actions = set(db_session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("on_call.%"))))
    assert actions == {"on_call.shift_added", "on_call.shift_removed"}


def test_obs_overdue_job_alerts_once_and_the_next_set_resolves(app: Any, db_session: Any) -> None:
    w = ward_with_patient(db_session)
    w.encounter.nurse_id = w.nurse.id
    with clock.freeze(clock.now()) as t:
        vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM)  # due in 60 minutes
        db_session.query(Notification).delete()
        t.advance(minutes=59)
        assert [a for a in vitals.raise_overdue(db_session) if a.encounter_id == w.encounter.id] == []
        t.advance(minutes=2)
        raised = [a for a in vitals.raise_overdue(db_session) if a.encounter_id == w.encounter.id]
        assert len(raised) == 1 and raised[0].kind == "obs_overdue" and raised[0].priority == "normal"
        assert all(a.encounter_id != w.encounter.id for a in vitals.raise_overdue(db_session))
        got = notified(db_session, w.nurse.id)
        assert len(got) == 1 and got[0].priority == "normal" and "overdue" in got[0].text
        t.advance(minutes=app.config["ALERT_ACK_MINUTES"])
        run_escalations(db_session)
        assert notified(db_session, w.charge.id)[-1].priority == "high"
        vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM)
    assert raised[0].status == "resolved" and "recorded" in (raised[0].resolution or "")


def test_no_set_an_hour_after_admission_is_overdue(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    w.encounter.started_at = clock.now() - timedelta(minutes=30)
    db_session.flush()
    assert all(a.encounter_id != w.encounter.id for a in vitals.raise_overdue(db_session))
    with clock.freeze(clock.now() + timedelta(minutes=31)):
        raised = [a for a in vitals.raise_overdue(db_session) if a.encounter_id == w.encounter.id]
    assert len(raised) == 1 and raised[0].subject_key == f"enc:{w.encounter.id}:admission"


def test_escalation_rows_are_scheduled_once_per_step(app: Any, db_session: Any) -> None:
    w = ward_with_patient(db_session)
    alert = _raise_dose(db_session, w, "dose:6")
    rows = list(db_session.scalars(select(DueJob).where(DueJob.kind == "alert.escalate")))
    mine = [r for r in rows if f'"alert_id": {alert.id}' in r.payload or f'"alert_id":{alert.id}' in r.payload]
    assert len(mine) == 1
    assert mine[0].due_at == alert.raised_at + timedelta(minutes=app.config["ALERT_ACK_MINUTES"])
