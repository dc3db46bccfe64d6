"""The medication round jobs: reminders once per dose, overdue alerts once per dose (resolved
when the dose is recorded or can no longer be given), and the daily plan roll."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from app.core import clock
from app.domain.administration import services
from app.domain.administration.models import ScheduledDose
from app.domain.escalation.models import Alert
from app.domain.notifications.models import Notification
from app.jobs import medication_round as job
from tests import factories
from tests.domain.administration.builders import prescription, stay

NOW = datetime(2026, 6, 10, 7, 0, tzinfo=UTC)  # 08:00 BST
NINE = NOW + timedelta(hours=1)


def notes_for(session: Any, user_id: int) -> list[Notification]:
    return list(session.scalars(select(Notification).where(Notification.recipient_id == user_id,
                                                           Notification.kind == "dose.due")))


def test_the_responsible_nurse_is_reminded_once_per_dose(db_session: Any) -> None:
    s = stay(db_session)
    prescription(db_session, s, NOW, frequency="TID")
    prescription(db_session, s, NOW, frequency="BID", drug=factories.drug(db_session, name="Metformin"))
    with clock.freeze(NINE + timedelta(minutes=1)):
        job.sweep_doses(db_session)
        job.sweep_doses(db_session)
    reminders = notes_for(db_session, s.nurse.id)
    assert len(reminders) == 1  # both 09:00 doses in one notice
    assert reminders[0].text.startswith("2 doses due now") and "Metformin" in reminders[0].text
    assert reminders[0].link and reminders[0].link.endswith(f"/wards/{s.ward.id}/medication-round")
    with clock.freeze(NINE + timedelta(hours=4, minutes=1)):  # 13:00: the TID dose
        job.sweep_doses(db_session)
    assert len(notes_for(db_session, s.nurse.id)) == 2


def test_without_a_responsible_nurse_the_wards_nurses_are_told(db_session: Any) -> None:
    s = stay(db_session, nurse_is_responsible=False)
    prescription(db_session, s, NOW, frequency="QD")
    with clock.freeze(NINE):
        job.sweep_doses(db_session)
    assert len(notes_for(db_session, s.nurse.id)) == 1


def test_overdue_doses_raise_one_alert_each_and_recording_resolves_it(db_session: Any) -> None:
    s = stay(db_session)
    rx = prescription(db_session, s, NOW, frequency="QD")
    dose = db_session.scalar(select(ScheduledDose).where(ScheduledDose.prescription_id == rx.id)
                             .order_by(ScheduledDose.due_at).limit(1))
    with clock.freeze(NINE + timedelta(minutes=59)):
        job.sweep_doses(db_session)
    assert db_session.scalar(select(func.count()).select_from(Alert)) == 0
    with clock.freeze(NINE + timedelta(minutes=61)):
        job.sweep_doses(db_session)
        job.sweep_doses(db_session)
    alert = db_session.scalar(select(Alert).where(Alert.subject_key == f"dose:{dose.id}"))
    assert alert is not None and alert.kind == "dose_overdue" and alert.status == "open"
    assert db_session.scalar(select(func.count()).select_from(Alert)) == 1
    with clock.freeze(NINE + timedelta(minutes=70)):
        services.record_dose(db_session, s.nurse, dose.id, "missed", "Patient off the ward")
    db_session.refresh(alert)
    assert alert.status == "resolved"


def test_a_stopped_prescription_ends_its_overdue_alert_and_raises_no_more(db_session: Any) -> None:
    s = stay(db_session)
    rx = prescription(db_session, s, NOW, frequency="QD")
    with clock.freeze(NINE + timedelta(minutes=61)):
        job.sweep_doses(db_session)
        from app.domain.prescribing import services as prescribing

        prescribing.change_status(db_session, factories.staff(db_session, "doctor"), rx.id,
                                  rx.version, "stopped", "Allergy suspected")
    alert = db_session.scalar(select(Alert))
    assert alert is not None and alert.status == "resolved"
    with clock.freeze(NINE + timedelta(days=1, minutes=61)):
        job.sweep_doses(db_session)
    assert db_session.scalar(select(func.count()).select_from(Alert)) == 1


def test_the_daily_plan_job_extends_the_horizon_idempotently(db_session: Any) -> None:
    s = stay(db_session)
    rx = prescription(db_session, s, NOW, frequency="QD")
    with clock.freeze(NOW + timedelta(days=1)):
        job.extend_dose_plan(db_session)
        job.extend_dose_plan(db_session)
    count = db_session.scalar(select(func.count()).select_from(ScheduledDose)
                              .where(ScheduledDose.prescription_id == rx.id))
    assert count == 8


def _second_patient(session: Any, s: Any) -> Any:
    from app.domain.admissions.services import current_encounters

    other = factories.admitted(session, s.ward)
    encounter = current_encounters(session, [other.id])[other.id]
    encounter.started_at = s.encounter.started_at
    session.flush()
    return other


def test_overdue_doses_reach_each_nurse_in_one_notification_and_never_the_clerks(db_session: Any) -> None:
    s = stay(db_session, nurse_is_responsible=False)
    other_nurse = factories.staff(db_session, "nurse", [s.ward.id])
    charge = factories.staff(db_session, "charge_nurse", [s.ward.id])
    housekeeper = factories.staff(db_session, "housekeeping", [s.ward.id])
    prescription(db_session, s, NOW, frequency="TID")
    prescription(db_session, s, NOW, frequency="BID", drug=factories.drug(db_session, name="Metformin"))
    other = _second_patient(db_session, s)
    factories.inpatient_prescription(db_session, other, s.drug, frequency="QD", start_at=NOW,
                                     duration_days=None)
    from app.domain.administration import planning

    planning.extend_horizon(db_session, NOW)
    with clock.freeze(NINE):
        job.sweep_doses(db_session)
    for uid in (s.nurse.id, other_nurse.id, charge.id):
        due = notes_for(db_session, uid)
        assert len(due) == 1 and due[0].text.startswith("3 doses due now")
    assert not list(db_session.scalars(select(Notification).where(
        Notification.recipient_id == housekeeper.id)))
    with clock.freeze(NINE + timedelta(minutes=61)):
        assert job.sweep_doses(db_session) is None
    assert db_session.scalar(select(func.count()).select_from(Alert)) == 3  # one per dose
    for uid in (s.nurse.id, other_nurse.id):
        told = list(db_session.scalars(select(Notification).where(
            Notification.recipient_id == uid, Notification.kind == "alert.dose_overdue")))
        assert len(told) == 1 and told[0].text.startswith("3 doses overdue")
        assert told[0].priority == "high"
    assert not list(db_session.scalars(select(Notification).where(
        Notification.recipient_id == housekeeper.id)))
    alerts = list(db_session.scalars(select(Alert)))
    assert all(s.nurse.id in (a.recipient_ids or []) for a in alerts)


def test_a_single_overdue_dose_links_to_its_alert(db_session: Any) -> None:
    s = stay(db_session)
    prescription(db_session, s, NOW, frequency="QD")
    with clock.freeze(NINE + timedelta(minutes=61)):
        job.sweep_doses(db_session)
    alert = db_session.scalar(select(Alert))
    told = list(db_session.scalars(select(Notification).where(
        Notification.recipient_id == s.nurse.id, Notification.kind == "alert.dose_overdue")))
    assert len(told) == 1 and told[0].link and told[0].link.endswith(f"/wards/alerts/{alert.id}")
