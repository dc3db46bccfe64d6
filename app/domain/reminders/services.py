"""Appointment reminders as due rows: scheduled when an appointment is booked, withdrawn when it
is cancelled or moved, and delivered (once) by trying the patient's channels in order.

Delivery re-checks the appointment at send time, so a reminder whose appointment was cancelled
or moved after its job was queued is skipped, not sent. When every channel fails, the job
fails and the platform retries it with its backoff; the failed attempts are kept (see
`_keep_failed_attempts`) even though the job's transaction is rolled back.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from app.core import audit, clock, jobs
from app.core.db import DbSession
from app.core.errors import DomainError
from app.core.security import Actor, Perm, SystemActor, authorize
from app.domain.patients.models import Patient
from app.domain.reminders import channels as channel_registry
from app.domain.reminders.channels import Channel, ChannelError, Message
from app.domain.reminders.models import Reminder, ReminderAttempt
from app.domain.scheduling.models import Appointment

log = logging.getLogger("infirmary.reminders")

REMINDER_JOB = "reminder.send"
REMINDER_ACTOR = SystemActor("reminders", frozenset({Perm.PATIENT_READ}))
CHANNEL_CHOICES = ("email", "sms", "none")
class ReminderUndelivered(Exception):
    """Every channel failed; the due row is retried with the platform's backoff."""


