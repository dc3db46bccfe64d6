"""Planning doses from verified prescriptions, re-planning on change, withdrawal on stop and
discharge, and the rolling horizon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.core import clock, events
from app.core.errors import DomainError
from app.domain.administration import planning, services
from app.domain.administration.models import ScheduledDose
from app.domain.prescribing import services as prescribing
from tests.domain.administration.builders import prescription, stay

# 08:00 London (BST) on a plain summer day: a TID order owes 09:00, 13:00, 17:00 local.
NOW = datetime(2026, 6, 10, 7, 0, tzinfo=UTC)


def doses(session: Any, rx_id: int, status: str | None = None) -> list[ScheduledDose]:
    stmt = select(ScheduledDose).where(ScheduledDose.prescription_id == rx_id)
    if status:
        stmt = stmt.where(ScheduledDose.status == status)
    return list(session.scalars(stmt.order_by(ScheduledDose.due_at)))


def test_a_verified_tid_order_is_planned_seven_days_ahead_at_the_table_times(db_session: Any) -> None:
    s = stay(db_session)
    rx = prescription(db_session, s, NOW, frequency="TID")
    planned = doses(db_session, rx.id)
    assert len(planned) == 21
    assert [d.due_at.astimezone(UTC).hour for d in planned[:3]] == [8, 12, 16]  # 09/13/17 BST
    assert all(d.status == "due" and d.encounter_id == s.encounter.id for d in planned)
    assert planned[-1].due_at < NOW + timedelta(days=7)


def test_planning_twice_adds_nothing(db_session: Any) -> None:
    s = stay(db_session)
    rx = prescription(db_session, s, NOW, frequency="BID")
    again = planning.plan_prescription(db_session, rx.id, NOW)
    assert again.doses == 0
    assert len(doses(db_session, rx.id)) == 14


def test_a_stop_date_ends_the_plan(db_session: Any) -> None:
    s = stay(db_session)
    rx = prescription(db_session, s, NOW, frequency="QD", stop_at=NOW + timedelta(days=2))
    assert len(doses(db_session, rx.id)) == 2


def test_prn_plans_nothing_and_stat_plans_one_dose_once(db_session: Any) -> None:
    s = stay(db_session)
    prn = prescription(db_session, s, NOW, frequency="PRN", prn=True, prn_min_interval_minutes=240,
                       prn_max_daily_doses=4)
    stat = prescription(db_session, s, NOW, frequency="STAT", verified_at=NOW + timedelta(minutes=5))
    assert doses(db_session, prn.id) == []
    assert [d.due_at for d in doses(db_session, stat.id)] == [NOW + timedelta(minutes=5)]
    planning.extend_horizon(db_session, NOW + timedelta(days=1))
    assert len(doses(db_session, stat.id)) == 1


def test_pending_and_outpatient_prescriptions_are_not_planned(db_session: Any) -> None:
    s = stay(db_session)
    pending = prescription(db_session, s, NOW, verification="pending")
    assert doses(db_session, pending.id) == []


def test_stopping_withdraws_future_doses_and_keeps_the_past(db_session: Any) -> None:
    s = stay(db_session)
    rx = prescription(db_session, s, NOW, frequency="QID")
    later = NOW + timedelta(days=1, hours=3)  # 09:00 BST the next day
    with clock.freeze(later):
        past = [d for d in doses(db_session, rx.id) if d.due_at < later]
        past[0].status = "given"
        db_session.flush()
        prescribing.change_status(db_session, _doctor(db_session), rx.id, rx.version, "stopped",
                                  "No longer needed")
    statuses = {d.id: d.status for d in doses(db_session, rx.id)}
    assert statuses[past[0].id] == "given"
    assert all(statuses[d.id] in ("due", "given") for d in past)  # the past is untouched
    future = [d for d in doses(db_session, rx.id) if d.due_at >= later]
    assert future and all(d.status == "withdrawn" for d in future)


def test_hold_then_resume_reopens_the_future_without_duplicates(db_session: Any) -> None:
    s = stay(db_session)
    rx = prescription(db_session, s, NOW, frequency="BID")
    doctor = _doctor(db_session)
    with clock.freeze(NOW):
        prescribing.change_status(db_session, doctor, rx.id, rx.version, "held", "Nil by mouth")
        assert doses(db_session, rx.id, "due") == []
    with clock.freeze(NOW + timedelta(days=1)):
        prescribing.change_status(db_session, doctor, rx.id, rx.version, "resumed")
    open_now = doses(db_session, rx.id, "due")
    assert open_now and all(d.due_at >= NOW + timedelta(days=1) for d in open_now)
    counts = db_session.execute(select(ScheduledDose.due_at, func.count()).where(
        ScheduledDose.prescription_id == rx.id).group_by(ScheduledDose.due_at)).all()
    assert all(n == 1 for _, n in counts)
    # The day it was held stays withdrawn.
    assert any(d.status == "withdrawn" and d.due_at < NOW + timedelta(days=1)
               for d in doses(db_session, rx.id))


def test_a_verified_change_replans_on_the_replacement(db_session: Any) -> None:
    s = stay(db_session)
    rx = prescription(db_session, s, NOW, frequency="TID")
    doctor = _doctor(db_session)
    with clock.freeze(NOW):
        new = prescribing.change_prescription(
            db_session, doctor, rx.id, rx.version,
            prescribing.Order(drug_id=s.drug.id, dose="500", dose_unit="mg", frequency="BID"),
            prescribing.Overrides({"allergy": "ok", "duplicate": "ok", "max_dose": "ok"}),
            reason="Fewer doses")
        assert doses(db_session, rx.id, "due") == []
        assert doses(db_session, new.id) == []  # not yet verified
        new.verification = "verified"
        new.verified_at = NOW
        db_session.flush()
        events.prescription_changed.send(db_session, prescription_id=new.id,
                                         patient_id=new.patient_id, action="verified")
    assert len(doses(db_session, new.id, "due")) == 14


def test_discharge_withdraws_the_stays_future_doses(db_session: Any) -> None:
    s = stay(db_session)
    rx = prescription(db_session, s, NOW, frequency="QD")
    with clock.freeze(NOW):
        s.encounter.status = "finished"
        db_session.flush()
        events.discharged.send(db_session, encounter_id=s.encounter.id, patient_id=s.patient.id,
                               ward_id=None, bed_id=None, from_ward_id=s.ward.id, from_bed_id=None)
    assert doses(db_session, rx.id, "due") == []
    assert len(doses(db_session, rx.id, "withdrawn")) == 7
    # The daily job does not bring them back for a finished stay.
    assert planning.extend_horizon(db_session, NOW + timedelta(days=1)).doses == 0


def test_the_daily_job_rolls_the_horizon_one_day_and_is_idempotent(db_session: Any) -> None:
    s = stay(db_session)
    rx = prescription(db_session, s, NOW, frequency="QD")
    tomorrow = NOW + timedelta(days=1)
    first = planning.extend_horizon(db_session, tomorrow)
    second = planning.extend_horizon(db_session, tomorrow)
    assert first.doses >= 1 and second.doses == 0
    assert len(doses(db_session, rx.id)) == 8


def _doctor(session: Any) -> Any:
    from tests import factories

    return factories.staff(session, "doctor")


def test_a_real_discharge_withdraws_and_its_cancellation_replans(db_session: Any) -> None:
    from app.domain.admissions import adt

    s = stay(db_session)
    rx = prescription(db_session, s, NOW, frequency="BID")
    doctor = _doctor(db_session)
    with clock.freeze(NOW):
        adt.discharge(db_session, doctor, s.encounter.id, summary="Recovered, home today.",
                      disposition="home")
        assert doses(db_session, rx.id, "due") == []
        with pytest.raises(DomainError) as exc:
            services.record_dose(db_session, s.nurse, doses(db_session, rx.id)[0].id, "given")
        assert "discharged" in exc.value.message
        adt.cancel_discharge(db_session, doctor, s.encounter.id, "Discharged the wrong patient")
    assert len(doses(db_session, rx.id, "due")) == 14


def test_a_replacement_does_not_owe_a_dose_given_early_on_the_old_prescription(db_session: Any) -> None:
    """09:00 given early at 08:40, the doctor changes the order at 08:45, the pharmacist
    verifies at 08:50: the replacement must not show 09:00 as due again."""
    s = stay(db_session)
    rx = prescription(db_session, s, NOW - timedelta(days=1), frequency="TID")
    nine = NOW + timedelta(hours=1)
    old_nine = next(d for d in doses(db_session, rx.id) if d.due_at == nine)
    with clock.freeze(nine - timedelta(minutes=20)):
        services.record_dose(db_session, s.nurse, old_nine.id, "given")
    doctor = _doctor(db_session)
    with clock.freeze(nine - timedelta(minutes=15)):
        new = prescribing.change_prescription(
            db_session, doctor, rx.id, rx.version,
            prescribing.Order(drug_id=s.drug.id, dose="500", dose_unit="mg", frequency="TID"),
            prescribing.Overrides({"allergy": "ok", "duplicate": "ok", "max_dose": "ok"}),
            reason="Lower dose")
    at = nine - timedelta(minutes=10)
    with clock.freeze(at):
        new.verification = "verified"
        new.verified_at = at
        db_session.flush()
        events.prescription_changed.send(db_session, prescription_id=new.id,
                                         patient_id=new.patient_id, action="verified")
    planned = [d.due_at for d in doses(db_session, new.id, "due")]
    assert nine not in planned
    assert nine + timedelta(hours=4) in planned  # 13:00 is owed, by the replacement
    # A replacement of the replacement still sees the 09:00 given on the first.
    third = prescription(db_session, s, at, frequency="TID", plan=False, replaces_id=new.id)
    planning.plan_prescription(db_session, third.id, at)
    assert nine not in [d.due_at for d in doses(db_session, third.id)]
