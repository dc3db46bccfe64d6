"""The one source of "now", always timezone-aware UTC; tests move it with `freeze`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["UTC", "age_on", "freeze", "hospital_timezone", "hospital_today", "now", "to_local",
           "to_utc", "today_local"]

_frozen: datetime | None = None


def now() -> datetime:
    return _frozen if _frozen is not None else datetime.now(UTC)


def to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def to_local(value: datetime, tz: str) -> datetime:
    return value.astimezone(ZoneInfo(tz))


def today_local(tz: str) -> date:
    return to_local(now(), tz).date()


def hospital_timezone() -> str:
    """The hospital's time zone from the running app's configuration."""
    from flask import current_app

    return str(current_app.config["HOSPITAL_TIMEZONE"])


def hospital_today() -> date:
    """Today's date on the hospital's wall calendar (expiry days, clinic days, "today" lists)."""
    return today_local(hospital_timezone())


def age_on(birth_date: date, on: date) -> int:
    """Completed years, as a clinician counts them (not days/365)."""
    years = on.year - birth_date.year
    if (on.month, on.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


@contextmanager
def freeze(at: datetime) -> Iterator[_Traveller]:
    """Stop the clock at `at`; the yielded traveller moves it forward."""
    global _frozen
    previous = _frozen
    _frozen = to_utc(at)
    try:
        yield _Traveller()
    finally:
        _frozen = previous


class _Traveller:
    def advance(self, **kwargs: float) -> datetime:
        global _frozen
        assert _frozen is not None
        _frozen = _frozen + timedelta(**kwargs)
        return _frozen
