"""Times typed on the ward: a clock time ("23:50") means the latest such moment not after now,
so a night shift charting after midnight means last night; junk and overflow are a refusal
beside the field (422), never a 500; and a charted time is never ahead of the clock, never too
far back and never before the admission."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.errors import DomainError
from app.core.web import CLOCK_SKEW, check_charted_at, parse_clock_time, parse_local_datetime

# 00:10 London (BST) on 11 June 2026.
AFTER_MIDNIGHT = datetime(2026, 6, 10, 23, 10, tzinfo=UTC)
MIDDAY = datetime(2026, 6, 10, 11, 0, tzinfo=UTC)  # 12:00 BST


@pytest.fixture(autouse=True)
def _ctx(app: Flask) -> Iterator[None]:
    with app.app_context():
        assert app.config["HOSPITAL_TIMEZONE"] == "Europe/London"
        yield


def test_a_time_typed_after_midnight_is_last_night() -> None:
    assert parse_clock_time("23:50", "t", AFTER_MIDNIGHT) == datetime(2026, 6, 10, 22, 50, tzinfo=UTC)
    assert parse_clock_time("00:05", "t", AFTER_MIDNIGHT) == datetime(2026, 6, 10, 23, 5, tzinfo=UTC)


def test_a_time_earlier_today_is_today_and_a_few_minutes_ahead_is_clock_skew() -> None:
    assert parse_clock_time("09:30", "t", MIDDAY) == datetime(2026, 6, 10, 8, 30, tzinfo=UTC)
    assert parse_clock_time("12:04", "t", MIDDAY) == MIDDAY + timedelta(minutes=4)
    # Beyond the skew: yesterday's 12:30, which check_charted_at then judges as a late entry.
    assert parse_clock_time("12:30", "t", MIDDAY) == MIDDAY + timedelta(minutes=30) - timedelta(days=1)


@pytest.mark.parametrize("text", ["0930", "9:30", "09.30", "09h30", " 09:30 "])
def test_the_usual_ways_of_typing_a_time(text: str) -> None:
    assert parse_clock_time(text, "t", MIDDAY) == datetime(2026, 6, 10, 8, 30, tzinfo=UTC)


def test_the_24_hour_bounds() -> None:
    assert parse_clock_time("00:00", "t", MIDDAY) == datetime(2026, 6, 9, 23, 0, tzinfo=UTC)
    assert parse_clock_time("23:59", "t", MIDDAY) == datetime(2026, 6, 9, 22, 59, tzinfo=UTC)
    for bad in ("24:00", "23:60", "25:10", "-1:00", "12:5"):
        with pytest.raises(DomainError) as exc:
            parse_clock_time(bad, "occurred_at", MIDDAY)
        assert exc.value.field == "occurred_at" and exc.value.status_code == 422


@pytest.mark.parametrize("junk", ["99999999999999999999:00", "noon", "12:00pm", "１２:００", "12:00:00",
                                  "1" * 1000, "\x00"])
def test_garbage_and_overflow_are_refused_beside_the_field(junk: str) -> None:
    with pytest.raises(DomainError) as exc:
        parse_clock_time(junk, "occurred_at", MIDDAY)
    assert exc.value.field == "occurred_at" and "HH:MM" in exc.value.message


def test_blank_is_not_given() -> None:
    assert parse_clock_time(None, "t", MIDDAY) is None and parse_clock_time("  ", "t", MIDDAY) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                                            timezones=st.just(UTC)))
def test_any_text_is_a_time_at_most_a_day_back_or_a_refusal(text: str, now: datetime) -> None:
    try:
        at = parse_clock_time(text, "t", now)
    except DomainError as exc:
        assert exc.field == "t"
        return
    assert at is None or now - timedelta(days=1) - timedelta(hours=1) <= at <= now + CLOCK_SKEW


def test_local_datetimes() -> None:
    assert parse_local_datetime("2026-06-10T09:30", "t") == datetime(2026, 6, 10, 8, 30, tzinfo=UTC)
    assert parse_local_datetime("2026-12-10T09:30", "t") == datetime(2026, 12, 10, 9, 30, tzinfo=UTC)
    assert parse_local_datetime("", "t") is None
    for junk in ("yesterday", "99999-01-01T00:00", "1800-01-01T00:00", "2026-06-10T09:30+02:00",
                 "2026-13-01T00:00"):
        with pytest.raises(DomainError) as exc:
            parse_local_datetime(junk, "when")
        assert exc.value.field == "when"


def test_charted_at_is_now_by_default_and_never_ahead() -> None:
    back = timedelta(hours=24)
    assert check_charted_at(None, MIDDAY, field="f", what="A dose", back=back) == MIDDAY
    assert check_charted_at(MIDDAY + CLOCK_SKEW, MIDDAY, field="f", what="A dose", back=back)
    with pytest.raises(DomainError) as exc:
        check_charted_at(MIDDAY + timedelta(minutes=6), MIDDAY, field="f", what="A dose", back=back)
    assert exc.value.field == "f" and exc.value.message == "A dose cannot be charted for a time still to come."


def test_charted_at_late_entries_and_the_admission() -> None:
    back = timedelta(hours=72)
    assert check_charted_at(MIDDAY - back, MIDDAY, field="f", what="A note", back=back) == MIDDAY - back
    with pytest.raises(DomainError) as exc:
        check_charted_at(MIDDAY - back - timedelta(minutes=1), MIDDAY, field="f", what="A note", back=back)
    assert exc.value.message == "A late entry may be at most 72 hours back."
    admitted = MIDDAY - timedelta(hours=2)
    with pytest.raises(DomainError) as exc:
        check_charted_at(admitted - timedelta(minutes=1), MIDDAY, field="f", what="A note", back=back,
                         earliest=admitted)
    assert exc.value.message == "A note cannot be charted before the admission."
    with pytest.raises(DomainError):
        check_charted_at(datetime(2026, 6, 10, 11, 0), MIDDAY, field="f", what="A note", back=back)
