"""Reads the schedule from the database into the pure shapes rules.py works on."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import or_, select

from app.core.db import DbSession
from app.domain.scheduling import rules
from app.domain.scheduling.models import (
    AppointmentType,
    Booking,
    Closure,
    Holiday,
    Resource,
    ScheduleTemplate,
)
from app.domain.scheduling.rules import Calendar, Closures, Demand, Span, WeeklySession


def hospital_tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["HOSPITAL_TIMEZONE"])


def demand_for(appointment_type: AppointmentType) -> Demand:
    return Demand(
        type_id=appointment_type.id,
        slot_minutes=appointment_type.slot_minutes,
        needs=rules.parse_needs(appointment_type.needs),
        clinic_id=appointment_type.clinic_id,
    )


def _padded(window: Span) -> tuple[date, date]:
    # Local dates can differ from UTC dates by up to a day either side.
    return (window.start - timedelta(days=1)).date(), (window.end + timedelta(days=1)).date()


def weekly_sessions(session: DbSession, resource_ids: Iterable[int], window: Span) -> dict[int, list[WeeklySession]]:
    first, last = _padded(window)
    ids = list(set(resource_ids))
    result: dict[int, list[WeeklySession]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = session.scalars(
        select(ScheduleTemplate).where(
            ScheduleTemplate.resource_id.in_(ids),
            ScheduleTemplate.active.is_(True),
            ScheduleTemplate.valid_from <= last,
            or_(ScheduleTemplate.valid_to.is_(None), ScheduleTemplate.valid_to >= first),
        ).order_by(ScheduleTemplate.start_time, ScheduleTemplate.id)
    )
    for t in rows:
        result[t.resource_id].append(WeeklySession(
            resource_id=t.resource_id, clinic_id=t.clinic_id, weekday=t.weekday,
            start=t.start_time, end=t.end_time, valid_from=t.valid_from, valid_to=t.valid_to,
            type_ids=frozenset(a.id for a in t.appointment_types),
        ))
    return result


def calendars(session: DbSession, resources: Sequence[Resource], window: Span) -> list[Calendar]:
    """Calendars for `resources`, in the given order (the order free slots pick resources in)."""
    ids = [r.id for r in resources]
    sessions = weekly_sessions(session, ids, window)
    booked: dict[int, list[Span]] = {i: [] for i in ids}
    closed: dict[int, list[Span]] = {i: [] for i in ids}
    if ids:
        for resource_id, start, end in session.execute(
            select(Booking.resource_id, Booking.start_at, Booking.end_at).where(
                Booking.resource_id.in_(ids), Booking.active.is_(True),
                Booking.start_at < window.end + timedelta(days=1),
                Booking.end_at > window.start - timedelta(days=1),
            )
        ):
            booked[resource_id].append(Span(start, end))
        for c in session.scalars(
            select(Closure).where(
                Closure.resource_id.in_(ids),
                Closure.start_at < window.end + timedelta(days=1),
                Closure.end_at > window.start - timedelta(days=1),
            )
        ):
            assert c.resource_id is not None
            closed[c.resource_id].append(Span(c.start_at, c.end_at))
    return [
        Calendar(r.id, r.kind, tuple(sessions[r.id]), tuple(booked[r.id]), tuple(closed[r.id]))
        for r in resources
    ]


def closures(session: DbSession, window: Span) -> Closures:
    """Holidays and clinic closures touching the window."""
    first, last = _padded(window)
    holidays = frozenset(session.scalars(select(Holiday.day).where(Holiday.day.between(first, last))))
    by_clinic: dict[int, list[Span]] = {}
    for c in session.scalars(
        select(Closure).where(
            Closure.clinic_id.is_not(None),
            Closure.start_at < window.end + timedelta(days=1),
            Closure.end_at > window.start - timedelta(days=1),
        )
    ):
        assert c.clinic_id is not None
        by_clinic.setdefault(c.clinic_id, []).append(Span(c.start_at, c.end_at))
    return Closures(holidays, {k: tuple(v) for k, v in by_clinic.items()})


def scheduled_resources(session: DbSession, kinds: Iterable[str], clinic_id: int | None = None) -> list[Resource]:
    """Active resources of these kinds that have an active weekly template (at the clinic)."""
    has_template = select(ScheduleTemplate.resource_id).where(ScheduleTemplate.active.is_(True))
    if clinic_id is not None:
        has_template = has_template.where(ScheduleTemplate.clinic_id == clinic_id)
    return list(session.scalars(
        select(Resource).where(
            Resource.kind.in_(list(set(kinds))), Resource.active.is_(True),
            Resource.id.in_(has_template),
        ).order_by(Resource.kind, Resource.name, Resource.id)
    ))


def candidates(
    session: DbSession, demand: Demand, fixed: Sequence[Resource] = (),
    preferred: Sequence[int] = (), clinic_id: int | None = None,
) -> list[Resource]:
    """The resources that may fill `demand`: `fixed` ones stand alone for their kind; other
    kinds draw on every scheduled resource, `preferred` ones first."""
    fixed_kinds = {r.kind for r in fixed}
    open_kinds = [k for k in demand.needs if k not in fixed_kinds]
    pool = scheduled_resources(session, open_kinds, clinic_id or demand.clinic_id) if open_kinds else []
    rank = {rid: i for i, rid in enumerate(preferred)}
    pool.sort(key=lambda r: rank.get(r.id, len(rank)))
    return [*fixed, *pool]
