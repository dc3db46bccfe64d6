"""Booking, rescheduling and cancelling appointments, and finding free slots.

No resource is ever double-booked. On PostgreSQL the exclusion constraint
`ex_booking_resource_overlap` is the final word: the check here gives a plain answer in the
common case, and a booking that loses a race at the same moment fails its insert inside a
savepoint and becomes a SlotTaken conflict that offers the next free slot. On SQLite every
transaction begins with BEGIN IMMEDIATE (app.core.db.configure_sqlite), so writers are
serialised and the check-then-insert below is atomic.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from app.core import audit, clock, events
from app.core.db import DbSession
from app.core.errors import Conflict, DomainError, NotFound
from app.core.security import Actor, Perm, authorize
from app.domain.patients import services as patients
from app.domain.scheduling import availability, rules
from app.domain.scheduling.models import Appointment, AppointmentType, Booking, Resource
from app.domain.scheduling.rules import Slot, Span

# Constraint names that mean "this resource is already held then" (PostgreSQL's exclusion
# constraint; the partial unique index is SQLite's backstop for identical starts).
_OVERLAP_CONSTRAINTS = ("ex_booking_resource_overlap", "uq_booking_resource_start_active")


class SlotTaken(Conflict):
    """Someone else holds the slot. `offer` is the next free slot for the same clinician."""

    def __init__(self, message: str, offer: Slot | None, *, by_database: bool = False) -> None:
        super().__init__(message, field="start_at")
        self.offer = offer
        # True when the database constraint refused the insert: the race the check could not see.
        self.by_database = by_database


class _Gone(Exception):  # internal: turned into SlotTaken (with an offer) by the caller
    """The slot is held by another booking."""

    def __init__(self, by_database: bool = False) -> None:
        super().__init__()
        self.by_database = by_database


def _type(session: DbSession, type_id: int) -> AppointmentType:
    t = session.get(AppointmentType, type_id)
    if t is None or not t.active:
        raise DomainError("Choose an appointment type.", field="appointment_type_id")
    return t


def _resources(session: DbSession, resource_ids: Sequence[int]) -> list[Resource]:
    ids = list(dict.fromkeys(int(i) for i in resource_ids))
    found = {r.id: r for r in session.scalars(select(Resource).where(Resource.id.in_(ids)))}
    if not ids or len(found) != len(ids) or not all(r.active for r in found.values()):
        raise DomainError("Choose the clinician, room or equipment to book.", field="resource_ids")
    return [found[i] for i in ids]


def _in_needs_order(demand: rules.Demand, resources: list[Resource]) -> list[Resource]:
    ordered: list[Resource] = []
    rest = list(resources)
    for kind in demand.needs:
        match = next((r for r in rest if r.kind == kind), None)
        if match is not None:
            ordered.append(match)
            rest.remove(match)
    return ordered + rest  # leftovers make check_booking report the wrong mix of kinds


def get_appointment(session: DbSession, actor: Actor, appointment_id: int) -> Appointment:
    authorize(actor, Perm.SCHEDULE_VIEW)
    appt = session.get(Appointment, appointment_id)
    if appt is None:
        raise NotFound("No such appointment.")
    return appt


def _place(
    session: DbSession, actor: Actor, *, patient_id: int, appointment_type: AppointmentType,
    start_at: datetime, resources: list[Resource], note: str | None,
    rescheduled_from_id: int | None = None,
) -> Appointment:
    """Check and insert one appointment with its bookings; raise _Gone if the slot is held."""
    if start_at.tzinfo is None:
        raise DomainError("Give the start time with its time zone.", field="start_at")
    start_at = clock.to_utc(start_at)
    demand = availability.demand_for(appointment_type)
    end_at = start_at + demand.length
    if end_at <= clock.now():
        raise DomainError("That slot is already over. Choose a later one.", field="start_at")
    tz = availability.hospital_tz()
    window = Span(start_at, end_at)
    chosen = _in_needs_order(demand, resources)
    verdict = rules.check_booking(
        demand, availability.calendars(session, chosen, window), start_at, tz,
        availability.closures(session, window),
    )
    if isinstance(verdict, rules.Problem):
        if verdict.taken:
            raise _Gone()
        raise DomainError(verdict.message, field=verdict.field)
    appt = Appointment(
        patient_id=patient_id, clinic_id=verdict, appointment_type_id=appointment_type.id,
        start_at=start_at, end_at=end_at, status="booked", note=(note or "").strip() or None,
        booked_by_id=actor.id, rescheduled_from_id=rescheduled_from_id,
        bookings=[Booking(resource_id=r.id, start_at=start_at, end_at=end_at, active=True) for r in chosen],
    )
    try:
        with session.begin_nested():
            session.add(appt)
            session.flush()
    except IntegrityError as exc:
        if not any(name in str(exc.orig) for name in _OVERLAP_CONSTRAINTS) and not _sqlite_overlap(exc):
            raise
        raise _Gone(by_database=True) from None
    except OperationalError as exc:
        # Two bookings checking the exclusion constraint against each other's uncommitted rows
        # can wait on each other; PostgreSQL aborts one (deadlock, 40P01), which lost the slot.
        if getattr(exc.orig, "sqlstate", None) != "40P01":
            raise
        raise _Gone(by_database=True) from None
    return appt


def _sqlite_overlap(exc: IntegrityError) -> bool:
    # SQLite names the columns, not the index: "UNIQUE constraint failed: booking.resource_id, ..."
    return "booking.resource_id" in str(exc.orig)


def _describe(appt: Appointment) -> dict[str, object]:
    return {
        "type": appt.appointment_type.code if appt.appointment_type else appt.appointment_type_id,
        "clinic_id": appt.clinic_id, "start_at": appt.start_at, "end_at": appt.end_at,
        "resource_ids": [b.resource_id for b in appt.bookings], "status": appt.status,
    }


def _taken(session: DbSession, appointment_type: AppointmentType, resources: list[Resource],
           start_at: datetime, gone: _Gone) -> SlotTaken:
    """The conflict, with the next free slot computed now, after the other booking landed."""
    demand = availability.demand_for(appointment_type)
    offer = _next_slot_like(session, demand, resources, start_at)
    tz = availability.hospital_tz()
    if offer is None:
        message = ("That slot was just taken by another booking, and there is no free slot for "
                   f"this clinician in the next {rules.SEARCH_HORIZON_DAYS} days.")
    else:
        when = offer.start.astimezone(tz).strftime("%a %d %b %Y at %H:%M")
        message = f"That slot was just taken by another booking. The next free slot is {when}."
    return SlotTaken(message, offer, by_database=gone.by_database)


def _next_slot_like(session: DbSession, demand: rules.Demand, resources: list[Resource],
                    after: datetime) -> Slot | None:
    # Keep the clinician (or, for a type without one, the first resource); any free resource
    # of the other kinds will do, the ones asked for first.
    anchor = next((r for r in resources if r.kind == "clinician"), resources[0] if resources else None)
    fixed = [anchor] if anchor is not None else []
    pool = availability.candidates(session, demand, fixed, preferred=[r.id for r in resources])
    window = Span(after, after + timedelta(days=rules.SEARCH_HORIZON_DAYS))
    return rules.next_free_slot(
        demand, availability.calendars(session, pool, window), after,
        availability.hospital_tz(), availability.closures(session, window),
    )


def book_appointment(
    session: DbSession, actor: Actor, *, patient_id: int, appointment_type_id: int,
    start_at: datetime, resource_ids: Sequence[int], note: str | None = None,
) -> Appointment:
    """Book a patient into a slot holding every resource the type needs (a doctor and a room).

    Raises DomainError for bad input (422) and SlotTaken (409, with the next free slot) when a
    resource is already held, including when another clerk won the race a moment ago.
    """
    authorize(actor, Perm.APPOINTMENT_BOOK)
    patient = patients.get_patient(session, actor, patient_id)
    if getattr(patient, "is_merged", False):
        raise DomainError("This record was merged into another. Book on the surviving record.",
                          field="patient_id")
    appointment_type = _type(session, appointment_type_id)
    resources = _resources(session, resource_ids)
    try:
        appt = _place(session, actor, patient_id=patient.id, appointment_type=appointment_type,
                      start_at=start_at, resources=resources, note=note)
    except _Gone as gone:
        raise _taken(session, appointment_type, resources, start_at, gone) from None
    audit.record(session, actor, "appointment.booked", appt, patient_id=patient.id, after=_describe(appt))
    events.appointment_booked.send(session, appointment_id=appt.id)
    return appt


def _editable(session: DbSession, actor: Actor, appointment_id: int, expected_version: int | None) -> Appointment:
    authorize(actor, Perm.APPOINTMENT_BOOK)
    appt = session.get(Appointment, appointment_id)
    if appt is None:
        raise NotFound("No such appointment.")
    patients.get_patient(session, actor, appt.patient_id)
    if expected_version is not None and appt.version != expected_version:
        raise Conflict("Someone else changed this appointment meanwhile. Reload it and try again.")
    if appt.status != "booked":
        raise DomainError(f"This appointment is {appt.status}; only a booked one can be changed.",
                          field="status")
    return appt


def _release(appt: Appointment, reason: str) -> None:
    appt.status = "cancelled"
    appt.cancel_reason = reason
    appt.cancelled_at = clock.now()
    for b in appt.bookings:
        b.active = False


def _flush_versioned(session: DbSession) -> None:
    try:
        session.flush()
    except StaleDataError:
        raise Conflict("Someone else changed this appointment meanwhile. Reload it and try again.") from None


def cancel_appointment(
    session: DbSession, actor: Actor, appointment_id: int, reason: str,
    *, expected_version: int | None = None,
) -> Appointment:
    """Cancel a booked appointment for a stated reason and free its resources."""
    reason = (reason or "").strip()
    appt = _editable(session, actor, appointment_id, expected_version)
    if not reason:
        raise DomainError("Give a reason for the cancellation.", field="reason")
    before = _describe(appt)
    _release(appt, reason)
    _flush_versioned(session)
    audit.record(session, actor, "appointment.cancelled", appt, patient_id=appt.patient_id,
                 before=before, after={"status": "cancelled"}, reason=reason)
    events.appointment_cancelled.send(session, appointment_id=appt.id, reason=reason)
    return appt


def reschedule_appointment(
    session: DbSession, actor: Actor, appointment_id: int, *, start_at: datetime,
    resource_ids: Sequence[int] | None = None, reason: str | None = None,
    expected_version: int | None = None,
) -> Appointment:
    """Move an appointment: a new one (pointing back through rescheduled_from_id) takes the new
    slot, and the old one is cancelled with reason "rescheduled", its resources released.

    The old slot is released first, so moving by a few minutes within the same resources works.
    If the new slot is refused, the old appointment is left exactly as it was.
    """
    old = _editable(session, actor, appointment_id, expected_version)
    appointment_type = old.appointment_type
    resources = _resources(session, resource_ids or [b.resource_id for b in old.bookings])
    before = _describe(old)
    try:
        with session.begin_nested():
            _release(old, "rescheduled")
            _flush_versioned(session)
            new = _place(session, actor, patient_id=old.patient_id, appointment_type=appointment_type,
                         start_at=start_at, resources=resources, note=old.note,
                         rescheduled_from_id=old.id)
    except _Gone as gone:
        raise _taken(session, appointment_type, resources, start_at, gone) from None
    audit.record(session, actor, "appointment.cancelled", old, patient_id=old.patient_id,
                 before=before, after={"status": "cancelled"}, reason="rescheduled")
    audit.record(session, actor, "appointment.rescheduled", new, patient_id=new.patient_id,
                 before={"appointment_id": old.id, "start_at": old.start_at},
                 after=_describe(new), reason=(reason or "").strip() or None)
    events.appointment_rescheduled.send(session, appointment_id=new.id, previous_id=old.id)
    return new


def next_free_slot(
    session: DbSession, actor: Actor, *, appointment_type_id: int,
    clinician_id: int | None = None, after: datetime | None = None,
) -> Slot | None:
    """The earliest free slot of a type, with this clinician (or any), from `after` (now)."""
    authorize(actor, Perm.SCHEDULE_VIEW)
    appointment_type = _type(session, appointment_type_id)
    demand = availability.demand_for(appointment_type)
    fixed: list[Resource] = []
    if clinician_id is not None:
        clinician = session.get(Resource, clinician_id)
        if clinician is None or clinician.kind != "clinician" or not clinician.active:
            raise DomainError("Choose a clinician.", field="clinician_id")
        if "clinician" not in demand.needs:
            raise DomainError("This appointment type is not booked with a clinician.", field="clinician_id")
        fixed = [clinician]
    after = max(after or clock.now(), clock.now())
    pool = availability.candidates(session, demand, fixed)
    window = Span(after, after + timedelta(days=rules.SEARCH_HORIZON_DAYS))
    return rules.next_free_slot(
        demand, availability.calendars(session, pool, window), after,
        availability.hospital_tz(), availability.closures(session, window),
    )


def rescheduled_to(session: DbSession, appointment_id: int) -> Appointment | None:
    """The appointment that replaced this one, if it was rescheduled."""
    return session.scalar(select(Appointment).where(Appointment.rescheduled_from_id == appointment_id))


def upcoming_for_patient(session: DbSession, actor: Actor, patient_id: int, limit: int = 10) -> list[Appointment]:
    """The patient's booked appointments that have not ended yet, soonest first."""
    authorize(actor, Perm.SCHEDULE_VIEW)
    patients.get_patient(session, actor, patient_id)
    return list(session.scalars(
        select(Appointment)
        .where(Appointment.patient_id == patient_id, Appointment.status.in_(("booked", "checked-in")),
               Appointment.end_at > clock.now())
        .options(selectinload(Appointment.bookings).selectinload(Booking.resource))
        .order_by(Appointment.start_at).limit(limit)
    ))
