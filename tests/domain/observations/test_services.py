"""Recording vital signs: LOINC observations, NEWS2 with the admission's scale, due times,
audit, events, refusals, and the NEWS2 alert that follows the newest set."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from app.core import clock, events
from app.core.audit import AuditEvent
from app.core.errors import DomainError, Forbidden
from app.domain.escalation.models import Alert
from app.domain.observations import services as vitals
from app.domain.observations.models import Observation
from tests import factories
from tests.domain.observations.support import (
    HIGH,
    MEDIUM,
    NORMAL,
    notified,
    run_escalations,
    ward_with_patient,
)

T0 = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)


def _audit(session: Any, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_set_is_recorded_as_loinc_coded_observations_with_news2(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    heard: list[dict[str, Any]] = []

    def listen(sender: Any, **kw: Any) -> None:
        heard.append(kw)

    events.vitals_recorded.connect(listen)
    try:
        vs = vitals.record_vitals(db_session, w.nurse, w.encounter.id,
                                  {**NORMAL, "air_or_oxygen": "oxygen", "o2_flow": "2"})
    finally:
        events.vitals_recorded.disconnect(listen)
    assert (vs.news2_total, vs.news2_band, vs.spo2_scale) == (2, "low", 1)
    by_code = {o.loinc: o for o in vs.observations}
    assert set(by_code) == {"9279-1", "59408-5", "107117-4", "3151-8", "8480-6", "8462-4",
                            "8867-4", "80288-4", "8310-5"}
    assert by_code["9279-1"].unit == "/min" and by_code["9279-1"].value == 16
    assert by_code["8310-5"].unit == "Cel" and by_code["8310-5"].value == Decimal("36.8")
    assert by_code["59408-5"].unit == "%"
    assert by_code["8480-6"].unit == "mm[Hg]"
    assert by_code["3151-8"].unit == "L/min"
    assert by_code["107117-4"].value_code == "oxygen" and by_code["107117-4"].score == 2
    assert by_code["80288-4"].value_code == "A" and by_code["80288-4"].score == 0
    assert by_code["8462-4"].score is None  # diastolic is not scored
    minutes = vs.next_due_at - vs.taken_at
    assert minutes == timedelta(minutes=240)
    assert heard == [{"vital_signs_id": vs.id, "patient_id": vs.patient_id,
                      "encounter_id": w.encounter.id, "ward_id": w.ward.id, "news2_total": 2,
                      "news2_band": "low"}]
    rows = _audit(db_session, "vitals.recorded")
    assert rows and rows[-1].entity_id == str(vs.id) and rows[-1].patient_id == vs.patient_id


def test_zero_total_gets_the_twelve_hour_interval(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    vs = vitals.record_vitals(db_session, w.nurse, w.encounter.id, NORMAL)
    assert vs.news2_total == 0
    assert vs.next_due_at - vs.taken_at == timedelta(minutes=720)


def test_a_missing_parameter_is_incomplete_never_zero(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    vs = vitals.record_vitals(db_session, w.nurse, w.encounter.id, {**NORMAL, "temperature": ""})
    assert vs.news2_total is None and vs.news2_band is None and not vs.complete
    assert "8310-5" not in {o.loinc for o in vs.observations}
    assert vs.next_due_at - vs.taken_at == timedelta(minutes=60)


def test_scale_2_is_set_by_a_clinician_audited_and_used(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    with pytest.raises(Forbidden):
        vitals.set_spo2_scale(db_session, w.nurse, w.encounter.id, 2, "target 88-92")
    with pytest.raises(DomainError) as exc:
        vitals.set_spo2_scale(db_session, w.doctor, w.encounter.id, 2, " ")
    assert exc.value.field == "reason"
    vitals.set_spo2_scale(db_session, w.doctor, w.encounter.id, 2, "COPD, target 88-92 %")
    row = _audit(db_session, "encounter.spo2_scale")[-1]
    assert json.loads(row.before or "{}") == {"spo2_scale": 1} and json.loads(row.after or "{}") == {"spo2_scale": 2}
    assert row.reason == "COPD, target 88-92 %"
    # 97 % on oxygen: 3 on scale 2 (0 on scale 1), plus 2 for oxygen.
    vs = vitals.record_vitals(db_session, w.nurse, w.encounter.id,
                              {**NORMAL, "spo2": "97", "air_or_oxygen": "oxygen", "o2_flow": "1"})
    assert (vs.spo2_scale, vs.news2_total, vs.any_single_three) == (2, 5, True)


def test_impossible_values_are_refused_per_field_and_nothing_is_written(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    with pytest.raises(vitals.InvalidVitals) as exc:
        vitals.record_vitals(db_session, w.nurse, w.encounter.id, {**NORMAL, "spo2": "101", "pulse": "0"})
    assert set(exc.value.errors) == {"spo2", "pulse"}
    assert exc.value.status_code == 422
    assert db_session.scalar(select(Observation.id).where(Observation.patient_id == w.encounter.patient_id)) is None


def test_unusual_values_are_kept_and_flagged(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    vs = vitals.record_vitals(db_session, w.nurse, w.encounter.id, {**NORMAL, "temperature": "42.1"})
    assert vs.flags == ["Temperature 42.1 °C is unusual: re-check it."]
    assert vs.news2_total == 2


def test_a_nurse_of_another_ward_is_refused(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    elsewhere = factories.ward(db_session)
    stranger = factories.staff(db_session, "nurse", [elsewhere.id])
    with pytest.raises(Forbidden):
        vitals.record_vitals(db_session, stranger, w.encounter.id, NORMAL)


def test_a_finished_admission_is_refused(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    w.encounter.status = "finished"
    db_session.flush()
    with pytest.raises(DomainError) as exc:
        vitals.record_vitals(db_session, w.doctor, w.encounter.id, NORMAL)
    assert "admission has ended" in exc.value.message


def test_times_in_the_future_or_before_admission_are_refused(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    with pytest.raises(DomainError) as exc:
        vitals.record_vitals(db_session, w.nurse, w.encounter.id, NORMAL,
                             taken_at=clock.now() + timedelta(hours=1))
    assert exc.value.field == "taken_at"
    with pytest.raises(DomainError):
        vitals.record_vitals(db_session, w.nurse, w.encounter.id, NORMAL,
                             taken_at=w.encounter.started_at - timedelta(hours=2))


def test_latest_by_encounter_is_the_newest_final_set_per_admission(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    p2 = factories.admitted(db_session, w.ward)
    from app.domain.admissions.services import current_encounters
    e2 = current_encounters(db_session, [p2.id])[p2.id]
    now = clock.now()
    old = vitals.record_vitals(db_session, w.nurse, w.encounter.id, NORMAL, taken_at=now - timedelta(hours=3))
    new = vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM, taken_at=now - timedelta(minutes=50))
    # A late entry of an older set does not become the latest.
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, NORMAL, taken_at=now - timedelta(hours=2))
    latest = vitals.latest_by_encounter(db_session, [w.encounter.id, e2.id])
    assert set(latest) == {w.encounter.id} and latest[w.encounter.id].id == new.id
    assert not latest[w.encounter.id].overdue  # medium: due an hour after it, in 10 minutes
    vitals.mark_entered_in_error(db_session, w.nurse, new.id, "wrong patient")
    latest = vitals.latest_by_encounter(db_session, [w.encounter.id])
    assert latest[w.encounter.id].id != new.id
    assert latest[w.encounter.id].taken_at == now - timedelta(hours=2)
    assert old.id != latest[w.encounter.id].id
    assert vitals.latest_by_encounter(db_session, []) == {}


def test_overdue_shows_once_the_due_time_passes(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    with clock.freeze(clock.now()) as t:
        vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM)
        t.advance(minutes=61)
        assert vitals.latest_by_encounter(db_session, [w.encounter.id])[w.encounter.id].overdue


def test_medium_score_alerts_charge_nurse_and_attending_high_priority(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM)
    alert = db_session.scalar(select(Alert).where(Alert.encounter_id == w.encounter.id))
    assert alert is not None and (alert.kind, alert.chain, alert.status, alert.level) == (
        "news2", "news2_medium", "open", 0)
    for user in (w.charge, w.doctor):
        got = notified(db_session, user.id)
        assert len(got) == 1 and got[0].priority == "high" and "NEWS2 5" in got[0].text
        assert got[0].link == f"/wards/alerts/{alert.id}"
    assert notified(db_session, w.nurse.id) == [] and notified(db_session, w.other_doctor.id) == []
    assert _audit(db_session, "alert.raised")[-1].entity_id == str(alert.id)


def test_a_single_three_alerts_even_when_the_total_is_low(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    vs = vitals.record_vitals(db_session, w.nurse, w.encounter.id, {**NORMAL, "consciousness": "C"})
    assert (vs.news2_total, vs.news2_band) == (3, "low-medium")
    alert = vitals.open_news2_alert(db_session, w.encounter.id)
    assert alert is not None and alert.chain == "news2_medium"


def test_high_score_also_alerts_the_on_call_emergency_team(db_session: Any) -> None:
    from app.domain.escalation import services as escalation
    w = ward_with_patient(db_session)
    icu = factories.staff(db_session, "doctor")
    now = clock.now()
    escalation.add_shift(db_session, w.charge, team="critical_care", user_id=icu.id,
                         starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=11))
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, HIGH)
    alert = vitals.open_news2_alert(db_session, w.encounter.id)
    assert alert is not None and alert.chain == "news2_high"
    assert {w.charge.id, w.doctor.id, icu.id} <= set(alert.recipient_ids)
    assert len(notified(db_session, icu.id)) == 1
    assert notified(db_session, w.other_doctor.id) == []  # someone is on call: no fallback


def test_the_same_episode_does_not_alert_twice_and_a_rise_moves_it_to_high(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    now = clock.now()
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM, taken_at=now - timedelta(minutes=30))
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM, taken_at=now - timedelta(minutes=20))
    assert len(notified(db_session, w.charge.id)) == 1
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, HIGH, taken_at=now - timedelta(minutes=10))
    alerts = list(db_session.scalars(select(Alert).where(Alert.encounter_id == w.encounter.id)))
    assert len(alerts) == 1 and alerts[0].chain == "news2_high" and alerts[0].status == "open"
    assert len(notified(db_session, w.charge.id)) == 2
    assert _audit(db_session, "alert.rechained")


def test_a_normal_set_does_not_cancel_an_unacknowledged_alert(app: Any, db_session: Any) -> None:
    # One mistyped or optimistic set must not silence an escalation nobody has taken on.
    w = ward_with_patient(db_session)
    with clock.freeze(clock.now()) as t:
        vitals.record_vitals(db_session, w.nurse, w.encounter.id, HIGH, taken_at=clock.now() - timedelta(minutes=1))
        vitals.record_vitals(db_session, w.nurse, w.encounter.id, NORMAL)
        alert = db_session.scalar(select(Alert).where(Alert.encounter_id == w.encounter.id))
        assert alert.status == "open" and alert.resolved_at is None
        assert _audit(db_session, "alert.resolved") == []
        assert vitals.open_news2_alert(db_session, w.encounter.id) is alert
        # It keeps climbing the chain until a clinician acknowledges it.
        t.advance(minutes=app.config["ALERT_ACK_MINUTES"])
        assert run_escalations(db_session) >= 1
        db_session.refresh(alert)
        assert alert.status == "open" and alert.level == 1


def test_a_normal_set_resolves_an_acknowledged_alert(db_session: Any) -> None:
    from app.domain.escalation import services as escalation
    w = ward_with_patient(db_session)
    now = clock.now()
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM, taken_at=now - timedelta(minutes=30))
    alert = vitals.open_news2_alert(db_session, w.encounter.id)
    assert alert is not None
    escalation.acknowledge_alert(db_session, w.charge, alert.id)
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, NORMAL, taken_at=now - timedelta(minutes=5))
    db_session.refresh(alert)
    assert alert.status == "resolved" and "NEWS2 0" in (alert.resolution or "")
    assert _audit(db_session, "alert.resolved")
    # A later deterioration is a new episode, a new alert.
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM)
    assert db_session.scalar(select(Alert.id).where(Alert.encounter_id == w.encounter.id,
                                                    Alert.status == "open")) not in (None, alert.id)


def test_entered_in_error_withdraws_the_set_and_its_alert(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    vs = vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM)
    with pytest.raises(DomainError):
        vitals.mark_entered_in_error(db_session, w.nurse, vs.id, "")
    vitals.mark_entered_in_error(db_session, w.nurse, vs.id, "Recorded on the wrong patient")
    assert vs.status == "entered-in-error" and vs.error_reason == "Recorded on the wrong patient"
    alert = db_session.scalar(select(Alert).where(Alert.encounter_id == w.encounter.id))
    assert alert.status == "resolved" and "entered in error" in (alert.resolution or "")
    assert _audit(db_session, "vitals.entered_in_error")[-1].reason == "Recorded on the wrong patient"


def test_withdrawing_another_set_keeps_an_unacknowledged_alert_open(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    now = clock.now()
    older = vitals.record_vitals(db_session, w.nurse, w.encounter.id, NORMAL, taken_at=now - timedelta(hours=2))
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM, taken_at=now - timedelta(minutes=30))
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, NORMAL, taken_at=now - timedelta(minutes=5))
    vitals.mark_entered_in_error(db_session, w.nurse, older.id, "Duplicate entry")
    alert = db_session.scalar(select(Alert).where(Alert.encounter_id == w.encounter.id))
    assert alert.status == "open"


def test_chart_series_by_period(db_session: Any) -> None:
    w = ward_with_patient(db_session)
    w.encounter.started_at = clock.now() - timedelta(days=5)
    db_session.flush()
    now = clock.now()
    with clock.freeze(now - timedelta(days=4)):
        vitals.record_vitals(db_session, w.nurse, w.encounter.id, NORMAL)
    with clock.freeze(now - timedelta(hours=30)):
        vitals.record_vitals(db_session, w.nurse, w.encounter.id, NORMAL)
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM, taken_at=now - timedelta(hours=2))
    assert len(vitals.chart_series(db_session, w.nurse, w.encounter.id, "24h").sets) == 1
    assert len(vitals.chart_series(db_session, w.nurse, w.encounter.id, "72h").sets) == 2
    series = vitals.chart_series(db_session, w.nurse, w.encounter.id, "all")
    assert len(series.sets) == 3 and series.sets[0].taken_at < series.sets[-1].taken_at
    with pytest.raises(DomainError):
        vitals.chart_series(db_session, w.nurse, w.encounter.id, "1y")