def _is_postgres(session: DbSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# --- scheduling and withdrawing ---------------------------------------------------------------

def _offsets() -> list[int]:
    return sorted({int(h) for h in current_app.config.get("REMINDER_OFFSETS_HOURS") or () if int(h) > 0},
                  reverse=True)


def _add(session: DbSession, appointment: Appointment, offset: int, due_at: datetime) -> Reminder:
    reminder = Reminder(appointment_id=appointment.id, patient_id=appointment.patient_id,
                        offset_hours=offset, for_start_at=appointment.start_at, due_at=due_at,
                        status="scheduled")
    session.add(reminder)
    session.flush()
    row = jobs.schedule(session, REMINDER_JOB, {"reminder_id": reminder.id}, due_at=due_at,
                        queue="reminders", dedupe_key=f"reminder:{reminder.id}")
    reminder.due_job_id = row.id
    session.flush()
    return reminder


def schedule_reminders(session: DbSession, appointment_id: int) -> list[Reminder]:
    """Owe the appointment its reminders (REMINDER_OFFSETS_HOURS before the start). Reminders
    for an earlier start time are withdrawn. A reminder whose time has already passed (a late
    booking) is folded into one sent now, if the start is at least REMINDER_MIN_LEAD_MINUTES
    away. Running it again changes nothing."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None or appointment.status != "booked":
        return []
    withdraw_reminders(session, appointment.id, "The appointment moved.", keep_start=appointment.start_at)
    existing = {r.offset_hours: r for r in session.scalars(select(Reminder).where(
        Reminder.appointment_id == appointment.id, Reminder.for_start_at == appointment.start_at))}
    now = clock.now()
    created: list[Reminder] = []
    missed: list[int] = []
    for offset in _offsets():
        due = appointment.start_at - timedelta(hours=offset)
        if offset in existing:
            continue
        if due <= now:
            missed.append(offset)
        else:
            created.append(_add(session, appointment, offset, due))
    lead = timedelta(minutes=int(current_app.config.get("REMINDER_MIN_LEAD_MINUTES", 120)))
    if missed and not existing and not created and appointment.start_at - now >= lead:
        created.append(_add(session, appointment, min(missed), now))
    return created


def withdraw_reminders(session: DbSession, appointment_id: int, why: str,
                       keep_start: datetime | None = None) -> int:
    """Reminders not yet sent for this appointment (except those for `keep_start`) will not be:
    marked cancelled, and their pending due rows cancelled. A due row already on a queue finds
    its reminder cancelled and sends nothing."""
    stmt = select(Reminder).where(Reminder.appointment_id == appointment_id, Reminder.status == "scheduled")
    if keep_start is not None:
        stmt = stmt.where(Reminder.for_start_at != keep_start)
    if _is_postgres(session):
        # A reminder being sent right now is locked by its delivery: wait, and leave it as sent.
        stmt = stmt.with_for_update()
    reminders = list(session.scalars(stmt.execution_options(populate_existing=True)))
    for reminder in reminders:
        reminder.status, reminder.note = "cancelled", why
    job_ids = [r.due_job_id for r in reminders if r.due_job_id is not None]
    if job_ids:
        session.execute(
            update(jobs.DueJob).where(jobs.DueJob.id.in_(job_ids), jobs.DueJob.status == "pending")
            .values(status="cancelled").execution_options(synchronize_session=False)
        )
    session.flush()
    return len(reminders)


def on_appointment_booked(session: DbSession, *, appointment_id: int, **_: Any) -> None:
    schedule_reminders(session, appointment_id)


def on_appointment_cancelled(session: DbSession, *, appointment_id: int, **_: Any) -> None:
    withdraw_reminders(session, appointment_id, "The appointment was cancelled.")


def on_appointment_rescheduled(session: DbSession, *, appointment_id: int, **kwargs: Any) -> None:
    """A reschedule either moves the appointment in place or cancels it and books a new one
    pointing back at it; either way the old time's reminders go and the new time's are owed."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        return
    previous = kwargs.get("previous_id") or kwargs.get("old_appointment_id") or appointment.rescheduled_from_id
    if previous:
        withdraw_reminders(session, int(previous), "The appointment was rescheduled.")
    if appointment.status == "booked":
        schedule_reminders(session, appointment.id)
    else:
        withdraw_reminders(session, appointment.id, "The appointment was rescheduled.")


# --- delivery --------------------------------------------------------------------------------

def _when(appointment: Appointment, tz: str) -> tuple[str, str]:
    local = clock.to_local(appointment.start_at, tz)
    return f"{local:%A} {local.day} {local:%B %Y}", f"{local:%H:%M}"


def compose(channel: str, to: str, reminder: Reminder, appointment: Appointment, patient: Patient) -> Message:
    """The reminder as this channel carries it: a full e-mail, or a short SMS. No MRN and no
    clinical detail beyond the clinic's name leaves the hospital."""
    hospital = str(current_app.config["HOSPITAL_NAME"])
    day, at = _when(appointment, str(current_app.config["HOSPITAL_TIMEZONE"]))
    clinic = appointment.clinic.name
    subject = f"Appointment reminder: {clinic}, {day} at {at}"
    if channel == "sms":
        text = (f"{hospital}: reminder of your {clinic} appointment on {day} at {at}. "
                "If you cannot come, please let us know.")
    else:
        text = (f"Dear {patient.given_names} {patient.family_name},\n\n"
                f"This is a reminder of your appointment at {hospital}:\n\n"
                f"    {clinic} ({appointment.appointment_type.name})\n"
                f"    {day} at {at}\n\n"
                "Please arrive ten minutes early and report to reception.\n"
                "If you cannot come, please let us know so that we can offer the time to someone else.\n\n"
                f"{hospital}\n")
    return Message(to=to, subject=subject, text=text, reference=f"reminder-{reminder.id}")


def _lock(session: DbSession, reminder_id: int) -> Reminder | None:
    stmt = select(Reminder).where(Reminder.id == reminder_id).execution_options(populate_existing=True)
    if _is_postgres(session):
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def _skip(session: DbSession, reminder: Reminder, why: str) -> str:
    reminder.status, reminder.note = "skipped", why
    audit.record(session, REMINDER_ACTOR, "reminder.skipped", reminder, patient_id=reminder.patient_id,
                 after={"appointment_id": reminder.appointment_id}, reason=why)
    return "skipped"


def _why_not(appointment: Appointment | None, reminder: Reminder, now: datetime) -> str | None:
    if appointment is None:
        return "The appointment no longer exists."
    if appointment.status == "cancelled":
        return "The appointment was cancelled."
    if appointment.status != "booked":
        return f"The appointment is {appointment.status}."
    if appointment.start_at != reminder.for_start_at:
        return "The appointment moved."
    if appointment.start_at <= now:
        return "The appointment has already started."
    return None


def deliver(session: DbSession, reminder_id: int, available: dict[str, Channel] | None = None) -> str:
    """Send one reminder: the patient's preferred channel first, then the other. Returns
    "sent" or "skipped" (or the status it already had: a re-run sends nothing twice); raises
    ReminderUndelivered when every channel failed.

    Each send is claimed ("sending") and committed before the message leaves, and recorded
    after it left. A worker killed in between leaves "sending" behind; the retry then marks the
    reminder "unconfirmed" for staff instead of sending it a second time."""
    reminder = _lock(session, reminder_id)
    if reminder is None:
        return "missing"
    if reminder.status == "sending":
        reminder.status = "unconfirmed"
        reminder.note = (f"A send by {reminder.channel} was interrupted; it may or may not have "
                         "reached the patient, so it was not sent again.")
        audit.record(session, REMINDER_ACTOR, "reminder.unconfirmed", reminder,
                     patient_id=reminder.patient_id, reason=reminder.note,
                     after={"appointment_id": reminder.appointment_id})
        return "unconfirmed"
    if reminder.status != "scheduled":
        return reminder.status
    appointment = session.get(Appointment, reminder.appointment_id)
    why = _why_not(appointment, reminder, clock.now())
    if why is not None:
        return _skip(session, reminder, why)
    assert appointment is not None
    patient = appointment.patient
    if patient.reminder_channel == "none":
        return _skip(session, reminder, "The patient declined reminders.")
    config = current_app.config
    available = channel_registry.configured(config) if available is None else available
    if not available:
        return _skip(session, reminder, "No reminder channel is configured (SMTP_HOST, SMS_GATEWAY_URL).")
    ordered = channel_registry.order(patient.reminder_channel, str(config.get("REMINDER_DEFAULT_CHANNEL", "sms")),
                                     available)
    targets = [(ch, to) for ch in ordered if (to := ch.recipient(patient))]
    if not targets:
        return _skip(session, reminder, "No e-mail address or mobile number for a channel in use.")
    messages = [(channel, to, compose(channel.name, to, reminder, appointment, patient))
                for channel, to in targets]
    appointment_id = appointment.id
    failures: list[str] = []
    for channel, to, message in messages:
        reminder.status, reminder.channel = "sending", channel.name
        session.commit()
        attempted_at = clock.now()
        try:
            channel.send(message)
        except ChannelError as exc:
            log.warning("reminder channel failed", extra={"reminder_id": reminder_id, "channel": channel.name})
            reminder = _relock(session, reminder_id)
            reminder.status = "scheduled"
            session.add(ReminderAttempt(reminder_id=reminder_id, channel=channel.name, recipient=to,
                                        status="failed", error=str(exc)[:2000], attempted_at=attempted_at))
            session.commit()
            failures.append(f"{channel.name}: {exc}")
            continue
        reminder = _relock(session, reminder_id)
        session.add(ReminderAttempt(reminder_id=reminder_id, channel=channel.name, recipient=to,
                                    status="sent", attempted_at=attempted_at))
        reminder.status, reminder.channel, reminder.sent_at = "sent", channel.name, clock.now()
        reminder.note = None
        audit.record(session, REMINDER_ACTOR, "reminder.sent", reminder, patient_id=reminder.patient_id,
                     after={"appointment_id": appointment_id, "channel": channel.name,
                            "failed_over": [f.split(":", 1)[0] for f in failures]})
        return "sent"
    raise ReminderUndelivered("; ".join(failures))


def _relock(session: DbSession, reminder_id: int) -> Reminder:
    reminder = _lock(session, reminder_id)
    assert reminder is not None  # reminders are never deleted
    return reminder


# --- what staff see and set ------------------------------------------------------------------

def reminders_for(session: DbSession, actor: Actor, appointment_id: int) -> list[Reminder]:
    """An appointment's reminders with their attempts, newest first, for staff who may see the
    patient."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        return []
    authorize(actor, Perm.PATIENT_READ, appointment.patient)
    return list(session.scalars(select(Reminder).where(Reminder.appointment_id == appointment_id)
                                .order_by(Reminder.due_at.desc(), Reminder.id.desc())))


def failed_jobs(session: DbSession, reminders: list[Reminder]) -> set[int]:
    """Reminders whose job gave up after its retries (shown as failed)."""
    ids = [r.due_job_id for r in reminders if r.due_job_id is not None and r.status == "scheduled"]
    if not ids:
        return set()
    failed = set(session.scalars(select(jobs.DueJob.id).where(jobs.DueJob.id.in_(ids),
                                                               jobs.DueJob.status == "failed")))
    return {r.id for r in reminders if r.due_job_id in failed}


def set_contact(session: DbSession, actor: Actor, patient_id: int, email: str | None,
                channel: str | None) -> Patient:
    """Record where the patient wants reminders (their e-mail, and e-mail, SMS or none)."""
    authorize(actor, Perm.PATIENT_WRITE)
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise DomainError("No such patient.")
    authorize(actor, Perm.PATIENT_READ, patient)
    email = (email or "").strip() or None
    if email is not None:
        local, at, domain = email.rpartition("@")
        if not at or not local or "." not in domain or " " in email or len(email) > 200:
            raise DomainError("Enter an e-mail address such as name@example.org.", field="email")
    channel = (channel or "").strip() or None
    if channel is not None and channel not in CHANNEL_CHOICES:
        raise DomainError("Choose e-mail, SMS or no reminders.", field="channel")
    if channel == "email" and email is None:
        raise DomainError("Enter the e-mail address to send reminders to.", field="email")
    before = {"email": patient.email, "reminder_channel": patient.reminder_channel}
    patient.email, patient.reminder_channel = email, channel
    session.flush()
    changed_before, changed_after = audit.diff(before, {"email": email, "reminder_channel": channel})
    if changed_after:
        audit.record(session, actor, "patient.reminder_contact_changed", patient, patient_id=patient.id,
                     before=changed_before, after=changed_after)
    return patient
