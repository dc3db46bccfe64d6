"""Free slots, pure: weekly sessions − holidays − closures − active bookings, in UTC.

Sessions are wall-clock times in the hospital's time zone. Each day's session is turned into a
UTC span for that date, so a 09:00 clinic opens at 09:00 local time on both sides of a
daylight-saving change, and a slot is always its type's length in real minutes.

Nothing here touches the database: services load Calendars and call these functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

# How far ahead "next free slot" looks before saying there is none.
SEARCH_HORIZON_DAYS = 120


@dataclass(frozen=True, order=True)
class Span:
    """A half-open time span [start, end) in aware datetimes (UTC by convention)."""

    start: datetime
    end: datetime

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Span) -> bool:
        return self.start <= other.start and other.end <= self.end

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60


@dataclass(frozen=True)
class WeeklySession:
    """One row of a weekly template: a resource works at a clinic on a weekday, start-end."""

    resource_id: int
    clinic_id: int
    weekday: int  # 0 Monday .. 6 Sunday
    start: time
    end: time
    valid_from: date
    valid_to: date | None = None  # inclusive
    type_ids: frozenset[int] = frozenset()  # empty: offers every type

    def applies_on(self, day: date) -> bool:
        return (
            day.weekday() == self.weekday
            and day >= self.valid_from
            and (self.valid_to is None or day <= self.valid_to)
        )

    def offers(self, type_id: int) -> bool:
        return not self.type_ids or type_id in self.type_ids


@dataclass(frozen=True)
class Calendar:
    """What is known about one resource: its weekly sessions and what already holds it."""

    resource_id: int
    kind: str
    sessions: tuple[WeeklySession, ...] = ()
    booked: tuple[Span, ...] = ()  # its active bookings
    closed: tuple[Span, ...] = ()  # its own closures (leave, maintenance)


@dataclass(frozen=True)
class Demand:
    """What is to be booked: a type, its slot length and the kinds of resource it needs."""

    type_id: int
    slot_minutes: int
    needs: tuple[str, ...]
    clinic_id: int | None = None  # a type that belongs to one clinic is booked only there

    @property
    def length(self) -> timedelta:
        return timedelta(minutes=self.slot_minutes)


@dataclass(frozen=True)
class Closures:
    """Everything that closes sessions regardless of bookings: holidays and clinic closures."""

    holidays: frozenset[date] = frozenset()
    clinics: Mapping[int, tuple[Span, ...]] = field(default_factory=dict)


@dataclass(frozen=True, order=True)
class Slot:
    start: datetime
    end: datetime
    clinic_id: int
    resource_ids: tuple[int, ...]  # one per needed kind, in Demand.needs order


def parse_needs(needs: str) -> tuple[str, ...]:
    """"clinician,room" -> ("clinician", "room"); the anchor kind comes first."""
    return tuple(k.strip() for k in needs.split(",") if k.strip())


def local_instant(day: date, at: time, tz: tzinfo) -> datetime:
    """The UTC instant of the wall-clock time `at` on `day` in `tz`.

    A wall time skipped when clocks go forward is taken as shifted forward by the gap (01:30 on
    the spring-forward day in London is 02:30 BST); a wall time that happens twice when clocks go
    back is its first occurrence. Both follow PEP 495 with fold=0.
    """
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def wall_time_exists(day: date, at: time, tz: tzinfo) -> bool:
    """False for a local time that the clocks skip (a daylight-saving gap)."""
    moment = datetime.combine(day, at, tzinfo=tz)
    back = moment.astimezone(UTC).astimezone(tz)
    return (back.date(), back.time()) == (day, at)


def local_days(window: Span, tz: tzinfo) -> Iterator[date]:
    """Every local date the window touches."""
    day = window.start.astimezone(tz).date()
    last = (window.end - timedelta(microseconds=1)).astimezone(tz).date()
    while day <= last:
        yield day
        day += timedelta(days=1)


def subtract(spans: Iterable[Span], cuts: Iterable[Span]) -> list[Span]:
    """The parts of `spans` not covered by any of `cuts`."""
    ordered_cuts = sorted(cuts)
    result: list[Span] = []
    for span in sorted(spans):
        pieces = [span]
        for cut in ordered_cuts:
            if cut.start >= span.end:
                break
            next_pieces: list[Span] = []
            for piece in pieces:
                if not piece.overlaps(cut):
                    next_pieces.append(piece)
                    continue
                if piece.start < cut.start:
                    next_pieces.append(Span(piece.start, cut.start))
                if cut.end < piece.end:
                    next_pieces.append(Span(cut.end, piece.end))
            pieces = next_pieces
        result.extend(pieces)
    return result


@dataclass(frozen=True)
class _Opening:
    """A session on one day: its whole span, and the parts of it still free."""

    clinic_id: int
    session: Span
    free: tuple[Span, ...]


def openings(calendar: Calendar, day: date, tz: tzinfo, demand: Demand, closures: Closures) -> list[_Opening]:
    """The resource's sessions on `day` that offer the demanded type, with their free parts."""
    if day in closures.holidays:
        return []
    result: list[_Opening] = []
    for s in calendar.sessions:
        if not s.applies_on(day) or not s.offers(demand.type_id):
            continue
        if demand.clinic_id is not None and s.clinic_id != demand.clinic_id:
            continue
        span = Span(local_instant(day, s.start, tz), local_instant(day, s.end, tz))
        if span.end <= span.start:  # a session lost entirely to a clock change
            continue
        cuts = (*closures.clinics.get(s.clinic_id, ()), *calendar.closed, *calendar.booked)
        result.append(_Opening(s.clinic_id, span, tuple(subtract([span], cuts))))
    return result


