"""Dose reading and scheduled dose times (pure rules)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.prescribing import rules
from config import DEFAULT_ADMINISTRATION_TIMES as TABLE

LONDON = "Europe/London"


@pytest.mark.parametrize("text", ["0", "-5", "abc", "", "NaN", "inf", "1e9", "1000000", "0.0001", "½", None, True])
def test_impossible_doses_are_refused(text: object) -> None:
    with pytest.raises(rules.DoseError):
        rules.parse_dose(text)


def test_doses_may_use_a_decimal_comma_and_three_places() -> None:
    assert rules.parse_dose(" 0,125 ") == Decimal("0.125")
    assert rules.parse_dose("2.5") == Decimal("2.5")


def test_tid_gives_three_doses_a_day_at_the_hospitals_times() -> None:
    start = datetime(2026, 1, 12, 0, 0, tzinfo=UTC)
    times = rules.dose_times("TID", start, start + timedelta(days=2), TABLE, LONDON)
    assert [t.strftime("%d %H:%M") for t in times] == ["12 09:00", "12 13:00", "12 17:00",
                                                        "13 09:00", "13 13:00", "13 17:00"]


def test_summer_time_moves_the_utc_times_not_the_clock_times() -> None:
    start = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
    times = rules.dose_times("BID", start, start + timedelta(days=1), TABLE, LONDON)
    assert [t.strftime("%H:%M") for t in times] == ["08:00", "20:00"]  # 09:00 and 21:00 BST


def test_stat_is_one_dose_now_and_prn_has_none_scheduled() -> None:
    start = datetime(2026, 1, 12, 10, 17, tzinfo=UTC)
    assert rules.dose_times("STAT", start, start + timedelta(days=1), TABLE, LONDON) == [start]
    assert rules.dose_times("PRN", start, start + timedelta(days=1), TABLE, LONDON) == []


_ZONES = st.sampled_from([LONDON, "UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"])
_CODES = st.sampled_from(sorted(c for c, e in TABLE.items() if e["times"]))
_STARTS = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC))


@given(code=_CODES, start=_STARTS, hours=st.integers(min_value=0, max_value=24 * 20), tz=_ZONES)
def test_dose_times_are_ordered_inside_the_window_and_at_listed_local_times(code: str, start: datetime,
                                                                           hours: int, tz: str) -> None:
    stop = start + timedelta(hours=hours)
    times = rules.dose_times(code, start, stop, TABLE, tz)
    assert times == sorted(set(times))
    assert all(start <= t < stop and t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in times)
    listed = {datetime.strptime(s, "%H:%M").time() for s in TABLE[code]["times"]}
    zone = ZoneInfo(tz)
    for t in times:
        local = t.astimezone(zone)
        # Listed, or pushed an hour by a spring-forward gap.
        assert local.time().replace(second=0) in listed or (local - timedelta(hours=1)).time() in listed \
            or (local - timedelta(minutes=30)).time() in listed


@given(code=_CODES, day=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)), tz=_ZONES)
def test_a_whole_local_day_without_a_clock_change_has_every_listed_time(code: str, day: date, tz: str) -> None:
    zone = ZoneInfo(tz)
    start = datetime.combine(day, datetime.min.time(), zone)
    stop = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
    if start.utcoffset() != stop.utcoffset():
        return  # the clocks change that day; covered by the ordering property above
    times = rules.dose_times(code, start.astimezone(UTC), stop.astimezone(UTC), TABLE, tz)
    assert len(times) == len(set(TABLE[code]["times"]))


@given(dose=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("999999.999"), places=3))
def test_every_sensible_dose_reads_back_exactly(dose: Decimal) -> None:
    assert rules.parse_dose(str(dose)) == dose
