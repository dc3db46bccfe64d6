"""Pure prescribing rules: reading a dose, how many doses a day a frequency gives, when the
scheduled doses fall, and what a prescription's end is. No database, no request."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

# Frequencies with no scheduled times: given once now, or when required.
STAT = "STAT"
PRN = "PRN"
# No dose in any unit a prescriber writes reaches a million (mg, units, mL, tablets);
# anything above is a typo, not a dose. Three decimals is the column's precision.
ABSURD_DOSE = Decimal(1_000_000)
DOSE_PLACES = 3
MAX_DURATION_DAYS = 3660
MAX_PRN_INTERVAL_MINUTES = 7 * 24 * 60
MAX_PRN_DAILY_DOSES = 48
MAX_QUANTITY = 100_000


class DoseError(ValueError):
    """A dose nobody could give: the message says why."""


def parse_dose(value: object) -> Decimal:
    """A positive, finite dose with at most three decimals below ABSURD_DOSE."""
    if isinstance(value, bool) or value is None:
        raise DoseError("Enter the dose as a number.")
    try:
        text = str(value).strip().replace(",", ".")
        if not text or not text.isascii():
            raise InvalidOperation
        dose = Decimal(text)
    except InvalidOperation as exc:
        raise DoseError("Enter the dose as a number.") from exc
    if not dose.is_finite():
        raise DoseError("Enter the dose as a number.")
    if dose <= 0:
        raise DoseError("A dose must be more than zero.")
    if dose >= ABSURD_DOSE:
        raise DoseError("That dose is impossibly large: check the number and the unit.")
    exponent = dose.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -DOSE_PLACES:
        raise DoseError("Give the dose to at most three decimal places.")
    return dose


def doses_per_day(frequency: str, table: Mapping[str, Mapping[str, Any]],
                  prn_max_daily_doses: int | None = None) -> int:
    """Scheduled doses in a day; a PRN order counts its daily maximum, a STAT order one dose."""
    if frequency == PRN:
        return prn_max_daily_doses or 0
    if frequency == STAT:
        return 1
    return len(table[frequency]["times"])


def to_dose_unit(dose: Decimal, unit: str, dose_unit: str, stock_unit: str,
                 dose_per_stock_unit: Decimal | None) -> Decimal | None:
    """The dose in the drug's dose unit (2 tablets of 500 mg -> 1000 mg), or None when it
    cannot be converted."""
    if unit == dose_unit:
        return dose
    if unit == stock_unit and dose_per_stock_unit is not None:
        return dose * dose_per_stock_unit
    return None


def end_of(start: datetime, stop: datetime | None, duration_days: int | None) -> datetime | None:
    """When the prescription runs out: the stop date, or start + duration (days)."""
    if stop is not None:
        return stop
    if duration_days is not None:
        return start + timedelta(days=duration_days)
    return None


def _local_times(entry: Mapping[str, Any]) -> list[time]:
    return sorted({time.fromisoformat(t) for t in entry["times"]})


def dose_times(frequency: str, start: datetime, stop: datetime,
               table: Mapping[str, Mapping[str, Any]], tz: str) -> list[datetime]:
    """Every scheduled dose time (UTC, ascending, no repeats) in [start, stop) for a frequency
    from the administration-times table, whose times are hospital-local wall-clock times.

    A STAT order is one dose at its start; a PRN order has no scheduled doses. A local time that
    does not exist on a spring-forward day is given at the same offset as before the change (one
    hour later on the clock); on a fall-back day a time that occurs twice is given once, the
    first time."""
    if start.tzinfo is None or stop.tzinfo is None:
        raise ValueError("start and stop must be timezone-aware")
    if stop <= start:
        return []
    if frequency == STAT:
        return [start.astimezone(UTC)]
    if frequency == PRN:
        return []
    times = _local_times(table[frequency])
    if not times:
        return []
    zone = ZoneInfo(tz)
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = stop.astimezone(zone).date() + timedelta(days=1)
    found: set[datetime] = set()
    while day <= last:
        for t in times:
            at = datetime.combine(day, t, zone).astimezone(UTC)
            if start <= at < stop:
                found.add(at)
        day += timedelta(days=1)
    return sorted(found)
