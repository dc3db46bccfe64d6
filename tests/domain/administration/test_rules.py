"""Pure rules: planned times across daylight-saving changes, the dose clock, outcomes, PRN
limits (with Hypothesis), wristband reads and the chart's columns."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.administration import rules
from config import DEFAULT_ADMINISTRATION_TIMES as TABLE

LONDON = "Europe/London"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- daylight saving ------------------------------------------------------------------------

def test_spring_forward_in_london_keeps_every_wall_clock_time_once() -> None:
    # 29 Mar 2026: clocks go 01:00 GMT -> 02:00 BST. Q4H owes 02:00 local, which does not exist
    # that night: it is given at 02:00 GMT-offset, i.e. 01:00 UTC (03:00 on the clock).
    times = rules.planned_times("Q4H", utc(2026, 3, 28, 23), None, utc(2026, 3, 28, 23), 1, TABLE,
                                LONDON)
    assert times == [utc(2026, 3, 29, 1), utc(2026, 3, 29, 5), utc(2026, 3, 29, 9),
                     utc(2026, 3, 29, 13), utc(2026, 3, 29, 17), utc(2026, 3, 29, 21)]


def test_fall_back_in_london_gives_the_repeated_hour_once() -> None:
    # 25 Oct 2026: 02:00 BST -> 01:00 GMT. Q6H's 00:00 and 06:00 are either side of it.
    times = rules.planned_times("Q6H", utc(2026, 10, 24, 22), None, utc(2026, 10, 24, 22), 1, TABLE,
                                LONDON)
    assert times == [utc(2026, 10, 24, 23), utc(2026, 10, 25, 6), utc(2026, 10, 25, 12),
                     utc(2026, 10, 25, 18)]
    assert len(set(times)) == len(times)


def test_bid_across_the_spring_change_moves_one_hour_in_utc() -> None:
    times = rules.planned_times("BID", utc(2026, 3, 28, 0), None, utc(2026, 3, 28, 0), 3, TABLE, LONDON)
    assert times[:2] == [utc(2026, 3, 28, 9), utc(2026, 3, 28, 21)]  # GMT
    assert times[2:4] == [utc(2026, 3, 29, 8), utc(2026, 3, 29, 20)]  # BST


def test_another_zone_new_york_spring_forward() -> None:
    # 8 Mar 2026: 02:00 EST -> 03:00 EDT; Q4H's 02:00 does not exist and becomes 07:00 UTC.
    times = rules.planned_times("Q4H", utc(2026, 3, 8, 5), None, utc(2026, 3, 8, 5), 1, TABLE,
                                "America/New_York")
    assert times[0] == utc(2026, 3, 8, 7)
    assert times[1] == utc(2026, 3, 8, 10)  # 06:00 EDT
    assert len(times) == 6 and len(set(times)) == 6


def test_a_zone_with_a_half_hour_offset_sydney_fall_back() -> None:
    # Australia/Sydney 5 Apr 2026: 03:00 AEDT -> 02:00 AEST; the 02:00 Q4H dose happens once.
    times = rules.planned_times("Q4H", utc(2026, 4, 4, 13), None, utc(2026, 4, 4, 13), 1, TABLE,
                                "Australia/Sydney")
    assert times[0] == utc(2026, 4, 4, 15)  # 02:00 AEDT (UTC+11), the first of the two
    assert len(times) == len(set(times)) == 6


@settings(max_examples=150, deadline=None)
@given(start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31),
                          timezones=st.just(UTC)),
       days=st.integers(1, 10),
       code=st.sampled_from(["QD", "BID", "TID", "QID", "Q4H", "Q6H", "Q8H", "AC", "PC"]),
       tz=st.sampled_from([LONDON, "America/New_York", "Australia/Sydney", "Asia/Kolkata"]))
def test_planned_times_are_unique_sorted_inside_the_window_and_a_count_per_day(
        start: datetime, days: int, code: str, tz: str) -> None:
    times = rules.planned_times(code, start, None, start, days, TABLE, tz)
    assert times == sorted(set(times))
    assert all(start <= t < start + timedelta(days=days) for t in times)
    per_day = len(TABLE[code]["times"])
    # A DST night can push one dose across the window's edge; never more than one either way.
    assert abs(len(times) - per_day * days) <= 1


def test_planning_window_is_empty_after_the_stop() -> None:
    now = utc(2026, 6, 1, 12)
    assert rules.planning_window(now - timedelta(days=3), now - timedelta(hours=1), now, 7) is None
    assert rules.planned_times("QD", now - timedelta(days=3), now, now, 7, TABLE, LONDON) == []


# --- the clock and outcomes -------------------------------------------------------------------

@pytest.mark.parametrize(("minutes", "state"), [(-61, "upcoming"), (-60, "due"), (0, "due"),
                                                (60, "due"), (61, "overdue"), (24 * 60, "overdue"),
                                                (24 * 60 + 1, "lapsed")])
def test_dose_state_boundaries(minutes: int, state: str) -> None:
    now = utc(2026, 6, 1, 12)
    assert rules.dose_state(now - timedelta(minutes=minutes), now, 60) == state


@pytest.mark.parametrize("outcome", ["held", "refused", "missed", "not_available"])
def test_every_outcome_but_given_needs_a_reason(outcome: str) -> None:
    with pytest.raises(rules.AdministrationRefused) as exc:
        rules.check_outcome(outcome, "  ")
    assert exc.value.field == "reason"
    assert rules.check_outcome(outcome, " patient  asleep ") == "patient asleep"


def test_given_needs_no_reason_and_unknown_outcomes_are_refused() -> None:
    assert rules.check_outcome("given", None) is None
    with pytest.raises(rules.AdministrationRefused):
        rules.check_outcome("swallowed", "x")


# --- PRN ------------------------------------------------------------------------------------

def test_prn_interval_message_says_when_the_next_dose_is_allowed() -> None:
    at = utc(2026, 6, 1, 12)  # 13:00 BST
    message = rules.prn_refusal([at - timedelta(hours=1)], at, 240, 4, LONDON)
    assert message is not None and "240 minutes" in message and "16:00" in message


def test_prn_daily_maximum_uses_a_rolling_24_hours() -> None:
    at = utc(2026, 6, 1, 12)
    given_times = [at - timedelta(hours=h) for h in (20, 15, 10, 5)]
    message = rules.prn_refusal(given_times, at, 60, 4, LONDON)
    assert message is not None and "most in 24 hours is 4" in message
    # Allowed once the oldest of the four is 24 hours old: 4 hours later (17:00 BST).
    assert "17:00" in message
    assert rules.prn_allowed(given_times, at + timedelta(hours=4), 60, 4)


def test_a_late_prn_entry_may_not_squeeze_before_a_later_dose() -> None:
    at = utc(2026, 6, 1, 12)
    message = rules.prn_refusal([at + timedelta(minutes=30)], at, 240, 4, LONDON)
    assert message is not None and "already recorded" in message


@settings(max_examples=200, deadline=None)
@given(offsets=st.lists(st.integers(1, 48 * 60), max_size=8, unique=True),
       interval=st.integers(1, 600), daily=st.integers(1, 8))
def test_next_prn_time_is_exactly_the_first_allowed_moment(offsets: list[int], interval: int,
                                                           daily: int) -> None:
    at = utc(2026, 6, 2, 12)
    history = [at - timedelta(minutes=m) for m in offsets]
    nxt = rules.next_prn_allowed(history, at, interval, daily)
    if nxt is None:
        assert rules.prn_allowed(history, at, interval, daily)
        return
    assert nxt > at
    assert rules.next_prn_allowed(history, nxt, interval, daily) is None
    assert rules.next_prn_allowed(history, nxt - timedelta(seconds=1), interval, daily) is not None
    # At the allowed time both limits hold.
    assert all(nxt - t >= timedelta(minutes=interval) for t in history)
    assert sum(1 for t in history if t > nxt - timedelta(hours=24)) < daily


# --- scans and chart ------------------------------------------------------------------------

def test_wristband_reads_strip_symbology_prefixes() -> None:
    assert rules.wristband_mrn("]C01000000018 ") == "1000000018"
    assert rules.wristband_mrn("]d21000000018") == "1000000018"
    assert rules.wristband_mrn("1000000018") == "1000000018"


def test_chart_columns_follow_the_wall_clock_on_change_days() -> None:
    assert len(rules.chart_columns(date(2026, 3, 29), 1, LONDON)) == 23
    assert len(rules.chart_columns(date(2026, 10, 25), 1, LONDON)) == 25
    assert len(rules.chart_columns(date(2026, 6, 1), 1, LONDON)) == 24
    week = rules.chart_columns(date(2026, 6, 1), 7, LONDON)
    assert len(week) == 7 and week[0].start == utc(2026, 5, 31, 23)
