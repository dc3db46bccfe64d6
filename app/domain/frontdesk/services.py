"""Arrivals and queues: check in an appointment or a walk-in, issue the department's next ticket,
move tickets through their states, and mark no-shows.

Appointments belong to scheduling; the front desk moves them through the arrival half of their
life (booked -> checked-in -> completed, or booked -> no-show) and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from app.core import audit, clock, events, realtime
from app.core.db import DbSession
from app.core.errors import Conflict, DomainError, NotFound
from app.core.identifiers import next_value
from app.core.security import Actor, Perm, authorize
from app.domain.frontdesk import rules
from app.domain.frontdesk.models import QueueTicket
from app.domain.patients import rules as patient_rules
from app.domain.patients.models import Patient
from app.domain.scheduling.models import Appointment, Clinic

CHECKED_IN = "checked-in"
QUEUE_EVENT = "queue.updated"


def queue_room(department: str) -> str:
    """The live room a department's queue board and queue pages watch."""
    return f"queue:{department}"


def _tz() -> str:
    return str(current_app.config["HOSPITAL_TIMEZONE"])


def today() -> date:
    return clock.today_local(_tz())


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """A hospital-local day as a UTC half-open interval."""
    zone = ZoneInfo(_tz())
    start = datetime.combine(day, time(0), zone)
    return clock.to_utc(start), clock.to_utc(datetime.combine(day + timedelta(days=1), time(0), zone))


