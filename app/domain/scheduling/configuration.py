"""Setting up clinics: resources, appointment types, weekly templates, holidays and closures.

Every change is audited. Existing appointments are never moved or cancelled by a change here;
a closure over booked appointments says how many it affects so reception can call the patients.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time

from sqlalchemy import func, or_, select

from app.core import audit, clock
from app.core.db import DbSession
from app.core.errors import DomainError, NotFound
from app.core.security import Actor, Perm, authorize
from app.domain.identity import services as identity
from app.domain.scheduling.models import (
    RESOURCE_KINDS,
    Appointment,
    AppointmentType,
    Booking,
    Clinic,
    Closure,
    Holiday,
    Resource,
    ScheduleTemplate,
)

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,19}$")
MIN_SLOT, MAX_SLOT = 5, 480


# ---- reading (configuration holds no patient data) -------------------------------------------

def list_clinics(session: DbSession, active_only: bool = False) -> list[Clinic]:
    stmt = select(Clinic).order_by(Clinic.name)
    if active_only:
        stmt = stmt.where(Clinic.active.is_(True))
    return list(session.scalars(stmt))


def list_resources(session: DbSession, kind: str | None = None, active_only: bool = False) -> list[Resource]:
    stmt = select(Resource).order_by(Resource.kind, Resource.name, Resource.id)
    if kind is not None:
        stmt = stmt.where(Resource.kind == kind)
    if active_only:
        stmt = stmt.where(Resource.active.is_(True))
    return list(session.scalars(stmt))


def list_types(session: DbSession, active_only: bool = False, clinic_id: int | None = None) -> list[AppointmentType]:
    stmt = select(AppointmentType).order_by(AppointmentType.name)
    if active_only:
        stmt = stmt.where(AppointmentType.active.is_(True))
    if clinic_id is not None:
        stmt = stmt.where(or_(AppointmentType.clinic_id.is_(None), AppointmentType.clinic_id == clinic_id))
    return list(session.scalars(stmt))


def list_templates(session: DbSession, include_ended: bool = False) -> list[ScheduleTemplate]:
    stmt = select(ScheduleTemplate).join(Resource).order_by(
        Resource.name, ScheduleTemplate.weekday, ScheduleTemplate.start_time)
    if not include_ended:
        today = clock.now().date()
        stmt = stmt.where(ScheduleTemplate.active.is_(True),
                          or_(ScheduleTemplate.valid_to.is_(None), ScheduleTemplate.valid_to >= today))
    return list(session.scalars(stmt))


def list_holidays(session: DbSession, since: date | None = None) -> list[Holiday]:
    stmt = select(Holiday).order_by(Holiday.day)
    if since is not None:
        stmt = stmt.where(Holiday.day >= since)
    return list(session.scalars(stmt))


def list_closures(session: DbSession, current_only: bool = True) -> list[Closure]:
    stmt = select(Closure).order_by(Closure.start_at)
    if current_only:
        stmt = stmt.where(Closure.end_at > clock.now())
    return list(session.scalars(stmt))


def get_resource(session: DbSession, resource_id: int) -> Resource:
    r = session.get(Resource, resource_id)
    if r is None:
        raise NotFound("No such resource.")
    return r


def get_clinic(session: DbSession, clinic_id: int) -> Clinic:
    c = session.get(Clinic, clinic_id)
    if c is None:
        raise NotFound("No such clinic.")
    return c


def get_type(session: DbSession, type_id: int) -> AppointmentType:
    t = session.get(AppointmentType, type_id)
    if t is None:
        raise NotFound("No such appointment type.")
    return t


# ---- validation helpers -----------------------------------------------------------------------

def _code(session: DbSession, model: type[Clinic] | type[AppointmentType], code: str, current_id: int | None = None) -> str:
    code = (code or "").strip().upper()
    if not _CODE.match(code):
        raise DomainError("Use up to 20 capital letters, digits, dashes or underscores.", field="code")
    clash = session.scalar(select(model.id).where(model.code == code))
    if clash is not None and clash != current_id:
        raise DomainError(f"The code {code} is already in use.", field="code")
    return code


def _name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise DomainError("Enter a name.", field="name")
    if len(name) > 120:
        raise DomainError("Keep the name under 120 characters.", field="name")
    return name


def _clinic_or_none(session: DbSession, clinic_id: int | None) -> int | None:
    if clinic_id in (None, 0):
        return None
    if session.get(Clinic, clinic_id) is None:
        raise DomainError("Choose a clinic.", field="clinic_id")
    return clinic_id


def _needs(kinds: Sequence[str]) -> str:
    chosen = [k for k in RESOURCE_KINDS if k in set(kinds)]
    if not chosen or len(set(kinds) - set(RESOURCE_KINDS)) > 0:
        raise DomainError("Choose what this appointment needs: a clinician, a room, equipment.", field="needs")
    return ",".join(chosen)  # the first kind anchors the slot grid: clinician, else room


def _slot_minutes(value: int | None) -> int:
    if value is None or not MIN_SLOT <= value <= MAX_SLOT or value % 5:
        raise DomainError(f"A slot is {MIN_SLOT} to {MAX_SLOT} minutes, in steps of 5.", field="slot_minutes")
    return value


# ---- clinics, resources, types ------------------------------------------------------------------

def create_clinic(session: DbSession, actor: Actor, *, code: str, name: str, department: str = "outpatients") -> Clinic:
    authorize(actor, Perm.SCHEDULE_MANAGE)
    clinic = Clinic(code=_code(session, Clinic, code), name=_name(name),
                    department=(department or "outpatients").strip()[:40] or "outpatients", active=True)
    session.add(clinic)
    session.flush()
    audit.record(session, actor, "schedule.clinic_created", clinic,
                 after=audit.snapshot(clinic, ("code", "name", "department")))
    return clinic


_RESOURCE_FIELDS = ("kind", "name", "clinic_id", "user_id", "active")


def _resource_fields(session: DbSession, kind: str, clinic_id: int | None, user_id: int | None) -> tuple[int | None, int | None]:
    clinic = _clinic_or_none(session, clinic_id)
    if user_id in (None, 0):
        return clinic, None
    if kind != "clinician":
        raise DomainError("Only a clinician is linked to a user account.", field="user_id")
    try:
        user = identity.get_user(session, int(user_id))
    except DomainError:
        raise DomainError("Choose an existing user.", field="user_id") from None
    return clinic, user.id


def create_resource(
    session: DbSession, actor: Actor, *, kind: str, name: str,
    clinic_id: int | None = None, user_id: int | None = None,
) -> Resource:
    authorize(actor, Perm.SCHEDULE_MANAGE)
    if kind not in RESOURCE_KINDS:
        raise DomainError("Choose clinician, room or equipment.", field="kind")
    clinic, user = _resource_fields(session, kind, clinic_id, user_id)
    resource = Resource(kind=kind, name=_name(name), clinic_id=clinic, user_id=user, active=True)
    session.add(resource)
    session.flush()
    audit.record(session, actor, "schedule.resource_created", resource,
                 after=audit.snapshot(resource, _RESOURCE_FIELDS))
    return resource


def update_resource(
    session: DbSession, actor: Actor, resource_id: int, *, name: str,
    clinic_id: int | None = None, user_id: int | None = None, active: bool = True,
) -> Resource:
    authorize(actor, Perm.SCHEDULE_MANAGE)
    resource = get_resource(session, resource_id)
    before = audit.snapshot(resource, _RESOURCE_FIELDS)
    clinic, user = _resource_fields(session, resource.kind, clinic_id, user_id)
    resource.name, resource.clinic_id, resource.user_id, resource.active = _name(name), clinic, user, active
    session.flush()
    old, new = audit.diff(before, audit.snapshot(resource, _RESOURCE_FIELDS))
    if new:
        audit.record(session, actor, "schedule.resource_updated", resource, before=old, after=new)
    return resource


_TYPE_FIELDS = ("code", "name", "clinic_id", "slot_minutes", "needs", "active")


def create_appointment_type(
    session: DbSession, actor: Actor, *, code: str, name: str, slot_minutes: int | None,
    needs: Sequence[str], clinic_id: int | None = None,
) -> AppointmentType:
    authorize(actor, Perm.SCHEDULE_MANAGE)
    t = AppointmentType(
        code=_code(session, AppointmentType, code), name=_name(name),
        slot_minutes=_slot_minutes(slot_minutes), needs=_needs(needs),
        clinic_id=_clinic_or_none(session, clinic_id), active=True,
    )
    session.add(t)
    session.flush()
    audit.record(session, actor, "schedule.type_created", t, after=audit.snapshot(t, _TYPE_FIELDS))
    return t


def update_appointment_type(
    session: DbSession, actor: Actor, type_id: int, *, name: str, slot_minutes: int | None,
    needs: Sequence[str], clinic_id: int | None = None, active: bool = True,
) -> AppointmentType:
    """Change a type. Appointments already booked keep the length they were booked with."""
    authorize(actor, Perm.SCHEDULE_MANAGE)
    t = get_type(session, type_id)
    before = audit.snapshot(t, _TYPE_FIELDS)
    t.name, t.slot_minutes, t.needs = _name(name), _slot_minutes(slot_minutes), _needs(needs)
    t.clinic_id, t.active = _clinic_or_none(session, clinic_id), active
    session.flush()
    old, new = audit.diff(before, audit.snapshot(t, _TYPE_FIELDS))
    if new:
        audit.record(session, actor, "schedule.type_updated", t, before=old, after=new)
    return t


# ---- weekly templates -------------------------------------------------------------------------

def _template_label(t: ScheduleTemplate) -> str:
    return f"{WEEKDAYS[t.weekday]} {t.start_time:%H:%M}-{t.end_time:%H:%M}"


def create_templates(
    session: DbSession, actor: Actor, *, resource_id: int | None, clinic_id: int | None,
    weekdays: Sequence[int], start_time: time | None, end_time: time | None,
    valid_from: date | None, valid_to: date | None = None, type_ids: Sequence[int] = (),
) -> list[ScheduleTemplate]:
    """One weekly session per chosen weekday. A resource cannot be in two sessions at once."""
    authorize(actor, Perm.SCHEDULE_MANAGE)
    resource = session.get(Resource, resource_id) if resource_id else None
    if resource is None or not resource.active:
        raise DomainError("Choose the clinician, room or equipment.", field="resource_id")
    clinic = session.get(Clinic, clinic_id) if clinic_id else None
    if clinic is None or not clinic.active:
        raise DomainError("Choose a clinic.", field="clinic_id")
    days = sorted(set(weekdays))
    if not days or any(d not in range(7) for d in days):
        raise DomainError("Choose at least one weekday.", field="weekdays")
    if start_time is None:
        raise DomainError("Enter the start time.", field="start_time")
    if end_time is None or end_time <= start_time:
        raise DomainError("The session must end after it starts (same day).", field="end_time")
    if valid_from is None:
        raise DomainError("Enter the first day this applies.", field="valid_from")
    if valid_to is not None and valid_to < valid_from:
        raise DomainError("The last day cannot be before the first.", field="valid_to")
    types = list(session.scalars(select(AppointmentType).where(AppointmentType.id.in_(list(type_ids)))))
    if len(types) != len(set(type_ids)):
        raise DomainError("Choose existing appointment types.", field="type_ids")
    length = datetime.combine(date.min, end_time) - datetime.combine(date.min, start_time)
    for t in types:
        if resource.kind not in t.needs.split(","):
            raise DomainError(f"{t.name} is not booked with a {resource.kind}.", field="type_ids")
        if t.clinic_id is not None and t.clinic_id != clinic.id:
            raise DomainError(f"{t.name} belongs to another clinic.", field="type_ids")
        if length.total_seconds() < t.slot_minutes * 60:
            raise DomainError(f"The session is shorter than one {t.name} slot.", field="end_time")
    for day in days:
        clash = session.scalar(
            select(ScheduleTemplate).where(
                ScheduleTemplate.resource_id == resource.id, ScheduleTemplate.weekday == day,
                ScheduleTemplate.active.is_(True),
                ScheduleTemplate.start_time < end_time, ScheduleTemplate.end_time > start_time,
                or_(ScheduleTemplate.valid_to.is_(None), ScheduleTemplate.valid_to >= valid_from),
                *([ScheduleTemplate.valid_from <= valid_to] if valid_to is not None else []),
            ).limit(1)
        )
        if clash is not None:
            raise DomainError(
                f"{resource.name} already has the {_template_label(clash)} session "
                f"({clash.clinic.name}) then.", field="start_time")
    created: list[ScheduleTemplate] = []
    for day in days:
        template = ScheduleTemplate(
            resource_id=resource.id, clinic_id=clinic.id, weekday=day, start_time=start_time,
            end_time=end_time, valid_from=valid_from, valid_to=valid_to, active=True,
            appointment_types=list(types),
        )
        session.add(template)
        created.append(template)
    session.flush()
    for template in created:
        audit.record(session, actor, "schedule.template_created", template, after={
            "resource_id": resource.id, "clinic_id": clinic.id, "weekday": template.weekday,
            "start_time": start_time, "end_time": end_time, "valid_from": valid_from,
            "valid_to": valid_to, "type_ids": sorted(t.id for t in types),
        })
    return created


def end_template(session: DbSession, actor: Actor, template_id: int, last_day: date | None) -> ScheduleTemplate:
    """Stop a weekly session after `last_day` (a session never used is simply withdrawn)."""
    authorize(actor, Perm.SCHEDULE_MANAGE)
    t = session.get(ScheduleTemplate, template_id)
    if t is None:
        raise NotFound("No such session.")
    if last_day is None:
        raise DomainError("Enter the last day the session runs.", field="last_day")
    before = {"valid_to": t.valid_to, "active": t.active}
    if last_day < t.valid_from:
        t.active = False
    elif t.valid_to is None or last_day < t.valid_to:
        t.valid_to = last_day
    session.flush()
    audit.record(session, actor, "schedule.template_ended", t, before=before,
                 after={"valid_to": t.valid_to, "active": t.active})
    return t


# ---- holidays and closures --------------------------------------------------------------------

def add_holiday(session: DbSession, actor: Actor, *, day: date | None, name: str) -> Holiday:
    authorize(actor, Perm.SCHEDULE_MANAGE)
    if day is None:
        raise DomainError("Enter the date.", field="day")
    if session.scalar(select(Holiday.id).where(Holiday.day == day)) is not None:
        raise DomainError("That day is already a holiday.", field="day")
    holiday = Holiday(day=day, name=_name(name))
    session.add(holiday)
    session.flush()
    audit.record(session, actor, "schedule.holiday_added", holiday, after={"day": day, "name": holiday.name})
    return holiday


def remove_holiday(session: DbSession, actor: Actor, holiday_id: int) -> None:
    authorize(actor, Perm.SCHEDULE_MANAGE)
    holiday = session.get(Holiday, holiday_id)
    if holiday is None:
        raise NotFound("No such holiday.")
    audit.record(session, actor, "schedule.holiday_removed", holiday,
                 before={"day": holiday.day, "name": holiday.name})
    session.delete(holiday)
    session.flush()


def add_closure(
    session: DbSession, actor: Actor, *, resource_id: int | None = None, clinic_id: int | None = None,
    start_at: datetime | None, end_at: datetime | None, reason: str,
) -> tuple[Closure, int]:
    """Close one resource or one clinic for a span. Returns the closure and how many booked
    appointments fall inside it (they are kept: reception rebooks them with the patients)."""
    authorize(actor, Perm.SCHEDULE_MANAGE)
    if bool(resource_id) == bool(clinic_id):
        raise DomainError("Close either one clinician/room/equipment or one clinic.", field="resource_id")
    if resource_id and session.get(Resource, resource_id) is None:
        raise DomainError("Choose the clinician, room or equipment.", field="resource_id")
    if clinic_id and session.get(Clinic, clinic_id) is None:
        raise DomainError("Choose a clinic.", field="clinic_id")
    if start_at is None:
        raise DomainError("Enter when the closure starts.", field="start_at")
    if end_at is None or end_at <= start_at:
        raise DomainError("The closure must end after it starts.", field="end_at")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give the reason for the closure.", field="reason")
    closure = Closure(resource_id=resource_id or None, clinic_id=clinic_id or None,
                      start_at=start_at, end_at=end_at, reason=reason, created_by_id=actor.id)
    session.add(closure)
    session.flush()
    audit.record(session, actor, "schedule.closure_added", closure, reason=reason, after={
        "resource_id": closure.resource_id, "clinic_id": closure.clinic_id,
        "start_at": start_at, "end_at": end_at,
    })
    return closure, affected_appointments(session, closure)


def affected_appointments(session: DbSession, closure: Closure) -> int:
    """Booked appointments that overlap the closure."""
    stmt = select(func.count(func.distinct(Appointment.id))).where(
        Appointment.status == "booked",
        Appointment.start_at < closure.end_at, Appointment.end_at > closure.start_at,
    )
    if closure.resource_id is not None:
        stmt = stmt.join(Booking, Booking.appointment_id == Appointment.id).where(
            Booking.resource_id == closure.resource_id, Booking.active.is_(True))
    else:
        stmt = stmt.where(Appointment.clinic_id == closure.clinic_id)
    return session.scalar(stmt) or 0


def remove_closure(session: DbSession, actor: Actor, closure_id: int) -> None:
    authorize(actor, Perm.SCHEDULE_MANAGE)
    closure = session.get(Closure, closure_id)
    if closure is None:
        raise NotFound("No such closure.")
    audit.record(session, actor, "schedule.closure_removed", closure, reason=closure.reason, before={
        "resource_id": closure.resource_id, "clinic_id": closure.clinic_id,
        "start_at": closure.start_at, "end_at": closure.end_at,
    })
    session.delete(closure)
    session.flush()
