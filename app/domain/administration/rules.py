"""Pure rules of the medication administration record: which dose times a prescription owes
in a planning window, where a dose stands against the clock, what an outcome needs, when the
next when-required (PRN) dose is allowed, and whether a bedside scan matches. No database, no
request."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.domain.prescribing import rules as prescribing_rules

OUTCOMES = ("given", "held", "refused", "missed", "not_available")
OUTCOME_LABELS = {
    "given": "Given", "held": "Held", "refused": "Refused", "missed": "Missed",
    "not_available": "Not available", "withdrawn": "Withdrawn", "due": "Due",
}
# One character a cell of the MAR grid shows (the printed chart's legend repeats them).
SYMBOLS = {
    "given": "✓", "held": "H", "refused": "R", "missed": "M", "not_available": "N",
    "withdrawn": "–", "due": "○", "overdue": "!",
}
MIN_REASON = 3
MAX_REASON = 500
# A dose never recorded stops counting as overdue a day after its time: by then it is not a
# dose to give late but a gap to explain on the chart (it still shows there, open).
OVERDUE_LOOKBACK = timedelta(hours=24)
PRN_WINDOW = timedelta(hours=24)  # the daily maximum is over a rolling 24 hours


class AdministrationRefused(ValueError):
    """A recording nobody may make; `field` names the form field it belongs beside."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# --- planning ------------------------------------------------------------------------------

def planning_window(start: datetime, stop: datetime | None, now: datetime,
                    days: int) -> tuple[datetime, datetime] | None:
    """[max(start, now), min(stop, now + days)), or None when it is empty."""
    begin = max(start, now)
    end = now + timedelta(days=days)
    if stop is not None:
        end = min(end, stop)
    return (begin, end) if end > begin else None


def planned_times(frequency: str, start: datetime, stop: datetime | None, now: datetime,
                  days: int, table: Mapping[str, Mapping[str, Any]], tz: str,
                  stat_at: datetime | None = None) -> list[datetime]:
    """The UTC instants of the scheduled doses a prescription owes from now to the horizon.

    PRN owes none. STAT owes one, at `stat_at` (the later of its start and its verification),
    whatever the clock says: planning it again finds the same instant, so it is never doubled.
    Other codes take their local wall-clock times from the administration-times table
    (prescribing.rules.dose_times handles the daylight-saving days)."""
    code = frequency.upper()
    if code == prescribing_rules.PRN:
        return []
    if code == prescribing_rules.STAT:
        at = stat_at or start
        return [at.astimezone(UTC)] if stop is None or at < stop else []
    window = planning_window(start, stop, now, days)
    if window is None:
        return []
    return prescribing_rules.dose_times(code, window[0], window[1], table, tz)


# --- the clock -----------------------------------------------------------------------------

def dose_state(due_at: datetime, now: datetime, overdue_minutes: int) -> str:
    """`upcoming` (more than the window ahead), `due` (within ± the window), `overdue` (open
    longer than the window after its time), or `lapsed` (open beyond OVERDUE_LOOKBACK)."""
    window = timedelta(minutes=overdue_minutes)
    if due_at > now + window:
        return "upcoming"
    if due_at >= now - window:
        return "due"
    if due_at >= now - OVERDUE_LOOKBACK:
        return "overdue"
    return "lapsed"


def early_refusal(due_at: datetime, at: datetime, overdue_minutes: int, tz: str) -> str | None:
    """Why a dose may not be recorded as happening at `at`: it is not yet within its due window
    (DOSE_OVERDUE_MINUTES either side of its time). None when it may be."""
    if dose_state(due_at, at, overdue_minutes) != "upcoming":
        return None
    zone = ZoneInfo(tz)
    due = due_at.astimezone(zone)
    opens = (due_at - timedelta(minutes=overdue_minutes)).astimezone(zone)
    same_day = due.date() == at.astimezone(zone).date()
    shown = f"{due:%H:%M}" if same_day else f"{due:%d %b %H:%M}"
    opens_shown = f"{opens:%H:%M}" if same_day else f"{opens:%d %b %H:%M}"
    return (f"This dose is not due until {shown}; it may be recorded from {opens_shown} "
            f"({overdue_minutes} minutes before its time).")


# --- outcomes ------------------------------------------------------------------------------

def check_outcome(outcome: str, reason: str | None) -> str | None:
    """The reason to keep (None for a plain `given`); every outcome but given needs one."""
    if outcome not in OUTCOMES:
        raise AdministrationRefused("Choose what happened: given, held, refused, missed or not "
                                    "available.", "outcome")
    text = " ".join((reason or "").split())
    if len(text) > MAX_REASON:
        raise AdministrationRefused(f"Keep the reason under {MAX_REASON} characters.", "reason")
    if outcome != "given" and len(text) < MIN_REASON:
        raise AdministrationRefused(f"Say why the dose was {OUTCOME_LABELS[outcome].lower()}.",
                                    "reason")
    return text or None


