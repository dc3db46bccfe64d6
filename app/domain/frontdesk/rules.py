"""Pure front-desk rules: ticket transitions, numbering, check-in windows, no-shows, rates."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

TICKET_STATUSES = ("waiting", "called", "in-consultation", "done", "left")
ACTIVE_STATUSES = ("waiting", "called", "in-consultation")

# action -> {from status: to status}. Anything not listed is refused.
TRANSITIONS: dict[str, dict[str, str]] = {
    "call": {"waiting": "called", "called": "called"},  # calling again re-announces it
    "start": {"called": "in-consultation"},
    "finish": {"in-consultation": "done"},
    "requeue": {"called": "waiting"},  # called but did not come: back in line, same number
    "left": {"waiting": "left", "called": "left"},  # left without being seen
}
ACTIONS = tuple(TRANSITIONS)

# How staff read an action once done, and a status, in messages and on pages.
DONE_LABELS = {"call": "called", "start": "started", "finish": "finished",
               "requeue": "sent back to waiting", "left": "marked as left"}
STATUS_LABELS = {"waiting": "waiting", "called": "called", "in-consultation": "in consultation",
                 "done": "done", "left": "left without being seen"}


class IllegalTransition(ValueError):
    def __init__(self, status: str, action: str) -> None:
        super().__init__(f"A ticket that is {status} cannot be {action!r}-ed.")
        self.status = status
        self.action = action


def next_status(status: str, action: str) -> str:
    """Where `action` takes a ticket in `status`; IllegalTransition when it may not."""
    if status not in TICKET_STATUSES:
        raise ValueError(f"unknown ticket status {status!r}")
    target = TRANSITIONS.get(action, {}).get(status)
    if target is None:
        raise IllegalTransition(status, action)
    return target


def allowed_actions(status: str) -> tuple[str, ...]:
    return tuple(a for a, moves in TRANSITIONS.items() if status in moves)


def is_final(status: str) -> bool:
    return not allowed_actions(status)


# --- numbers ---------------------------------------------------------------------------------

def ticket_code(prefix: str, number: int) -> str:
    """"C-014": at least three digits, so codes line up on the board; more when a busy day
    passes 999."""
    if number < 1:
        raise ValueError("ticket numbers start at 1")
    return f"{prefix}-{number:03d}"


def ticket_prefix(clinic_code: str, department: str, configured: dict[str, str]) -> str:
    """The clinic's configured prefix, else its department's, else the department's initial."""
    for key in (clinic_code, department):
        if configured.get(key):
            return configured[key].strip().upper()[:4]
    letters = [c for c in unicodedata.normalize("NFKD", department) if c.isascii() and c.isalpha()]
    return (letters[0] if letters else "Q").upper()


def counter_name(department: str, day_iso: str) -> str:
    """The identifier counter holding a department's numbers for one day (fits its 40 chars)."""
    name = f"q:{day_iso}:{department}"
    if len(name) <= 40:
        return name
    return f"q:{day_iso}:#" + hashlib.sha256(department.encode()).hexdigest()[:26]


# --- arrival ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Window:
    """How early and how late (in minutes, around the appointment's start) check-in is open."""

    early_minutes: int
    late_minutes: int

    def verdict(self, start_at: datetime, now: datetime) -> str:
        """"early", "ok" or "late"."""
        if now < start_at - timedelta(minutes=self.early_minutes):
            return "early"
        if now > start_at + timedelta(minutes=self.late_minutes):
            return "late"
        return "ok"


def no_show_due(start_at: datetime, now: datetime, after_minutes: int) -> bool:
    """True once a still-booked appointment's start is `after_minutes` in the past."""
    return now >= start_at + timedelta(minutes=after_minutes)


@dataclass(frozen=True)
class NoShowRate:
    no_shows: int
    attended: int  # checked in (and maybe completed)

    @property
    def kept(self) -> int:
        """Appointments whose outcome is known: attended or missed (cancelled ones excluded)."""
        return self.no_shows + self.attended

    @property
    def rate(self) -> float | None:
        """Share of known outcomes that were no-shows; None when there is nothing to judge."""
        return None if self.kept == 0 else self.no_shows / self.kept

    @property
    def percent(self) -> str:
        return "–" if self.rate is None else f"{round(self.rate * 100)}%"


# --- the waiting-room screen -----------------------------------------------------------------

def initials(family_name: str, given_names: str) -> str:
    """"M. N." for Mai Nguyễn: given then family initial, letters only, upper case."""
    parts = []
    for name in (given_names, family_name):
        first = next((c for c in name.strip() if c.isalpha()), "")
        if first:
            parts.append(first.upper() + ".")
    return " ".join(parts)
