"""Reminders from booking to delivery, run as real due rows by the scheduler pass, delivered to a
real SMTP server and a real HTTP SMS gateway: failover, retries, cancellations, idempotency."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.core import clock, events, jobs
from app.core.audit import AuditEvent
from app.domain.reminders import services as reminders
from app.domain.reminders.models import Reminder, ReminderAttempt
from app.domain.scheduling.models import Appointment
from app.jobs.runner import run_due, tick
from tests import factories
from tests.domain.frontdesk import support
from tests.domain.frontdesk.support import MONDAY_9AM
from tests.domain.reminders.servers import Gateway, Inbox, free_port, sms_gateway, smtp_server

BOOKED_AT = MONDAY_9AM - timedelta(days=3)  # Friday 09:00; the appointment is Monday 09:00


@pytest.fixture()
def inline(app: Flask) -> Iterator[None]:
    """The embedded default: no Redis, due rows delivered in-process by the scheduler pass."""
    previous = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = ""
    try:
        yield
    finally:
        app.config["REDIS_URL"] = previous


@pytest.fixture()
def smtp(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_server() as (inbox, port):
        monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
        monkeypatch.setitem(app.config, "SMTP_PORT", port)
        monkeypatch.setitem(app.config, "SMTP_FROM", "appointments@infirmary.example")
        yield inbox


@pytest.fixture()
def gateway(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    with sms_gateway() as gw:
        monkeypatch.setitem(app.config, "SMS_GATEWAY_URL", gw.url)
        yield gw


@pytest.fixture()
def friday() -> Iterator[Any]:
    with clock.freeze(BOOKED_AT) as traveller:
        yield traveller


def _book(session: Any, channel: str | None = "email", email: str | None = "mai@example.org",
          phone: str | None = "07700 900123", start: Any = MONDAY_9AM) -> int:
    """Book (as scheduling does: the row, then appointment_booked) and commit; the id, since the
    scheduler pass ends the session."""
    patient = factories.patient(session, family="Nguyễn", given="Thị Mai", phone=phone)
    patient.email, patient.reminder_channel = email, channel
    clinic = support.clinic(session, name="Cardiology")
    appointment = support.appointment(session, start, patient=patient, c=clinic, announce=True)
    session.commit()
    return appointment.id


def _reminders(session: Any, appointment_id: int) -> list[Reminder]:
    session.expire_all()
    return list(session.scalars(select(Reminder).where(Reminder.appointment_id == appointment_id)
                                .order_by(Reminder.id)))


def _attempts(session: Any, reminder_id: int) -> list[tuple[str, str]]:
    return [(a.channel, a.status) for a in session.scalars(
        select(ReminderAttempt).where(ReminderAttempt.reminder_id == reminder_id).order_by(ReminderAttempt.id))]


def test_booking_owes_reminders_at_the_configured_offsets(
    app: Flask, db_session: Any, friday: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "REMINDER_OFFSETS_HOURS", (24, 2))
    appointment_id = _book(db_session)
    due = {r.offset_hours: r for r in _reminders(db_session, appointment_id)}
    assert {h: r.due_at for h, r in due.items()} == {24: MONDAY_9AM - timedelta(hours=24),
                                                     2: MONDAY_9AM - timedelta(hours=2)}
    rows = {r.offset_hours: db_session.get(jobs.DueJob, r.due_job_id) for r in due.values()}
    assert all(row.queue == "reminders" and row.status == "pending" for row in rows.values())
    assert rows[24].due_at == MONDAY_9AM - timedelta(hours=24)
    # Hearing the booking again (a retried request, a replayed event) owes nothing more.
    events.appointment_booked.send(db_session, appointment_id=appointment_id)
    assert len(_reminders(db_session, appointment_id)) == 2


def test_a_late_booking_gets_one_reminder_now_or_none_when_too_close(
    app: Flask, db_session: Any, friday: Any
) -> None:
    soon_id = _book(db_session, start=BOOKED_AT + timedelta(hours=5))
    [now] = _reminders(db_session, soon_id)
    assert now.due_at == BOOKED_AT and now.offset_hours == 24
    too_close_id = _book(db_session, start=BOOKED_AT + timedelta(minutes=90))
    assert _reminders(db_session, too_close_id) == []


def test_the_reminder_is_e_mailed_once_at_its_time(
    app: Flask, db_session: Any, friday: Any, inline: None, smtp: Inbox
) -> None:
    appointment_id = _book(db_session)
    tick(app)
    assert smtp.messages == []  # not due yet
    friday.advance(days=2)  # Sunday 09:00: 24 hours before
    tick(app)
    [mail] = smtp.messages
    assert mail["To"] == "mai@example.org"
    assert mail["Subject"] == "Appointment reminder: Cardiology, Monday 23 November 2026 at 09:00"
    body = mail.get_content()
    assert "Dear Thị Mai Nguyễn" in body and "Monday 23 November 2026 at 09:00" in body
    [reminder] = _reminders(db_session, appointment_id)
    assert (reminder.status, reminder.channel) == ("sent", "email")
    assert _attempts(db_session, reminder.id) == [("email", "sent")]
    assert db_session.get(jobs.DueJob, reminder.due_job_id).status == "done"
    sent = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "reminder.sent"))
    assert sent is not None and sent.patient_id == db_session.get(Appointment, appointment_id).patient_id and sent.actor_label == "reminders"
    # A re-run after success sends nothing twice: the row is done, the reminder sent.
    reminder_id, due_job_id = reminder.id, reminder.due_job_id
    assert run_due(due_job_id) == "skipped"
    assert reminders.deliver(db_session, reminder_id) == "sent"
    tick(app)
    assert len(smtp.messages) == 1


def test_when_e_mail_is_down_the_reminder_fails_over_to_sms(
    app: Flask, db_session: Any, friday: Any, inline: None, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", free_port())  # nothing listens: refused
    appointment_id = _book(db_session, channel="email")
    friday.advance(days=2)
    tick(app)
    assert [m["to"] for m in gateway.received] == ["+447700900123"]
    assert "Cardiology appointment on Monday 23 November 2026 at 09:00" in gateway.received[0]["text"]
    [reminder] = _reminders(db_session, appointment_id)
    assert (reminder.status, reminder.channel) == ("sent", "sms")
    assert _attempts(db_session, reminder.id) == [("email", "failed"), ("sms", "sent")]
    failed = db_session.scalar(select(ReminderAttempt).where(ReminderAttempt.status == "failed"))
    assert "ConnectionRefusedError" in (failed.error or "")


def test_sms_first_for_a_patient_who_prefers_it(
    app: Flask, db_session: Any, friday: Any, inline: None, smtp: Inbox, gateway: Gateway
) -> None:
    appointment_id = _book(db_session, channel="sms")
    friday.advance(days=2)
    tick(app)
    assert len(gateway.received) == 1 and smtp.messages == []
    assert _reminders(db_session, appointment_id)[0].channel == "sms"


def test_when_both_channels_fail_the_job_retries_with_backoff_and_keeps_every_attempt(
    app: Flask, db_session: Any, friday: Any, inline: None, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", free_port())
    gateway.status = 503
    appointment_id = _book(db_session, channel="sms")
    friday.advance(days=2)
    tick(app)
    [reminder] = _reminders(db_session, appointment_id)
    row = db_session.get(jobs.DueJob, reminder.due_job_id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.due_at == clock.now() + timedelta(seconds=jobs.BACKOFF[0])
    assert "503" in (row.last_error or "") and "ConnectionRefusedError" in (row.last_error or "")
    assert reminder.status == "scheduled"
    assert _attempts(db_session, reminder.id) == [("sms", "failed"), ("email", "failed")]
    # The gateway recovers; the retry, at its backoff time, gets through.
    gateway.status = 200
    tick(app)
    assert gateway.received == []  # not yet: backing off
    friday.advance(seconds=jobs.BACKOFF[0])
    tick(app)
    assert len(gateway.received) == 1
    [reminder] = _reminders(db_session, appointment_id)
    assert reminder.status == "sent"
    assert _attempts(db_session, reminder.id) == [("sms", "failed"), ("email", "failed"), ("sms", "sent")]


def test_a_cancelled_appointment_gets_no_reminder(
    app: Flask, db_session: Any, friday: Any, inline: None, smtp: Inbox, gateway: Gateway
) -> None:
    appointment_id = _book(db_session)
    db_session.get(Appointment, appointment_id).status = "cancelled"
    events.appointment_cancelled.send(db_session, appointment_id=appointment_id, reason="patient rang")
    db_session.commit()
    [reminder] = _reminders(db_session, appointment_id)
    assert reminder.status == "cancelled"
    assert db_session.get(jobs.DueJob, reminder.due_job_id).status == "cancelled"
    friday.advance(days=2, hours=1)
    tick(app)
    assert smtp.messages == [] and gateway.received == []


def test_a_reminder_already_queued_rechecks_and_skips_a_cancelled_appointment(
    app: Flask, db_session: Any, friday: Any, inline: None, smtp: Inbox
) -> None:
    appointment_id = _book(db_session)
    [reminder] = _reminders(db_session, appointment_id)
    friday.advance(days=2)
    jobs.dispatch(db_session)  # on its way to a worker...
    db_session.commit()
    db_session.get(Appointment, appointment_id).status = "cancelled"  # ...cancelled behind its back
    db_session.commit()
    assert run_due(reminder.due_job_id) == "done"
    assert smtp.messages == []
    [reminder] = _reminders(db_session, appointment_id)
    assert (reminder.status, reminder.note) == ("skipped", "The appointment was cancelled.")


def test_rescheduling_moves_the_reminder_to_the_new_time(
    app: Flask, db_session: Any, friday: Any, inline: None, smtp: Inbox
) -> None:
    old = db_session.get(Appointment, _book(db_session))
    new = support.appointment(db_session, MONDAY_9AM + timedelta(days=1), patient=old.patient, c=old.clinic)
    old.status = "cancelled"
    new.rescheduled_from_id = old.id
    events.appointment_rescheduled.send(db_session, appointment_id=new.id, previous_id=old.id)
    db_session.commit()
    assert [r.status for r in _reminders(db_session, old.id)] == ["cancelled"]
    [moved] = _reminders(db_session, new.id)
    assert moved.due_at == MONDAY_9AM and moved.status == "scheduled"
    friday.advance(days=2)
    tick(app)
    assert smtp.messages == []  # the old time's reminder is gone
    friday.advance(days=1)
    tick(app)
    [mail] = smtp.messages
    assert "Tuesday 24 November 2026 at 09:00" in mail["Subject"]


def test_with_no_channel_configured_reminders_are_skipped_saying_so(
    app: Flask, db_session: Any, friday: Any, inline: None
) -> None:
    assert not app.config["SMTP_HOST"] and not app.config["SMS_GATEWAY_URL"]
    appointment_id = _book(db_session)
    friday.advance(days=2)
    tick(app)
    [reminder] = _reminders(db_session, appointment_id)
    assert reminder.status == "skipped" and "No reminder channel is configured" in (reminder.note or "")


def test_declined_or_unreachable_patients_are_skipped_with_a_reason(
    app: Flask, db_session: Any, friday: Any, inline: None, smtp: Inbox
) -> None:
    declined_id = _book(db_session, channel="none")
    unreachable_id = _book(db_session, channel=None, email=None, phone=None)
    friday.advance(days=2)
    tick(app)
    assert smtp.messages == []
    assert _reminders(db_session, declined_id)[0].note == "The patient declined reminders."
    assert _reminders(db_session, unreachable_id)[0].note.startswith("No e-mail address or mobile number")


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="runs in the PostgreSQL + Redis pass")
def test_an_rq_worker_delivers_the_reminder(app: Flask, db_session: Any, friday: Any, smtp: Inbox) -> None:
    from rq import SimpleWorker

    connection = jobs.redis_connection(app)
    connection.flushdb()
    appointment_id = _book(db_session)
    friday.advance(days=2)
    tick(app)
    SimpleWorker([jobs.rq_queue("reminders", connection)], connection=connection).work(burst=True)
    assert [m["To"] for m in smtp.messages] == ["mai@example.org"]
    assert _reminders(db_session, appointment_id)[0].status == "sent"


def test_scheduling_services_drive_the_reminders(app: Flask, db_session: Any, friday: Any) -> None:
    """The contract with scheduling: its book, reschedule and cancel send the events these
    reminders follow."""
    from datetime import date, time

    from app.core.security import SYSTEM
    from app.domain.scheduling import configuration as conf
    from app.domain.scheduling import services as scheduling

    clinic = conf.create_clinic(db_session, SYSTEM, code="REMIND", name="Reminder clinic")
    doctor = conf.create_resource(db_session, SYSTEM, kind="clinician", name="Dr Remind", clinic_id=clinic.id)
    kind = conf.create_appointment_type(db_session, SYSTEM, code="REM15", name="Check-up", slot_minutes=15,
                                        needs=["clinician"], clinic_id=clinic.id)
    conf.create_templates(db_session, SYSTEM, resource_id=doctor.id, clinic_id=clinic.id, weekdays=[0, 1],
                          start_time=time(8, 0), end_time=time(17, 0), valid_from=date(2026, 11, 1),
                          type_ids=[kind.id])
    patient = factories.patient(db_session)
    booked = scheduling.book_appointment(db_session, SYSTEM, patient_id=patient.id, appointment_type_id=kind.id,
                                         start_at=MONDAY_9AM, resource_ids=[doctor.id])
    [first] = _reminders(db_session, booked.id)
    assert first.due_at == MONDAY_9AM - timedelta(hours=24)
    moved = scheduling.reschedule_appointment(db_session, SYSTEM, booked.id,
                                              start_at=MONDAY_9AM + timedelta(days=1, hours=1))
    assert [r.status for r in _reminders(db_session, booked.id)] == ["cancelled"]
    [second] = _reminders(db_session, moved.id)
    assert second.due_at == MONDAY_9AM + timedelta(hours=1) and second.status == "scheduled"
    scheduling.cancel_appointment(db_session, SYSTEM, moved.id, "Patient is better")
    [second] = _reminders(db_session, moved.id)
    assert second.status == "cancelled"
    assert db_session.get(jobs.DueJob, second.due_job_id).status == "cancelled"


class _DiesAfterSending:
    """A real e-mail channel on a worker that is killed right after the message left."""

    name = "email"

    def __init__(self, real: Any) -> None:
        self.real = real

    def recipient(self, patient: Any) -> Any:
        return self.real.recipient(patient)

    def send(self, message: Any) -> None:
        self.real.send(message)
        raise SystemExit("worker killed")


def test_a_worker_killed_after_sending_never_sends_the_reminder_twice(
    app: Flask, db_session: Any, friday: Any, smtp: Inbox
) -> None:
    from app.domain.reminders import channels

    appointment_id = _book(db_session)
    friday.advance(days=2)
    [reminder] = _reminders(db_session, appointment_id)
    reminder_id = reminder.id
    real = channels.configured(app.config)["email"]
    with pytest.raises(SystemExit):
        reminders.deliver(db_session, reminder_id, available={"email": _DiesAfterSending(real)})
    db_session.rollback()  # what dies with the worker
    assert len(smtp.messages) == 1
    # The retry finds the claim the dead worker committed before sending, and asks a person.
    assert reminders.deliver(db_session, reminder_id, available={"email": real}) == "unconfirmed"
    assert reminders.deliver(db_session, reminder_id, available={"email": real}) == "unconfirmed"
    assert len(smtp.messages) == 1
    [reminder] = _reminders(db_session, appointment_id)
    assert reminder.status == "unconfirmed" and "not sent again" in (reminder.note or "")
