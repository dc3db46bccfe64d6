"""The appointment's reminder history, the patient's reminder contact, the no-show report."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.core import clock
from app.core.audit import AuditEvent
from app.core.security import SYSTEM
from app.domain.frontdesk import services as frontdesk
from app.domain.patients.models import Patient
from app.domain.reminders.models import Reminder, ReminderAttempt
from tests import factories
from tests.domain.frontdesk import support
from tests.domain.frontdesk.support import MONDAY_9AM


@pytest.fixture()
def monday() -> Iterator[Any]:
    with clock.freeze(MONDAY_9AM) as traveller:
        yield traveller


def test_the_appointment_shows_every_reminder_attempt(client: Any, db_session: Any, login_as: Any, monday: Any) -> None:
    with clock.freeze(MONDAY_9AM - timedelta(days=3)):
        appt = support.appointment(db_session, MONDAY_9AM + timedelta(minutes=30), announce=True)
    [reminder] = db_session.scalars(select(Reminder).where(Reminder.appointment_id == appt.id)).all()
    db_session.add_all([
        ReminderAttempt(reminder_id=reminder.id, channel="email", recipient="mai@example.org", status="failed",
                        error="SMTP 127.0.0.1:2525: ConnectionRefusedError", attempted_at=MONDAY_9AM - timedelta(hours=24)),
        ReminderAttempt(reminder_id=reminder.id, channel="sms", recipient="+447700900123", status="sent",
                        attempted_at=MONDAY_9AM - timedelta(hours=24)),
    ])
    reminder.status, reminder.channel = "sent", "sms"
    frontdesk.check_in(db_session, SYSTEM, appt.id)
    db_session.commit()
    login_as("reception")
    page = client.get(f"/frontdesk/appointments/{appt.id}").get_data(as_text=True)
    assert "24 h before" in page and "due Sun 22 Nov 09:30" in page
    assert "ConnectionRefusedError" in page and "+447700900123" in page and "by sms" in page
    assert "O-001" in page and "checked in" in page
    assert client.get("/frontdesk/appointments/999999").status_code == 404


def test_reminder_contact_is_validated_and_audited(client: Any, db_session: Any, login_as: Any, monday: Any) -> None:
    appt = support.appointment(db_session, MONDAY_9AM + timedelta(days=2))
    db_session.commit()
    login_as("reception")
    url = f"/frontdesk/appointments/{appt.id}/reminder-contact"
    bad = client.post_form(url, {"email": "mai at example", "channel": "email"}, htmx=True)
    assert bad.status_code == 422
    assert 'id="email-error"' in bad.get_data(as_text=True) and "such as name@example.org" in bad.get_data(as_text=True)
    needs_address = client.post_form(url, {"email": "", "channel": "email"}, htmx=True)
    assert needs_address.status_code == 422 and "Enter the e-mail address" in needs_address.get_data(as_text=True)
    ok = client.post_form(url, {"email": "mai@example.org", "channel": "email"}, htmx=True)
    assert ok.status_code == 200 and "Reminder contact saved." in ok.get_data(as_text=True)
    db_session.expire_all()
    patient = db_session.get(Patient, appt.patient_id)
    assert (patient.email, patient.reminder_channel) == ("mai@example.org", "email")
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.reminder_contact_changed"))
    assert event is not None and event.patient_id == patient.id and "mai@example.org" in (event.after or "")


def test_a_doctor_sees_the_contact_but_cannot_change_it(client: Any, db_session: Any, login_as: Any, monday: Any) -> None:
    appt = support.appointment(db_session, MONDAY_9AM + timedelta(days=2))
    db_session.commit()
    login_as("doctor")
    page = client.get(f"/frontdesk/appointments/{appt.id}").get_data(as_text=True)
    assert 'id="contact-form"' in page and ">Save<" not in page
    assert client.post_form(f"/frontdesk/appointments/{appt.id}/reminder-contact", {"email": "x@y.org"}).status_code == 403


def test_the_no_show_report(client: Any, db_session: Any, login_as: Any, monday: Any) -> None:
    clinic = support.clinic(db_session, name="Dermatology")
    often = factories.patient(db_session, family="Often", given="Missed")
    for days in (2, 3):
        support.appointment(db_session, MONDAY_9AM - timedelta(days=days), often, clinic, status="no-show")
    support.appointment(db_session, MONDAY_9AM - timedelta(days=4), often, clinic, status="completed")
    support.appointment(db_session, MONDAY_9AM - timedelta(days=40), often, clinic, status="no-show")  # before
    db_session.commit()
    login_as("reception")
    page = client.get("/frontdesk/reports/no-shows").get_data(as_text=True)
    assert "Dermatology" in page and "67%" in page and "OFTEN, Missed" in page
    wider = client.get_htmx("/frontdesk/reports/no-shows?since=2026-10-01&until=2026-11-23").get_data(as_text=True)
    assert "75%" in wider
    backwards = client.get_htmx("/frontdesk/reports/no-shows?since=2026-11-23&until=2026-11-01")
    assert backwards.status_code == 422 and "The end date is before the start date." in backwards.get_data(as_text=True)
    garbage = client.get_htmx("/frontdesk/reports/no-shows?since=yesterday")
    assert garbage.status_code == 422 and 'id="since-error"' in garbage.get_data(as_text=True)
    with client.session_transaction() as sess:
        sess.clear()
    login_as("nurse")
    assert client.get("/frontdesk/reports/no-shows").status_code == 403
