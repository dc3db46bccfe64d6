"""The no-show job: still-booked appointments become no-shows a configured time after their
start, audited as the system, once; the rates the desk and the report show follow."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.core import clock
from app.core.audit import AuditEvent
from app.core.jobs import PeriodicJobState
from app.core.security import SYSTEM
from app.domain.frontdesk import services as frontdesk
from app.domain.scheduling.models import Appointment
from app.jobs.runner import run_periodic
from app.jobs.schedule import BY_NAME
from tests import factories
from tests.domain.frontdesk import support
from tests.domain.frontdesk.support import MONDAY_9AM


@pytest.fixture()
def monday() -> Iterator[Any]:
    with clock.freeze(MONDAY_9AM) as traveller:
        yield traveller


def _status(session: Any, appointment_id: int) -> str:
    return session.scalar(select(Appointment.status).where(Appointment.id == appointment_id))


def _no_show_audits(session: Any) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "appointment.no_show")))


def test_the_job_marks_only_appointments_past_the_grace(db_session: Any, monday: Any, app: Any) -> None:
    assert app.config["NO_SHOW_AFTER_MINUTES"] == 30
    clinic = support.clinic(db_session)
    patient = factories.patient(db_session)
    ids = {
        "late": support.appointment(db_session, MONDAY_9AM - timedelta(minutes=30), patient, clinic).id,
        "yesterday": support.appointment(db_session, MONDAY_9AM - timedelta(days=1), patient, clinic).id,
        "grace": support.appointment(db_session, MONDAY_9AM - timedelta(minutes=29), patient, clinic).id,
        "arrived": support.appointment(db_session, MONDAY_9AM - timedelta(hours=2), patient, clinic,
                                       status="checked-in").id,
        "cancelled": support.appointment(db_session, MONDAY_9AM - timedelta(hours=2), patient, clinic,
                                         status="cancelled").id,
        "later": support.appointment(db_session, MONDAY_9AM + timedelta(hours=1), patient, clinic).id,
    }
    patient_id = patient.id
    db_session.commit()
    assert run_periodic("mark-no-shows") == "ok"
    statuses = {k: _status(db_session, v) for k, v in ids.items()}
    assert statuses == {"late": "no-show", "yesterday": "no-show", "grace": "booked",
                        "arrived": "checked-in", "cancelled": "cancelled", "later": "booked"}
    audits = _no_show_audits(db_session)
    assert sorted(int(a.entity_id or 0) for a in audits) == sorted([ids["late"], ids["yesterday"]])
    assert all(a.actor_id is None and a.actor_label == "system" and a.patient_id == patient_id
               and "30 minutes" in (a.reason or "") for a in audits)
    state = db_session.get(PeriodicJobState, "mark-no-shows")
    db_session.refresh(state)
    assert state.last_outcome == "ok"

    # Idempotent: running again changes nothing and records nothing.
    assert run_periodic("mark-no-shows") == "ok"
    assert len(_no_show_audits(db_session)) == 2
    # Time passes: the one in its grace period goes too.
    monday.advance(minutes=1)
    run_periodic("mark-no-shows")
    assert _status(db_session, ids["grace"]) == "no-show"


def test_the_grace_is_configurable(db_session: Any, monday: Any, app: Any, monkeypatch: Any) -> None:
    monkeypatch.setitem(app.config, "NO_SHOW_AFTER_MINUTES", 90)
    appointment_id = support.appointment(db_session, MONDAY_9AM - timedelta(hours=1)).id
    assert frontdesk.mark_no_shows(db_session, SYSTEM) == 0
    assert _status(db_session, appointment_id) == "booked"


def test_the_job_is_in_the_periodic_table() -> None:
    spec = BY_NAME["mark-no-shows"]
    assert spec.every == timedelta(minutes=5) and spec.func == "app.jobs.frontdesk.mark_no_shows"


def test_no_show_rates_per_clinic_and_per_patient(db_session: Any, monday: Any) -> None:
    cardiology, eyes = support.clinic(db_session, name="Cardiology"), support.clinic(db_session, name="Eyes")
    often, seldom = factories.patient(db_session, family="Often"), factories.patient(db_session, family="Seldom")
    week = [MONDAY_9AM - timedelta(days=d) for d in range(1, 7)]
    for when in week[:3]:
        support.appointment(db_session, when, often, cardiology)  # missed: still booked
    support.appointment(db_session, week[3], often, cardiology, status="completed")
    support.appointment(db_session, week[4], seldom, eyes, status="checked-in")
    support.appointment(db_session, week[5], seldom, eyes)  # missed
    support.appointment(db_session, week[0], seldom, eyes, status="cancelled")  # not counted
    support.appointment(db_session, MONDAY_9AM + timedelta(days=1), seldom, eyes)  # future: not counted
    assert frontdesk.mark_no_shows(db_session, SYSTEM) == 4
    since, until = MONDAY_9AM - timedelta(days=30), MONDAY_9AM
    by_clinic = frontdesk.no_show_rates(db_session, since, until)
    assert (by_clinic[cardiology.id].no_shows, by_clinic[cardiology.id].kept) == (3, 4)
    assert by_clinic[eyes.id].percent == "50%"
    by_patient = frontdesk.no_show_rates(db_session, since, until, by="patient", ids=[often.id, seldom.id])
    assert by_patient[often.id].rate == pytest.approx(0.75)
    report = frontdesk.no_show_report(db_session, SYSTEM, date(2026, 11, 1), date(2026, 11, 23))
    assert [(c.name, r.percent) for c, r in report.clinics] == [("Cardiology", "75%"), ("Eyes", "50%")]
    assert (report.total.no_shows, report.total.kept) == (4, 6)
    assert [p.family_name for p, _ in report.patients] == ["Often"]  # two or more no-shows
    count = db_session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "appointment.no_show"))
    assert count == 4
