"""Free slots: sessions − holidays − closures − bookings, DST-correct, and the booking check."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.scheduling.rules import (
    Calendar,
    Closures,
    Demand,
    Problem,
    Slot,
    Span,
    WeeklySession,
    check_booking,
    free_slots,
    local_instant,
    next_free_slot,
    parse_needs,
    subtract,
    wall_time_exists,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
MONDAY = date(2026, 11, 23)
CLINIC, OTHER_CLINIC = 1, 2
NEW = Demand(type_id=10, slot_minutes=30, needs=("clinician",))
NEW_WITH_ROOM = Demand(type_id=11, slot_minutes=30, needs=("clinician", "room"))


def at(day: date, hh: int, mm: int = 0, tz: ZoneInfo = LONDON) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=tz).astimezone(UTC)


def local_times(slots: list[Slot], tz: ZoneInfo = LONDON) -> list[str]:
    return [s.start.astimezone(tz).strftime("%H:%M") for s in slots]


def week(day: date) -> Span:
    return Span(at(day, 0), at(day + timedelta(days=7), 0))


def session(resource: int = 1, weekday: int = 0, start: str = "09:00", end: str = "12:00", *,
            clinic: int = CLINIC, types: frozenset[int] = frozenset(), valid_from: date = date(2020, 1, 1),
            valid_to: date | None = None) -> WeeklySession:
    return WeeklySession(resource, clinic, weekday, time.fromisoformat(start), time.fromisoformat(end),
                         valid_from, valid_to, types)


def doctor(*sessions: WeeklySession, booked: tuple[Span, ...] = (), closed: tuple[Span, ...] = (),
           rid: int = 1) -> Calendar:
    return Calendar(rid, "clinician", sessions or (session(rid),), booked, closed)


def test_a_morning_session_offers_slots_of_the_types_length() -> None:
    slots = free_slots(NEW, [doctor()], week(MONDAY), LONDON)
    assert local_times(slots) == ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]
    assert all(s.end - s.start == timedelta(minutes=30) for s in slots)
    assert {s.resource_ids for s in slots} == {(1,)} and {s.clinic_id for s in slots} == {CLINIC}
    long_slots = Demand(type_id=10, slot_minutes=45, needs=("clinician",))
    assert local_times(free_slots(long_slots, [doctor()], week(MONDAY), LONDON)) == [
        "09:00", "09:45", "10:30", "11:15"]


def test_bookings_take_out_every_slot_they_touch() -> None:
    booked = (Span(at(MONDAY, 10), at(MONDAY, 10, 30)), Span(at(MONDAY, 11, 15), at(MONDAY, 11, 45)))
    slots = free_slots(NEW, [doctor(booked=booked)], week(MONDAY), LONDON)
    assert local_times(slots) == ["09:00", "09:30", "10:30"]


def test_closures_and_holidays_close_sessions() -> None:
    closed = (Span(at(MONDAY, 9, 40), at(MONDAY, 10, 10)),)
    tuesday = MONDAY + timedelta(days=1)
    cal = doctor(session(1, 0), session(1, 1), closed=closed)
    slots = free_slots(NEW, [cal], week(MONDAY), LONDON)
    assert [s.start for s in slots if s.start < at(tuesday, 0)] == [
        at(MONDAY, 9), at(MONDAY, 10, 30), at(MONDAY, 11), at(MONDAY, 11, 30)]
    assert len([s for s in slots if s.start >= at(tuesday, 0)]) == 6
    holiday = Closures(holidays=frozenset({tuesday}))
    assert all(s.start < at(tuesday, 0) for s in free_slots(NEW, [cal], week(MONDAY), LONDON, holiday))
    # A clinic closure closes that clinic's sessions only.
    two_clinics = doctor(session(1, 0, "09:00", "10:00"), session(1, 0, "14:00", "15:00", clinic=OTHER_CLINIC))
    shut = Closures(clinics={CLINIC: (Span(at(MONDAY, 0), at(MONDAY, 23)),)})
    slots = free_slots(NEW, [two_clinics], week(MONDAY), LONDON, shut)
    assert local_times(slots) == ["14:00", "14:30"] and {s.clinic_id for s in slots} == {OTHER_CLINIC}


def test_sessions_offer_only_their_types_and_only_while_valid() -> None:
    only_follow_ups = doctor(session(types=frozenset({99})))
    assert free_slots(NEW, [only_follow_ups], week(MONDAY), LONDON) == []
    assert free_slots(NEW, [doctor(session(types=frozenset({10, 99})))], week(MONDAY), LONDON)
    ended = doctor(session(valid_to=MONDAY - timedelta(days=1)))
    starts_later = doctor(session(valid_from=MONDAY + timedelta(days=7)))
    assert free_slots(NEW, [ended], week(MONDAY), LONDON) == []
    assert free_slots(NEW, [starts_later], week(MONDAY), LONDON) == []
    last_day = doctor(session(valid_from=MONDAY, valid_to=MONDAY))
    assert len(free_slots(NEW, [last_day], week(MONDAY), LONDON)) == 6
    clinic_type = Demand(type_id=10, slot_minutes=30, needs=("clinician",), clinic_id=OTHER_CLINIC)
    assert free_slots(clinic_type, [doctor()], week(MONDAY), LONDON) == []


def test_a_doctor_and_a_room_must_both_be_free_at_the_same_clinic() -> None:
    room_a = Calendar(5, "room", (session(5, 0, "09:00", "10:00"),),
                      booked=(Span(at(MONDAY, 9), at(MONDAY, 9, 30)),))
    room_b = Calendar(6, "room", (session(6, 0, "09:00", "09:30"),))
    room_elsewhere = Calendar(7, "room", (session(7, 0, "10:00", "12:00", clinic=OTHER_CLINIC),))
    slots = free_slots(NEW_WITH_ROOM, [doctor(), room_a, room_b, room_elsewhere], week(MONDAY), LONDON)
    assert [(t, s.resource_ids) for t, s in zip(local_times(slots), slots, strict=True)] == [
        ("09:00", (1, 6)), ("09:30", (1, 5))]
    assert free_slots(NEW_WITH_ROOM, [doctor()], week(MONDAY), LONDON) == []


def test_without_a_clinician_the_room_anchors_the_grid() -> None:
    ecg = Demand(type_id=12, slot_minutes=20, needs=("room", "equipment"))
    room = Calendar(5, "room", (session(5, 0, "09:00", "10:00"),))
    machine = Calendar(8, "equipment", (session(8, 0, "09:20", "12:00"),))
    slots = free_slots(ecg, [machine, room], week(MONDAY), LONDON)
    assert local_times(slots) == ["09:20", "09:40"] and slots[0].resource_ids == (5, 8)


def test_limit_and_window_edges() -> None:
    window = Span(at(MONDAY, 9, 30), at(MONDAY, 11, 0))
    assert local_times(free_slots(NEW, [doctor()], window, LONDON)) == ["09:30", "10:00", "10:30"]
    assert local_times(free_slots(NEW, [doctor(session(1, 0), session(1, 1))], week(MONDAY), LONDON, limit=2)) == [
        "09:00", "09:30"]


def test_next_free_slot_skips_full_days_and_respects_the_start() -> None:
    cal = doctor(session(1, 0, "09:00", "10:00"), session(1, 2, "09:00", "10:00"),
                 booked=(Span(at(MONDAY, 9), at(MONDAY, 10)),))
    slot = next_free_slot(NEW, [cal], at(MONDAY, 8), LONDON)
    assert slot is not None and slot.start == at(MONDAY + timedelta(days=2), 9)
    later = next_free_slot(NEW, [cal], at(MONDAY + timedelta(days=2), 9, 10), LONDON)
    assert later is not None and later.start == at(MONDAY + timedelta(days=2), 9, 30)
    assert next_free_slot(NEW, [cal], at(MONDAY, 8), LONDON, horizon_days=2) is None
    assert next_free_slot(NEW, [], at(MONDAY, 8), LONDON) is None


# ---- daylight saving (Europe/London: forward 29 Mar 2026 01:00 GMT, back 25 Oct 2026 02:00 BST)

SPRING, AUTUMN = date(2026, 3, 29), date(2026, 10, 25)


def test_a_nine_oclock_clinic_stays_at_nine_across_the_change() -> None:
    friday = SPRING - timedelta(days=2)
    cal = doctor(*(session(1, d, "09:00", "10:00") for d in range(7)))
    slots = free_slots(NEW, [cal], Span(at(friday, 0), at(friday + timedelta(days=4), 0)), LONDON)
    assert local_times(slots) == ["09:00", "09:30"] * 4
    utc_hours = sorted({s.start.hour for s in slots if s.start.minute == 0})
    assert utc_hours == [8, 9]  # 09:00 GMT before, 09:00 BST (08:00 UTC) after


def test_spring_forward_night_session_is_an_hour_shorter() -> None:
    cal = doctor(session(1, SPRING.weekday(), "00:30", "03:30"))
    slots = free_slots(NEW, [cal], Span(at(SPRING, 0), at(SPRING, 12)), LONDON)
    assert local_times(slots) == ["00:30", "02:00", "02:30", "03:00"]
    assert all(s.end - s.start == timedelta(minutes=30) for s in slots)
    assert slots[-1].end == at(SPRING, 3, 30)


def test_fall_back_night_session_is_an_hour_longer() -> None:
    cal = doctor(session(1, AUTUMN.weekday(), "00:30", "03:30"))
    slots = free_slots(NEW, [cal], Span(at(AUTUMN, 0), at(AUTUMN, 12)), LONDON)
    assert local_times(slots) == ["00:30", "01:00", "01:30", "01:00", "01:30", "02:00", "02:30", "03:00"]
    assert [s.start.astimezone(LONDON).tzname() for s in slots[:4]] == ["BST", "BST", "BST", "GMT"]
    assert len({s.start for s in slots}) == 8


def test_wall_times_in_the_gap_shift_forward_and_are_reported_missing() -> None:
    assert not wall_time_exists(SPRING, time(1, 30), LONDON)
    assert wall_time_exists(SPRING, time(2, 30), LONDON) and wall_time_exists(AUTUMN, time(1, 30), LONDON)
    assert local_instant(SPRING, time(1, 30), LONDON) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert local_instant(AUTUMN, time(1, 30), LONDON) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # first


# ---- the booking check ---------------------------------------------------------------------

ROOM = Calendar(5, "room", (session(5, 0, "08:00", "13:00"),))


def test_check_booking_accepts_a_free_slot_and_names_its_clinic() -> None:
    assert check_booking(NEW_WITH_ROOM, [doctor(), ROOM], at(MONDAY, 9, 10), LONDON) == CLINIC


def test_check_booking_refusals_say_why() -> None:
    def problem(*args: object, **kw: object) -> Problem:
        result = check_booking(*args, **kw)  # type: ignore[arg-type]
        assert isinstance(result, Problem), result
        return result

    assert problem(NEW_WITH_ROOM, [doctor()], at(MONDAY, 9), LONDON).field == "resource_ids"
    assert problem(NEW_WITH_ROOM, [doctor(), doctor(rid=2)], at(MONDAY, 9), LONDON).field == "resource_ids"
    assert "outside the sessions" in problem(NEW_WITH_ROOM, [doctor(), ROOM], at(MONDAY, 11, 45), LONDON).message
    assert "outside" in problem(NEW, [doctor()], at(MONDAY + timedelta(days=1), 9), LONDON).message
    elsewhere = Calendar(5, "room", (session(5, 0, "08:00", "13:00", clinic=OTHER_CLINIC),))
    assert "same clinic" in problem(NEW_WITH_ROOM, [doctor(), elsewhere], at(MONDAY, 9), LONDON).message
    holiday = Closures(holidays=frozenset({MONDAY}))
    assert "holiday" in problem(NEW, [doctor()], at(MONDAY, 9), LONDON, holiday).message
    shut = Closures(clinics={CLINIC: (Span(at(MONDAY, 9, 20), at(MONDAY, 9, 25)),)})
    assert "clinic is closed" in problem(NEW, [doctor()], at(MONDAY, 9), LONDON, shut).message
    on_leave = doctor(closed=(Span(at(MONDAY, 0), at(MONDAY, 23)),))
    assert not problem(NEW, [on_leave], at(MONDAY, 9), LONDON).taken
    busy = doctor(booked=(Span(at(MONDAY, 9, 15), at(MONDAY, 9, 45)),))
    taken = problem(NEW, [busy], at(MONDAY, 9), LONDON)
    assert taken.taken and taken.field == "start_at"
    # A booking need not sit on the grid, but must not touch another.
    assert check_booking(NEW, [busy], at(MONDAY, 9, 45), LONDON) == CLINIC


def test_subtract_and_parse_needs() -> None:
    day = [Span(at(MONDAY, 9), at(MONDAY, 12))]
    cuts = [Span(at(MONDAY, 10), at(MONDAY, 10, 30)), Span(at(MONDAY, 8), at(MONDAY, 9, 15))]
    assert subtract(day, cuts) == [Span(at(MONDAY, 9, 15), at(MONDAY, 10)), Span(at(MONDAY, 10, 30), at(MONDAY, 12))]
    assert subtract(day, [Span(at(MONDAY, 8), at(MONDAY, 13))]) == []
    assert parse_needs(" clinician, room ,") == ("clinician", "room")


# ---- properties ------------------------------------------------------------------------------

BASE = datetime(2026, 1, 1, tzinfo=UTC)
# Weeks that contain a clock change in London or New York, and one that does not.
WEEKS = [date(2026, 3, 23), date(2026, 10, 19), date(2026, 3, 2), date(2026, 10, 26), date(2026, 6, 8)]

minutes_of_day = st.integers(0, 24 * 4 - 2).map(lambda q: q * 15)


@st.composite
def weekly(draw: st.DrawFn, rid: int) -> WeeklySession:
    start = draw(minutes_of_day)
    end = draw(st.integers(start + 15, 24 * 60 - 1))
    clinic = draw(st.sampled_from([CLINIC, OTHER_CLINIC]))
    types = draw(st.sampled_from([frozenset(), frozenset({10}), frozenset({99})]))
    return WeeklySession(rid, clinic, draw(st.integers(0, 6)), time(start // 60, start % 60),
                         time(end // 60, end % 60), date(2020, 1, 1), None, types)


@st.composite
def spans_in(draw: st.DrawFn, first: date) -> Span:
    begin = at(first, 0) + timedelta(minutes=draw(st.integers(0, 8 * 24 * 60)))
    return Span(begin, begin + timedelta(minutes=draw(st.integers(1, 6 * 60))))


def _apart(sessions: list[WeeklySession]) -> tuple[WeeklySession, ...]:
    """A resource's sessions never overlap (configuration refuses that), so drop clashes."""
    kept: list[WeeklySession] = []
    for s in sessions:
        if not any(k.weekday == s.weekday and k.start < s.end and s.start < k.end for k in kept):
            kept.append(s)
    return tuple(kept)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Demand, list[Calendar], Span, ZoneInfo, Closures]:
    first = draw(st.sampled_from(WEEKS)) - timedelta(days=1)
    tz = draw(st.sampled_from([LONDON, NEW_YORK]))
    needs = draw(st.sampled_from([("clinician",), ("clinician", "room"), ("room", "equipment")]))
    demand = Demand(10, draw(st.sampled_from([10, 15, 20, 30, 45, 60])), needs)
    calendars = []
    for rid, kind in enumerate(("clinician", "clinician", "room", "room", "equipment"), start=1):
        calendars.append(Calendar(
            rid, kind, _apart(draw(st.lists(weekly(rid), max_size=4))),
            tuple(draw(st.lists(spans_in(first), max_size=5))),
            tuple(draw(st.lists(spans_in(first), max_size=2))),
        ))
    clinic_closures = {CLINIC: tuple(draw(st.lists(spans_in(first), max_size=2)))}
    holidays = frozenset(draw(st.lists(st.sampled_from([first + timedelta(days=i) for i in range(9)]), max_size=2)))
    window = Span(at(first, 0, tz=tz), at(first + timedelta(days=8), 0, tz=tz))
    return demand, calendars, window, tz, Closures(holidays, clinic_closures)


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_every_offered_slot_is_really_free(scenario: tuple[Demand, list[Calendar], Span, ZoneInfo, Closures]) -> None:
    demand, calendars, window, tz, closures = scenario
    by_id = {c.resource_id: c for c in calendars}
    slots = free_slots(demand, calendars, window, tz, closures)
    assert slots == sorted(slots)
    for slot in slots:
        span = Span(slot.start, slot.end)
        assert slot.end - slot.start == timedelta(minutes=demand.slot_minutes)
        assert window.contains(span)
        day = slot.start.astimezone(tz).date()
        assert day not in closures.holidays
        assert [by_id[r].kind for r in slot.resource_ids] == list(demand.needs)
        assert not any(c.overlaps(span) for c in closures.clinics.get(slot.clinic_id, ()))
        for rid in slot.resource_ids:
            cal = by_id[rid]
            assert not any(b.overlaps(span) for b in cal.booked + cal.closed)
            inside = [
                s for s in cal.sessions
                if s.applies_on(day) and s.offers(demand.type_id) and s.clinic_id == slot.clinic_id
                and Span(local_instant(day, s.start, tz), local_instant(day, s.end, tz)).contains(span)
            ]
            assert inside, "every slot lies inside a session of each of its resources"
        # What the grid offers, the booking check accepts.
        assert check_booking(demand, [by_id[r] for r in slot.resource_ids], slot.start, tz, closures) == slot.clinic_id


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_every_free_grid_point_of_a_lone_clinician_is_offered(
    scenario: tuple[Demand, list[Calendar], Span, ZoneInfo, Closures],
) -> None:
    demand, calendars, window, tz, closures = scenario
    demand = Demand(demand.type_id, demand.slot_minutes, ("clinician",))
    cal = calendars[0]
    offered = {(s.start, s.clinic_id) for s in free_slots(demand, [cal], window, tz, closures)}
    expected = set()
    day = window.start.astimezone(tz).date() - timedelta(days=1)
    while day <= window.end.astimezone(tz).date():
        for s in cal.sessions:
            if not s.applies_on(day) or not s.offers(demand.type_id) or day in closures.holidays:
                continue
            start, end = local_instant(day, s.start, tz), local_instant(day, s.end, tz)
            while start + demand.length <= end:
                span = Span(start, start + demand.length)
                blocked = [*cal.booked, *cal.closed, *closures.clinics.get(s.clinic_id, ())]
                if window.contains(span) and not any(b.overlaps(span) for b in blocked):
                    expected.add((start, s.clinic_id))
                start += demand.length
        day += timedelta(days=1)
    assert offered == expected


@given(st.lists(st.tuples(st.integers(0, 600), st.integers(1, 120)), max_size=6),
       st.lists(st.tuples(st.integers(0, 600), st.integers(1, 120)), max_size=6))
def test_subtract_removes_exactly_the_covered_minutes(spans: list[tuple[int, int]], cuts: list[tuple[int, int]]) -> None:
    def mk(pairs: list[tuple[int, int]]) -> list[Span]:
        return [Span(BASE + timedelta(minutes=a), BASE + timedelta(minutes=a + n)) for a, n in pairs]

    def minutes(items: list[Span]) -> set[int]:
        return {m for s in items for m in range(int((s.start - BASE).total_seconds() // 60),
                                                 int((s.end - BASE).total_seconds() // 60))}

    # Sessions never overlap one another, so feed non-overlapping spans.
    disjoint = subtract(mk(spans[:1]), []) + subtract(mk(spans[1:2]), mk(spans[:1]))
    result = subtract(disjoint, mk(cuts))
    assert minutes(result) == minutes(disjoint) - minutes(mk(cuts))
    assert all(s.start < s.end for s in result)