def _fits(opening_list: Sequence[_Opening], clinic_id: int, slot: Span) -> bool:
    return any(
        o.clinic_id == clinic_id and any(free.contains(slot) for free in o.free)
        for o in opening_list
    )


def free_slots(
    demand: Demand,
    calendars: Sequence[Calendar],
    window: Span,
    tz: tzinfo,
    closures: Closures = Closures(),
    limit: int | None = None,
) -> list[Slot]:
    """Bookable slots that start and end inside `window`, earliest first.

    The grid is anchored on the sessions of the first needed kind (normally the clinician):
    slots start at the session's start and every slot length after it. A slot is offered when
    one resource of every needed kind has a free stretch of one session, at the same clinic,
    that holds the whole slot. The resources chosen are the first free ones in `calendars` order.
    """
    if not demand.needs or demand.slot_minutes <= 0:
        return []
    anchor_kind = demand.needs[0]
    length = demand.length
    by_kind: dict[str, list[Calendar]] = {}
    for cal in calendars:
        by_kind.setdefault(cal.kind, []).append(cal)
    found: list[Slot] = []
    for day in local_days(window, tz):
        day_openings = {
            cal.resource_id: openings(cal, day, tz, demand, closures)
            for kind in set(demand.needs) for cal in by_kind.get(kind, [])
        }
        day_slots: list[Slot] = []
        for anchor in by_kind.get(anchor_kind, []):
            for opening in day_openings[anchor.resource_id]:
                start = opening.session.start
                while start + length <= opening.session.end:
                    slot = Span(start, start + length)
                    start += length
                    if not window.contains(slot) or not any(f.contains(slot) for f in opening.free):
                        continue
                    chosen = _choose(demand, by_kind, day_openings, opening.clinic_id, slot, anchor)
                    if chosen is not None:
                        day_slots.append(Slot(slot.start, slot.end, opening.clinic_id, chosen))
        day_slots.sort()
        found.extend(day_slots)
        if limit is not None and len(found) >= limit:
            return found[:limit]
    return found


def _choose(
    demand: Demand, by_kind: Mapping[str, Sequence[Calendar]],
    day_openings: Mapping[int, Sequence[_Opening]], clinic_id: int, slot: Span, anchor: Calendar,
) -> tuple[int, ...] | None:
    chosen: list[int] = [anchor.resource_id]
    for kind in demand.needs[1:]:
        pick = next(
            (c.resource_id for c in by_kind.get(kind, [])
             if c.resource_id not in chosen and _fits(day_openings[c.resource_id], clinic_id, slot)),
            None,
        )
        if pick is None:
            return None
        chosen.append(pick)
    return tuple(chosen)


def next_free_slot(
    demand: Demand,
    calendars: Sequence[Calendar],
    after: datetime,
    tz: tzinfo,
    closures: Closures = Closures(),
    horizon_days: int = SEARCH_HORIZON_DAYS,
) -> Slot | None:
    """The earliest slot starting at or after `after` within the horizon, or None."""
    window = Span(after, after + timedelta(days=horizon_days))
    slots = free_slots(demand, calendars, window, tz, closures, limit=1)
    return slots[0] if slots else None


@dataclass(frozen=True)
class Problem:
    message: str
    field: str
    taken: bool = False  # the slot is held by another booking (a conflict, not bad input)


def check_booking(
    demand: Demand,
    chosen: Sequence[Calendar],
    start: datetime,
    tz: tzinfo,
    closures: Closures = Closures(),
) -> int | Problem:
    """The clinic a booking of `chosen` resources at `start` falls in, or the first problem with
    it: wrong kinds, outside a session, a holiday or closure, or already taken."""
    if sorted(c.kind for c in chosen) != sorted(demand.needs) or len({c.resource_id for c in chosen}) != len(chosen):
        wanted = " and one ".join(demand.needs)
        return Problem(f"This appointment type needs one {wanted}.", "resource_ids")
    slot = Span(start, start + demand.length)
    day = start.astimezone(tz).date()
    if day in closures.holidays:
        return Problem("The hospital is closed that day (holiday).", "start_at")
    clinics: set[int] | None = None
    for cal in chosen:
        here = {
            o.clinic_id for o in openings(cal, day, tz, demand, Closures()) if o.session.contains(slot)
        }
        if not here:
            return Problem("That time is outside the sessions of the chosen resources.", "start_at")
        clinics = here if clinics is None else clinics & here
        if not clinics:
            return Problem("The chosen resources do not work at the same clinic then.", "resource_ids")
    assert clinics is not None
    open_clinics = sorted(
        c for c in clinics if not any(x.overlaps(slot) for x in closures.clinics.get(c, ()))
    )
    if not open_clinics:
        return Problem("The clinic is closed at that time.", "start_at")
    for cal in chosen:
        if any(x.overlaps(slot) for x in cal.closed):
            return Problem("One of the chosen resources is unavailable (closed) then.", "start_at")
    for cal in chosen:
        if any(b.overlaps(slot) for b in cal.booked):
            return Problem("That slot has just been taken.", "start_at", taken=True)
    return open_clinics[0]
