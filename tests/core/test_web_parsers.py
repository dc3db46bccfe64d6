"""The one parser for ids and days typed into URLs and forms: junk is "not given", never a 500."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.core.web import DAY_MAX, DAY_MIN, parse_day, parse_id


def test_ids_are_short_ascii_digits() -> None:
    assert parse_id("42") == 42 and parse_id(" 7 ") == 7 and parse_id("0") == 0 and parse_id(5) == 5
    assert parse_id("999999999") == 999_999_999
    for junk in ("²", "٣", "9" * 10, "9" * 25, "-1", "1e3", "", " ", "None", "0x1", None, -1, 10**9, True, 1.0):
        assert parse_id(junk) is None, junk


@given(st.text(max_size=30))
def test_any_text_is_an_id_that_fits_32_bits_or_none(text: str) -> None:
    parsed = parse_id(text)
    assert parsed is None or 0 <= parsed < 2**31


def test_days_are_iso_dates_within_bounds() -> None:
    assert parse_day("2026-11-23") == date(2026, 11, 23)
    assert parse_day(DAY_MIN.isoformat()) == DAY_MIN and parse_day(DAY_MAX.isoformat()) == DAY_MAX
    for junk in ("9999-12-31", "0001-01-01", "1899-12-31", "2200-01-01", "2026-02-30", "²", "", None):
        assert parse_day(junk) is None, junk


@given(st.dates())
def test_a_parsed_day_can_be_stepped_a_year_either_way(day: date) -> None:
    parsed = parse_day(day.isoformat())
    assert parsed is None or parsed - timedelta(days=366) < parsed < parsed + timedelta(days=366)
