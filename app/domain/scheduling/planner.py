"""Day and week plans for the calendar pages: appointments and free slots, per column.

A resource plan (a clinician, room or equipment) has one column per day. A clinic's day plan
has one column per clinician working there that day; its week plan one column per day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.core import clock
from app.core.db import DbSession
from app.core.security import Actor, Perm, authorize
from app.domain.scheduling import availability, rules
from app.domain.scheduling.configuration import list_types
from app.domain.scheduling.models import (
    Appointment,
    AppointmentType,
    Booking,
    Clinic,
    Holiday,
    Resource,
)
from app.domain.scheduling.rules import Slot, Span

SHOWN_STATUSES = ("booked", "checked-in", "completed", "no-show")


@dataclass
class Entry:
    """One line in a column: an appointment, or a free slot to book."""

    start: datetime
    end: datetime
    appointment: Appointment | None = None
    slot: Slot | None = None


@dataclass
class Column:
    day: date
    resource: Resource | None = None
    sessions: list[tuple[datetime, datetime, int]] = field(default_factory=list)  # start, end, clinic
    holiday: str | None = None
    entries: list[Entry] = field(default_factory=list)

    @property
    def free_count(self) -> int:
        return sum(1 for e in self.entries if e.slot is not None)


@dataclass
class Plan:
    days: list[date]
    columns: list[Column]
    types: list[AppointmentType]
    appointment_type: AppointmentType | None
    resources: dict[int, Resource]  # every resource named by a slot or column
    clinics: dict[int, Clinic]


def days_of(first: date, span: str) -> list[date]:
    if span == "week":
        monday = first - timedelta(days=first.weekday())
        return [monday + timedelta(days=i) for i in range(7)]
    return [first]


def _window(days: Sequence[date], tz: ZoneInfo) -> Span:
    return Span(rules.local_instant(days[0], time(0), tz),
                rules.local_instant(days[-1] + timedelta(days=1), time(0), tz))


def _pick_type(types: list[AppointmentType], type_id: int | None) -> AppointmentType | None:
    return next((t for t in types if t.id == type_id), types[0] if types else None)


def _clinician_types_first(types: list[AppointmentType]) -> list[AppointmentType]:
    # Most clinic bookings are with a clinician: offer those types (and default to one) first.
    return sorted(types, key=lambda t: (rules.parse_needs(t.needs)[:1] != ("clinician",), t.name))


def _holidays(session: DbSession, days: Sequence[date]) -> dict[date, str]:
    rows = session.execute(select(Holiday.day, Holiday.name).where(Holiday.day.between(days[0], days[-1])))
    return {d: n for d, n in rows}


def _free(session: DbSession, appointment_type: AppointmentType | None, fixed: list[Resource],
          window: Span, clinic_id: int | None = None) -> list[Slot]:
    if appointment_type is None:
        return []
    demand = availability.demand_for(appointment_type)
    if any(r.kind not in demand.needs for r in fixed):
        return []
    if demand.clinic_id is not None and clinic_id is not None and demand.clinic_id != clinic_id:
        return []
    now = clock.now()
    if window.end <= now:
        return []
    pool = availability.candidates(session, demand, fixed, clinic_id=clinic_id)
    slots = rules.free_slots(demand, availability.calendars(session, pool, window),
                             Span(max(window.start, now), window.end),
                             availability.hospital_tz(), availability.closures(session, window))
    if clinic_id is not None:
        slots = [s for s in slots if s.clinic_id == clinic_id]
    return slots


def _appointments(session: DbSession, window: Span, *, resource_id: int | None = None,
                  clinic_id: int | None = None) -> list[Appointment]:
    stmt = (
        select(Appointment)
        .where(Appointment.start_at < window.end, Appointment.end_at > window.start,
               Appointment.status.in_(SHOWN_STATUSES))
        .options(selectinload(Appointment.patient), selectinload(Appointment.appointment_type),
                 selectinload(Appointment.bookings).selectinload(Booking.resource))
        .order_by(Appointment.start_at, Appointment.id)
    )
    if resource_id is not None:
        stmt = stmt.where(Appointment.id.in_(
            select(Booking.appointment_id).where(Booking.resource_id == resource_id, Booking.active.is_(True))
        ))
    if clinic_id is not None:
        stmt = stmt.where(Appointment.clinic_id == clinic_id)
    return list(session.scalars(stmt))


def _fill(column: Column, appointments: list[Appointment], slots: list[Slot], tz: ZoneInfo,
          one_per_start: bool) -> None:
    seen: set[datetime] = set()
    for a in appointments:
        if a.start_at.astimezone(tz).date() == column.day:
            column.entries.append(Entry(a.start_at, a.end_at, appointment=a))
    for s in slots:
        if s.start.astimezone(tz).date() != column.day or (one_per_start and s.start in seen):
            continue
        seen.add(s.start)
        column.entries.append(Entry(s.start, s.end, slot=s))
    column.entries.sort(key=lambda e: (e.start, e.slot is not None))


def _sessions(session: DbSession, resources: Sequence[Resource], days: Sequence[date], window: Span,
              tz: ZoneInfo, clinic_id: int | None = None) -> dict[tuple[int, date], list[tuple[datetime, datetime, int]]]:
    weekly = availability.weekly_sessions(session, [r.id for r in resources], window)
    result: dict[tuple[int, date], list[tuple[datetime, datetime, int]]] = {}
    for rid, sessions in weekly.items():
        for day in days:
            for s in sessions:
                if s.applies_on(day) and (clinic_id is None or s.clinic_id == clinic_id):
                    result.setdefault((rid, day), []).append(
                        (rules.local_instant(day, s.start, tz), rules.local_instant(day, s.end, tz), s.clinic_id))
    return result


def _lookups(session: DbSession, slots: list[Slot], extra: Sequence[Resource]) -> tuple[dict[int, Resource], dict[int, Clinic]]:
    ids = {rid for s in slots for rid in s.resource_ids} | {r.id for r in extra}
    resources = {r.id: r for r in session.scalars(select(Resource).where(Resource.id.in_(ids)))} if ids else {}
    clinics = {c.id: c for c in session.scalars(select(Clinic))}
    return resources, clinics


def resource_plan(session: DbSession, actor: Actor, resource: Resource, days: list[date],
                  type_id: int | None = None) -> Plan:
    """One column per day for a clinician, room or equipment, with free slots of a type."""
    authorize(actor, Perm.SCHEDULE_VIEW)
    tz = availability.hospital_tz()
    window = _window(days, tz)
    types = _clinician_types_first(
        [t for t in list_types(session, active_only=True) if resource.kind in rules.parse_needs(t.needs)])
    chosen = _pick_type(types, type_id)
    slots = _free(session, chosen, [resource], window)
    appointments = _appointments(session, window, resource_id=resource.id)
    holidays = _holidays(session, days)
    sessions = _sessions(session, [resource], days, window, tz)
    columns = []
    for day in days:
        col = Column(day, resource, sessions.get((resource.id, day), []), holidays.get(day))
        _fill(col, appointments, slots, tz, one_per_start=True)
        columns.append(col)
    resources, clinics = _lookups(session, slots, [resource])
    return Plan(days, columns, types, chosen, resources, clinics)


def clinic_plan(session: DbSession, actor: Actor, clinic: Clinic, days: list[date],
                type_id: int | None = None) -> Plan:
    """A clinic's day (a column per clinician, or per room for a type without one) or week (a
    column per day)."""
    authorize(actor, Perm.SCHEDULE_VIEW)
    tz = availability.hospital_tz()
    window = _window(days, tz)
    types = _clinician_types_first(list_types(session, active_only=True, clinic_id=clinic.id))
    chosen = _pick_type(types, type_id)
    appointments = _appointments(session, window, clinic_id=clinic.id)
    holidays = _holidays(session, days)
    columns: list[Column] = []
    if len(days) == 1:
        day = days[0]
        # One column per resource of the kind that anchors the type's slots (normally clinicians).
        anchor = rules.parse_needs(chosen.needs)[0] if chosen is not None else "clinician"
        staff = availability.scheduled_resources(session, [anchor], clinic.id)
        sessions = _sessions(session, staff, days, window, tz, clinic_id=clinic.id)
        working = [r for r in staff if (r.id, day) in sessions]
        all_slots: list[Slot] = []
        for r in working:
            slots = _free(session, chosen, [r], window, clinic_id=clinic.id)
            all_slots.extend(slots)
            col = Column(day, r, sessions[(r.id, day)], holidays.get(day))
            mine = [a for a in appointments if any(b.resource_id == r.id and b.active for b in a.bookings)]
            _fill(col, mine, slots, tz, one_per_start=True)
            columns.append(col)
        placed = {e.appointment.id for c in columns for e in c.entries if e.appointment is not None}
        others = [a for a in appointments if a.id not in placed]
        if others:  # e.g. an ECG that needs no clinician
            col = Column(day, None, [], holidays.get(day))
            _fill(col, others, [], tz, one_per_start=True)
            columns.append(col)
        resources, clinics = _lookups(session, all_slots, working)
    else:
        slots = _free(session, chosen, [], window, clinic_id=clinic.id)
        for day in days:
            col = Column(day, None, [], holidays.get(day))
            _fill(col, appointments, slots, tz, one_per_start=False)
            columns.append(col)
        resources, clinics = _lookups(session, slots, [])
    return Plan(days, columns, types, chosen, resources, clinics)
