"""Rules of an inpatient stay (pure: no database, no clock of their own)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

# Where the patient went (FHIR Encounter.hospitalization.dischargeDisposition, our words).
DISPOSITIONS: Mapping[str, str] = {
    "home": "Home",
    "home-support": "Home with support",
    "care-home": "Care home",
    "other-hospital": "Another hospital",
    "self-discharge": "Left against medical advice",
    "died": "Died",
}
# A patient can leave without a doctor's discharge order only in these ways.
UNORDERED_DISPOSITIONS = frozenset({"self-discharge", "died"})

DIAGNOSIS_MAX = 500
SUMMARY_MAX = 20_000
REASON_MAX = 500
# How far ahead an expected discharge date may be set (a typo guard, not a clinical rule).
EXPECTED_DISCHARGE_HORIZON_DAYS = 365


def expected_discharge_problem(day: date | None, admitted_on: date, today: date) -> str | None:
    """Why `day` cannot be the expected discharge date, or None when it can (or is unset)."""
    if day is None:
        return None
    if day < max(admitted_on, today):
        return "The expected discharge date cannot be in the past."
    if day > today + timedelta(days=EXPECTED_DISCHARGE_HORIZON_DAYS):
        return "The expected discharge date is more than a year away; check the year."
    return None


def text_problem(value: str | None, *, what: str, required: bool, limit: int) -> str | None:
    """Why free text cannot be taken, or None. Blank counts as missing."""
    text = (value or "").strip()
    if required and not text:
        return f"Give {what}."
    if len(text) > limit:
        return f"Keep {what} to {limit} characters."
    return None


def discharge_problem(summary: str | None, disposition: str | None, ordered: bool,
                      may_order: bool) -> tuple[str, str] | None:
    """(field, message) for why the patient cannot be discharged so, or None."""
    problem = text_problem(summary, what="a discharge summary", required=True, limit=SUMMARY_MAX)
    if problem:
        return "summary", problem
    if disposition not in DISPOSITIONS:
        return "disposition", "Choose where the patient is going."
    if not ordered and not may_order and disposition not in UNORDERED_DISPOSITIONS:
        return "disposition", ("A doctor has not ordered this discharge yet. Ask for the order, or "
                               "record a self-discharge or a death.")
    return None


class Period(Protocol):
    @property
    def status(self) -> str: ...

    @property
    def start_at(self) -> datetime: ...


@dataclass(frozen=True)
class TransferUndo:
    current: int  # index of the active period
    previous: int  # index of the period the patient goes back to


def transfer_to_undo(periods: Sequence[Period]) -> TransferUndo | None:
    """The transfer a cancel would undo: the active period and the completed one just before
    it (cancelled periods do not count). None when the stay has had no transfer to undo."""
    live = [i for i, p in enumerate(periods) if p.status != "cancelled"]
    if len(live) < 2:
        return None
    current, previous = live[-1], live[-2]
    if periods[current].status != "active" or periods[previous].status != "completed":
        return None
    return TransferUndo(current=current, previous=previous)
