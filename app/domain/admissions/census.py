"""The census: occupancy, today's admissions and discharges, and who is expected to go home
today and tomorrow, per ward and for the hospital. Grouped queries, a handful in all."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from app.core import clock
from app.core.db import DbSession
from app.core.security import Actor, Perm, authorize
from app.domain.admissions.models import Encounter, EncounterLocation
from app.domain.facilities import beds
from app.domain.facilities import rules as bed_rules
from app.domain.facilities.models import Ward


@dataclass
class CensusRow:
    ward_id: int | None
    name: str
    counts: dict[str, int] = field(default_factory=lambda: bed_rules.state_counts([]))
    admitted_today: int = 0
    discharged_today: int = 0
    expected_today: int = 0
    expected_tomorrow: int = 0

    @property
    def beds(self) -> int:
        return sum(self.counts.values())

    @property
    def occupied(self) -> int:
        return self.counts["occupied"]

    @property
    def occupancy(self) -> float | None:
        return bed_rules.occupancy_percent(self.occupied, self.beds, self.counts["out_of_service"])


@dataclass
class Census:
    day: date
    rows: list[CensusRow]
    total: CensusRow


def day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """The hospital's calendar day as a UTC interval [start, end)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return clock.to_utc(start), clock.to_utc(end)


def census(session: DbSession, actor: Actor, day: date, tz: str) -> Census:
    """Per ward in the actor's scope, and the total over them."""
    authorize(actor, Perm.WARD_VIEW)
    scope = actor.scoped_ward_ids(Perm.WARD_VIEW)
    stmt = select(Ward.id, Ward.name).order_by(Ward.name)
    if scope is not None:
        stmt = stmt.where(Ward.id.in_(sorted(scope)))
    rows = {wid: CensusRow(ward_id=wid, name=name) for wid, name in session.execute(stmt)}
    ids = list(rows)
    if ids:
        for wid, counts in beds.state_counts_by_ward(session, ids).items():
            rows[wid].counts = counts
        start, end = day_bounds(day, tz)
        # Admissions: the stay's first period (the ward it was admitted to), cancelled ones out.
        admitted = session.execute(
            select(EncounterLocation.ward_id, func.count(func.distinct(Encounter.id)))
            .join(Encounter, Encounter.id == EncounterLocation.encounter_id)
            .where(Encounter.class_code == "IMP", Encounter.status.in_(("in-progress", "finished")),
                   Encounter.started_at >= start, Encounter.started_at < end,
                   EncounterLocation.start_at == Encounter.started_at,
                   EncounterLocation.status != "cancelled", EncounterLocation.ward_id.in_(ids))
            .group_by(EncounterLocation.ward_id))
        for wid, n in admitted:
            rows[wid].admitted_today = int(n)
        discharged = session.execute(
            select(Encounter.ward_id, func.count())
            .where(Encounter.class_code == "IMP", Encounter.status == "finished",
                   Encounter.ended_at >= start, Encounter.ended_at < end, Encounter.ward_id.in_(ids))
            .group_by(Encounter.ward_id))
        for left_from, n in discharged:
            if left_from is not None:
                rows[left_from].discharged_today = int(n)
        expected = session.execute(
            select(Encounter.ward_id, Encounter.expected_discharge_on, func.count())
            .where(Encounter.class_code == "IMP", Encounter.status == "in-progress",
                   Encounter.expected_discharge_on.in_((day, day + timedelta(days=1))),
                   Encounter.ward_id.in_(ids))
            .group_by(Encounter.ward_id, Encounter.expected_discharge_on))
        for on_ward, on, n in expected:
            if on_ward is None:
                continue
            if on == day:
                rows[on_ward].expected_today = int(n)
            else:
                rows[on_ward].expected_tomorrow = int(n)
    total = CensusRow(ward_id=None, name="Total")
    for r in rows.values():
        for state, n in r.counts.items():
            total.counts[state] += n
        total.admitted_today += r.admitted_today
        total.discharged_today += r.discharged_today
        total.expected_today += r.expected_today
        total.expected_tomorrow += r.expected_tomorrow
    return Census(day=day, rows=list(rows.values()), total=total)


def expected_discharges(session: DbSession, actor: Actor, day: date) -> list[Encounter]:
    """In-progress stays expected to leave on `day`, in the actor's wards (the census list)."""
    from sqlalchemy.orm import joinedload

    authorize(actor, Perm.WARD_VIEW)
    scope = actor.scoped_ward_ids(Perm.WARD_VIEW)
    stmt = (select(Encounter).where(Encounter.class_code == "IMP", Encounter.status == "in-progress",
                                    Encounter.expected_discharge_on == day)
            .options(joinedload(Encounter.patient), joinedload(Encounter.ward), joinedload(Encounter.bed))
            .order_by(Encounter.ward_id, Encounter.bed_id))
    if scope is not None:
        stmt = stmt.where(Encounter.ward_id.in_(sorted(scope)))
    return list(session.scalars(stmt).unique())