# --- when-required doses -------------------------------------------------------------------

def next_prn_allowed(given: Iterable[datetime], at: datetime, min_interval_minutes: int | None,
                     max_daily_doses: int | None) -> datetime | None:
    """When the next PRN dose may be given, or None when it may be given at `at`.

    Both limits hold at once: `min_interval_minutes` since the last dose, and no more than
    `max_daily_doses` in any 24 hours (so the next dose waits until the oldest dose that fills
    the count is 24 hours old). Only doses at or before `at` count (see `prn_clash_after`)."""
    times = sorted(t for t in given if t <= at)
    soonest = at
    if min_interval_minutes and times:
        soonest = max(soonest, times[-1] + timedelta(minutes=min_interval_minutes))
    if max_daily_doses:
        recent = [t for t in times if t > at - PRN_WINDOW]
        if len(recent) >= max_daily_doses:
            soonest = max(soonest, recent[len(recent) - max_daily_doses] + PRN_WINDOW)
    return None if soonest <= at else soonest


def prn_clash_after(given: Iterable[datetime], at: datetime,
                    min_interval_minutes: int | None) -> datetime | None:
    """A dose already recorded after `at` (a late entry for an earlier time) that is closer
    than the minimum interval to it, if any."""
    if not min_interval_minutes:
        return None
    later = sorted(t for t in given if t > at)
    if later and later[0] - at < timedelta(minutes=min_interval_minutes):
        return later[0]
    return None


def prn_allowed(given: Sequence[datetime], at: datetime, min_interval_minutes: int | None,
                max_daily_doses: int | None) -> bool:
    return next_prn_allowed(given, at, min_interval_minutes, max_daily_doses) is None


def prn_refusal(given: Sequence[datetime], at: datetime, min_interval_minutes: int | None,
                max_daily_doses: int | None, tz: str) -> str | None:
    """Why a PRN dose may not be given at `at`, saying when it may; None when it may."""
    clash = prn_clash_after(given, at, min_interval_minutes)
    if clash is not None:
        shown = clash.astimezone(ZoneInfo(tz))
        return (f"A dose was already recorded at {shown:%H:%M}: at least {min_interval_minutes} "
                "minutes must separate doses.")
    nxt = next_prn_allowed(given, at, min_interval_minutes, max_daily_doses)
    if nxt is None:
        return None
    local = nxt.astimezone(ZoneInfo(tz))
    when = f"{local:%H:%M}" if local.date() == at.astimezone(ZoneInfo(tz)).date() \
        else f"{local:%d %b %H:%M}"
    recent = [t for t in given if at - PRN_WINDOW < t <= at]
    if max_daily_doses and len(recent) >= max_daily_doses:
        return (f"The most in 24 hours is {max_daily_doses} doses, and {len(recent)} were given: "
                f"the next dose is allowed from {when}.")
    return (f"At least {min_interval_minutes} minutes must pass between doses: the next dose is "
            f"allowed from {when}.")


# --- bedside scans -------------------------------------------------------------------------

def wristband_mrn(scanned: str) -> str:
    """The MRN a wristband scan carries (Code 128 or DataMatrix of the MRN, maybe with a
    scanner's symbology prefix such as "]C0" or "]d2" and stray whitespace)."""
    text = (scanned or "").strip()
    if len(text) > 3 and text[0] == "]" and text[1].isalpha():
        text = text[3:]
    return text.strip()


def expired(expiry: date | None, today: date) -> bool:
    return expiry is not None and expiry < today


# --- the chart -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    """One column of the MAR grid: [start, end) in UTC, headed by its local label."""

    start: datetime
    end: datetime
    label: str
    day: date


def chart_columns(first_day: date, days: int, tz: str) -> list[Column]:
    """A column per local hour for one day, or per local day for several. Hours follow the
    wall clock, so a spring-forward day has 23 columns and a fall-back day 25."""
    zone = ZoneInfo(tz)
    if days == 1:
        begin = datetime.combine(first_day, datetime.min.time(), zone).astimezone(UTC)
        end = datetime.combine(first_day + timedelta(days=1), datetime.min.time(),
                               zone).astimezone(UTC)
        columns = []
        at = begin
        while at < end:
            local = at.astimezone(zone)
            columns.append(Column(at, at + timedelta(hours=1), f"{local:%H}", local.date()))
            at += timedelta(hours=1)
        return columns
    out = []
    for n in range(days):
        day = first_day + timedelta(days=n)
        begin = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
        out.append(Column(begin, end, f"{day:%a %d}", day))
    return out


def column_index(columns: Sequence[Column], at: datetime) -> int | None:
    for i, column in enumerate(columns):
        if column.start <= at < column.end:
            return i
    return None