def _is_postgres(session: DbSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _push(session: DbSession, department: str) -> None:
    realtime.push(session, queue_room(department), {"type": QUEUE_EVENT, "department": department})


def departments(session: DbSession) -> list[str]:
    """Departments that run a queue: those of the active clinics."""
    return list(session.scalars(
        select(Clinic.department).where(Clinic.active.is_(True)).distinct().order_by(Clinic.department)
    ))


def active_clinics(session: DbSession) -> list[Clinic]:
    return list(session.scalars(
        select(Clinic).where(Clinic.active.is_(True)).order_by(Clinic.department, Clinic.name)
    ))


# --- issuing tickets -------------------------------------------------------------------------

def _next_number(session: DbSession, department: str, day: date) -> int:
    """The department's next number today. The counter row is locked until commit, so two
    clerks checking in at once queue on it and get different numbers."""
    # next_value creates the day's counter row on first use, safely when two clerks race for it.
    return next_value(session, rules.counter_name(department, day.isoformat()), start=1)


def _issue(session: DbSession, actor: Actor, patient: Patient, clinic: Clinic,
           appointment: Appointment | None) -> QueueTicket:
    day = today()
    number = _next_number(session, clinic.department, day)
    prefix = rules.ticket_prefix(clinic.code, clinic.department,
                                 dict(current_app.config.get("QUEUE_PREFIXES") or {}))
    ticket = QueueTicket(
        department=clinic.department, service_day=day, number=number,
        code=rules.ticket_code(prefix, number), patient_id=patient.id, clinic_id=clinic.id,
        appointment_id=appointment.id if appointment is not None else None,
        walk_in=appointment is None, status="waiting", issued_at=clock.now(), issued_by_id=actor.id,
    )
    session.add(ticket)
    session.flush()
    audit.record(session, actor, "queue.ticket_issued", ticket, patient_id=patient.id,
                 after={"code": ticket.code, "department": ticket.department, "clinic": clinic.code,
                        "appointment_id": ticket.appointment_id, "walk_in": ticket.walk_in})
    events.checked_in.send(session, ticket_id=ticket.id, patient_id=patient.id, clinic_id=clinic.id,
                           appointment_id=ticket.appointment_id)
    _push(session, ticket.department)
    return ticket


def _locked_appointment(session: DbSession, appointment_id: int) -> Appointment:
    stmt = select(Appointment).where(Appointment.id == appointment_id).execution_options(
        populate_existing=True)
    if _is_postgres(session):
        stmt = stmt.with_for_update(of=Appointment)
    appointment = session.scalar(stmt)
    if appointment is None:
        raise NotFound("No such appointment.")
    return appointment


def ticket_for_appointment(session: DbSession, appointment_id: int) -> QueueTicket | None:
    return session.scalar(select(QueueTicket).where(QueueTicket.appointment_id == appointment_id))


def check_in(session: DbSession, actor: Actor, appointment_id: int) -> QueueTicket:
    """The patient has arrived for today's appointment: it becomes checked-in and the patient
    gets the next ticket in the clinic's department queue. Refused for another day, outside
    the check-in window, or an appointment that is no longer booked."""
    authorize(actor, Perm.CHECK_IN)
    appointment = _locked_appointment(session, appointment_id)
    if appointment.status == CHECKED_IN:
        ticket = ticket_for_appointment(session, appointment.id)
        raise Conflict(f"Already checked in (ticket {ticket.code})." if ticket else "Already checked in.")
    if appointment.status != "booked":
        raise DomainError({
            "cancelled": "This appointment was cancelled; book again or register a walk-in.",
            "no-show": "This appointment was marked as a no-show; register a walk-in instead.",
            "completed": "This appointment has already taken place.",
        }.get(appointment.status, f"This appointment is {appointment.status}."))
    tz = _tz()
    day = clock.to_local(appointment.start_at, tz).date()
    if day != today():
        raise DomainError(f"This appointment is on {day:%a %d %b %Y}, not today.")
    window = rules.Window(int(current_app.config["CHECK_IN_EARLY_MINUTES"]),
                          int(current_app.config["CHECK_IN_LATE_MINUTES"]))
    verdict = window.verdict(appointment.start_at, clock.now())
    local_start = clock.to_local(appointment.start_at, tz)
    if verdict == "early":
        opens = local_start - timedelta(minutes=window.early_minutes)
        raise DomainError(f"Too early: check-in for the {local_start:%H:%M} appointment opens at {opens:%H:%M}.")
    if verdict == "late":
        raise DomainError(f"Too late for the {local_start:%H:%M} appointment (more than "
                          f"{window.late_minutes} minutes); rebook or register a walk-in.")
    before = {"status": appointment.status}
    appointment.status = CHECKED_IN
    appointment.checked_in_at = clock.now()
    session.flush()
    # The number first, then the audit rows: every path takes the department's counter before
    # the audit chain's lock, so two clerks never wait on each other in opposite orders.
    ticket = _issue(session, actor, appointment.patient, appointment.clinic, appointment)
    audit.record(session, actor, "appointment.checked_in", appointment, patient_id=appointment.patient_id,
                 before=before, after={"status": CHECKED_IN, "checked_in_at": appointment.checked_in_at,
                                       "ticket": ticket.code})
    return ticket


def register_walk_in(session: DbSession, actor: Actor, patient_id: int, clinic_id: int) -> QueueTicket:
    """A patient without an appointment joins a clinic's department queue."""
    authorize(actor, Perm.CHECK_IN)
    # Locked, so that two clerks adding the same walk-in at once cannot both pass the
    # "already in this queue" check below (the patient is locked before the counter, as nowhere
    # takes them the other way round).
    patient = session.get(Patient, patient_id, with_for_update=_is_postgres(session),
                          populate_existing=True)
    if patient is None or getattr(patient, "status", "active") != "active":
        raise DomainError("Choose a registered patient.", field="patient")
    clinic = session.get(Clinic, clinic_id)
    if clinic is None or not clinic.active:
        raise DomainError("Choose a clinic.", field="clinic_id")
    day = today()
    waiting = session.scalar(select(QueueTicket).where(
        QueueTicket.patient_id == patient.id, QueueTicket.department == clinic.department,
        QueueTicket.service_day == day, QueueTicket.status.in_(rules.ACTIVE_STATUSES)))
    if waiting is not None:
        raise DomainError(f"{patient.name} is already in this queue (ticket {waiting.code}).", field="patient")
    return _issue(session, actor, patient, clinic, None)


def walk_in_by_mrn(session: DbSession, actor: Actor, mrn: str, clinic_id: int | None) -> QueueTicket:
    """A walk-in identified by the MRN typed or scanned from a wristband or card: the check
    digit is checked before anything is looked up."""
    authorize(actor, Perm.CHECK_IN)
    mrn = (mrn or "").strip()
    problem = patient_rules.mrn_problem(mrn)
    if problem:
        raise DomainError(problem, field="mrn")
    patient = session.scalar(select(Patient).where(Patient.mrn == mrn))
    if patient is None:
        raise DomainError("No patient has this MRN. Search for the patient, or register them first.", field="mrn")
    if getattr(patient, "status", "active") == "merged" and patient.merged_into is not None:
        raise DomainError(f"This record was merged into MRN {patient.merged_into.mrn}; use that one.", field="mrn")
    if clinic_id is None:
        raise DomainError("Choose a clinic.", field="clinic_id")
    try:
        return register_walk_in(session, actor, patient.id, clinic_id)
    except DomainError as exc:
        if exc.field == "patient":
            raise DomainError(exc.message, field="mrn") from exc
        raise


# --- moving tickets --------------------------------------------------------------------------

def _locked_ticket(session: DbSession, ticket_id: int) -> QueueTicket:
    stmt = select(QueueTicket).where(QueueTicket.id == ticket_id).execution_options(populate_existing=True)
    if _is_postgres(session):
        stmt = stmt.with_for_update()
    ticket = session.scalar(stmt)
    if ticket is None:
        raise NotFound("No such ticket.")
    return ticket


def clean_room(room: str | None) -> str:
    room = (room or "").strip()
    if not room:
        raise DomainError("Say which room or desk to call the patient to.", field="room")
    if len(room) > 40:
        raise DomainError("Keep the room or desk under 40 characters.", field="room")
    return room


def move_ticket(session: DbSession, actor: Actor, ticket_id: int, action: str,
                room: str | None = None, expected_status: str | None = None) -> QueueTicket:
    """Call, start, finish, send back or mark as left, under the ticket's row lock; a move the
    ticket's state does not allow (someone else got there first) is a Conflict, and so is a
    ticket no longer in `expected_status` (what the person saw when they clicked)."""
    authorize(actor, Perm.QUEUE_MANAGE)
    if action not in rules.ACTIONS:
        raise NotFound("No such action.")
    called_to = clean_room(room) if action == "call" else None
    ticket = _locked_ticket(session, ticket_id)
    try:
        if expected_status is not None and ticket.status != expected_status:
            raise rules.IllegalTransition(ticket.status, action)
        new_status = rules.next_status(ticket.status, action)
    except rules.IllegalTransition as exc:
        who = f" by {ticket.called_by_label}" if ticket.called_by_label and ticket.status != "waiting" else ""
        raise Conflict(f"{ticket.code} is {rules.STATUS_LABELS[ticket.status]}{who}; it cannot be "
                       f"{rules.DONE_LABELS[action]} now.") from exc
    before = {"status": ticket.status, "called_to": ticket.called_to}
    now = clock.now()
    ticket.status = new_status
    if action == "call":
        ticket.called_at, ticket.called_to = now, called_to
        ticket.called_by_id, ticket.called_by_label = actor.id, actor.label
    elif action == "start":
        ticket.started_at = now
    elif action in ("finish", "left"):
        ticket.finished_at = now
    elif action == "requeue":
        ticket.called_to = None
    session.flush()
    audit.record(session, actor, f"queue.{action}", ticket, patient_id=ticket.patient_id,
                 before=before, after={"status": new_status, "called_to": ticket.called_to, "code": ticket.code})
    if action == "finish" and ticket.appointment_id is not None:
        _complete_appointment(session, actor, ticket.appointment_id)
    _push(session, ticket.department)
    return ticket


def _complete_appointment(session: DbSession, actor: Actor, appointment_id: int) -> None:
    appointment = _locked_appointment(session, appointment_id)
    if appointment.status != CHECKED_IN:
        return
    appointment.status = "completed"
    session.flush()
    audit.record(session, actor, "appointment.completed", appointment, patient_id=appointment.patient_id,
                 before={"status": CHECKED_IN}, after={"status": "completed"})


def call_next(session: DbSession, actor: Actor, department: str, room: str | None,
              clinic_id: int | None = None) -> QueueTicket | None:
    """Call the longest-waiting ticket (lowest number today) to `room`; None when nobody waits.
    Two clinicians pressing "call next" together get different patients: the ticket is taken
    with SKIP LOCKED on PostgreSQL (SQLite has one writer at a time)."""
    authorize(actor, Perm.QUEUE_MANAGE)
    clean_room(room)
    stmt = (
        select(QueueTicket.id)
        .where(QueueTicket.department == department, QueueTicket.service_day == today(),
               QueueTicket.status == "waiting")
        .order_by(QueueTicket.number).limit(1)
    )
    if clinic_id is not None:
        stmt = stmt.where(QueueTicket.clinic_id == clinic_id)
    if _is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    ticket_id = session.scalar(stmt)
    if ticket_id is None:
        return None
    return move_ticket(session, actor, ticket_id, "call", room, expected_status="waiting")


def last_room(session: DbSession, actor: Actor, department: str) -> str:
    """The room this person last called a patient to today (to pre-fill the call form)."""
    if actor.id is None:
        return ""
    return session.scalar(
        select(QueueTicket.called_to).where(
            QueueTicket.called_by_id == actor.id, QueueTicket.department == department,
            QueueTicket.service_day == today(), QueueTicket.called_to.is_not(None))
        .order_by(QueueTicket.called_at.desc()).limit(1)
    ) or ""


# --- no-shows --------------------------------------------------------------------------------

def mark_no_shows(session: DbSession, actor: Actor, now: datetime | None = None, batch: int = 500) -> int:
    """Appointments still booked NO_SHOW_AFTER_MINUTES after their start become no-shows.
    Idempotent (only 'booked' ones change). An appointment a clerk is checking in right now is
    locked by that check-in and skipped; the next run sees it checked in."""
    authorize(actor, Perm.CHECK_IN)
    now = now or clock.now()
    after = int(current_app.config["NO_SHOW_AFTER_MINUTES"])
    cutoff = now - timedelta(minutes=after)
    marked = 0
    while True:
        stmt = (select(Appointment)
                .where(Appointment.status == "booked", Appointment.start_at <= cutoff)
                .order_by(Appointment.start_at, Appointment.id).limit(batch))
        if _is_postgres(session):
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(session.scalars(stmt))
        for appointment in rows:
            appointment.status = "no-show"
            session.flush()
            audit.record(session, actor, "appointment.no_show", appointment,
                         patient_id=appointment.patient_id, before={"status": "booked"},
                         after={"status": "no-show"},
                         reason=f"Not checked in {after} minutes after the start.")
        marked += len(rows)
        if len(rows) < batch:
            return marked


def _outcome_counts() -> tuple[Any, Any]:
    no_shows = func.sum(case((Appointment.status == "no-show", 1), else_=0))
    attended = func.sum(case((Appointment.status.in_((CHECKED_IN, "completed")), 1), else_=0))
    return no_shows, attended


def no_show_rates(session: DbSession, since: datetime, until: datetime, *,
                  by: str = "clinic", ids: list[int] | None = None) -> dict[int, rules.NoShowRate]:
    """No-show rate over appointments starting in [since, until), per clinic or per patient."""
    key = Appointment.clinic_id if by == "clinic" else Appointment.patient_id
    no_shows, attended = _outcome_counts()
    stmt = (select(key, no_shows, attended)
            .where(Appointment.start_at >= since, Appointment.start_at < until)
            .group_by(key))
    if ids is not None:
        if not ids:
            return {}
        stmt = stmt.where(key.in_(ids))
    return {k: rules.NoShowRate(int(n or 0), int(a or 0)) for k, n, a in session.execute(stmt)}


def patient_rate_period() -> tuple[datetime, datetime]:
    """The period the rate shown at check-in covers: the last NO_SHOW_RATE_DAYS, to now."""
    now = clock.now()
    return now - timedelta(days=int(current_app.config["NO_SHOW_RATE_DAYS"])), now


@dataclass(frozen=True)
class NoShowReport:
    since: date
    until: date
    clinics: list[tuple[Clinic, rules.NoShowRate]]
    total: rules.NoShowRate
    patients: list[tuple[Patient, rules.NoShowRate]]  # the most frequent non-attenders


def no_show_report(session: DbSession, actor: Actor, since: date, until: date,
                   min_no_shows: int = 2, limit: int = 20) -> NoShowReport:
    """No-show rates per clinic over local days [since, until], and the patients who most often
    miss appointments there (at least `min_no_shows`)."""
    authorize(actor, Perm.NO_SHOW_REPORT)
    if until < since:
        raise DomainError("The end date is before the start date.", field="until")
    start, _ = day_bounds(since)
    _, end = day_bounds(until)
    by_clinic = no_show_rates(session, start, end)
    clinics = {c.id: c for c in session.scalars(select(Clinic).where(Clinic.id.in_(list(by_clinic))))}
    rows = sorted(((clinics[cid], rate) for cid, rate in by_clinic.items()), key=lambda r: r[0].name)
    total = rules.NoShowRate(sum(r.no_shows for _, r in rows), sum(r.attended for _, r in rows))
    no_shows, attended = _outcome_counts()
    frequent = session.execute(
        select(Appointment.patient_id, no_shows, attended)
        .where(Appointment.start_at >= start, Appointment.start_at < end)
        .group_by(Appointment.patient_id)
        .having(no_shows >= min_no_shows)
        .order_by(no_shows.desc(), Appointment.patient_id).limit(limit)
    ).all()
    people = {p.id: p for p in session.scalars(select(Patient).where(Patient.id.in_([r[0] for r in frequent])))}
    patients = [(people[pid], rules.NoShowRate(int(n), int(a or 0))) for pid, n, a in frequent]
    return NoShowReport(since, until, rows, total, patients)


# --- what the desk and the screens show --------------------------------------------------------

@dataclass(frozen=True)
class Arrival:
    appointment: Appointment
    ticket: QueueTicket | None
    no_show_rate: rules.NoShowRate


def arrivals(session: DbSession, actor: Actor, day: date, clinic_id: int | None = None,
             query: str = "", appointment_id: int | None = None) -> list[Arrival]:
    """The day's appointments for the front desk, with their tickets and each patient's
    no-show rate, filtered by clinic and by MRN or name start."""
    authorize(actor, Perm.CHECK_IN)
    start, end = day_bounds(day)
    stmt = (select(Appointment).join(Patient, Patient.id == Appointment.patient_id)
            .where(Appointment.start_at >= start, Appointment.start_at < end,
                   Appointment.status != "cancelled")
            .options(selectinload(Appointment.patient), selectinload(Appointment.clinic),
                     selectinload(Appointment.appointment_type))
            .order_by(Appointment.start_at, Appointment.id))
    if clinic_id is not None:
        stmt = stmt.where(Appointment.clinic_id == clinic_id)
    if appointment_id is not None:
        stmt = stmt.where(Appointment.id == appointment_id)
    q = query.strip()
    if q:
        if q.isdigit():
            stmt = stmt.where(Patient.mrn == q)
        else:
            like = q.lower().replace("%", "").replace("_", "") + "%"
            stmt = stmt.where(func.lower(Patient.family_name).like(like)
                              | func.lower(Patient.given_names).like(like))
    appointments = list(session.scalars(stmt))
    tickets = {t.appointment_id: t for t in session.scalars(
        select(QueueTicket).where(QueueTicket.appointment_id.in_([a.id for a in appointments])))}
    since, until = patient_rate_period()
    rates = no_show_rates(session, since, until, by="patient",
                          ids=sorted({a.patient_id for a in appointments}))
    return [Arrival(a, tickets.get(a.id), rates.get(a.patient_id, rules.NoShowRate(0, 0)))
            for a in appointments]


def queue_tickets(session: DbSession, actor: Actor, department: str, day: date | None = None) -> list[QueueTicket]:
    """Every ticket of a department's day, in number order, with patients (for staff)."""
    authorize(actor, Perm.QUEUE_MANAGE)
    return list(session.scalars(
        select(QueueTicket)
        .where(QueueTicket.department == department, QueueTicket.service_day == (day or today()))
        .options(selectinload(QueueTicket.patient), selectinload(QueueTicket.clinic))
        .order_by(QueueTicket.number)
    ))


@dataclass(frozen=True)
class Overview:
    appointment: Appointment
    ticket: QueueTicket | None
    no_show_rate: rules.NoShowRate


def appointment_overview(session: DbSession, actor: Actor, appointment_id: int) -> Overview:
    """One appointment as the desk sees it: its ticket and the patient's no-show rate."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound("No such appointment.")
    authorize(actor, Perm.PATIENT_READ, appointment.patient)
    since, until = patient_rate_period()
    rate = no_show_rates(session, since, until, by="patient", ids=[appointment.patient_id]).get(
        appointment.patient_id, rules.NoShowRate(0, 0))
    return Overview(appointment, ticket_for_appointment(session, appointment.id), rate)


@dataclass(frozen=True)
class BoardEntry:
    code: str
    room: str | None
    label: str  # initials when configured, else empty: the public screen shows no names


@dataclass(frozen=True)
class Board:
    department: str
    calling: list[BoardEntry]  # most recent call first
    waiting: list[BoardEntry]  # next in line first
    waiting_count: int
    in_consultation: int


def board(session: DbSession, actor: Actor, department: str, calling: int = 4, upcoming: int = 8) -> Board:
    """What the waiting-room screen shows: who is being called where, who is next, how many
    wait. No names unless QUEUE_BOARD_SHOW_INITIALS, and then initials only."""
    authorize(actor, Perm.QUEUE_BOARD)
    show = bool(current_app.config.get("QUEUE_BOARD_SHOW_INITIALS"))
    base = select(QueueTicket).where(QueueTicket.department == department,
                                     QueueTicket.service_day == today())
    if show:
        base = base.options(selectinload(QueueTicket.patient))

    def entry(t: QueueTicket) -> BoardEntry:
        label = rules.initials(t.patient.family_name, t.patient.given_names) if show else ""
        return BoardEntry(t.code, t.called_to, label)

    called = session.scalars(base.where(QueueTicket.status == "called")
                             .order_by(QueueTicket.called_at.desc()).limit(calling))
    waiting = session.scalars(base.where(QueueTicket.status == "waiting")
                              .order_by(QueueTicket.number).limit(upcoming))
    counts = dict(session.execute(
        select(QueueTicket.status, func.count())
        .where(QueueTicket.department == department, QueueTicket.service_day == today(),
               QueueTicket.status.in_(("waiting", "in-consultation")))
        .group_by(QueueTicket.status)).all())
    return Board(department, [entry(t) for t in called], [entry(t) for t in waiting],
                 int(counts.get("waiting", 0)), int(counts.get("in-consultation", 0)))
