"""Bed states and the moves between them (pure: no database)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from app.domain.facilities.models import BED_STATES

# Which state a bed may move to from each state, and why. A bed is freed only at the patient's
# actual discharge (occupied -> cleaning), never at the discharge order; it passes through
# cleaning before anyone else may have it. Undoing a mistaken step is the reverse move:
# occupied -> available (a cancelled admission or a cancelled transfer-in; occupied -> reserved
# when that step had used a reservation that has not lapsed yet) and cleaning or
# available -> occupied (a cancelled discharge or transfer-out).
TRANSITIONS: Mapping[str, frozenset[str]] = {
    "available": frozenset({"occupied", "reserved", "out_of_service"}),
    "reserved": frozenset({"occupied", "available"}),
    "occupied": frozenset({"cleaning", "available", "reserved"}),
    "cleaning": frozenset({"available", "occupied", "out_of_service"}),
    "out_of_service": frozenset({"available"}),
}

# What a user reads for each state (the board, messages).
STATE_LABELS: Mapping[str, str] = {
    "available": "available",
    "occupied": "occupied",
    "reserved": "reserved",
    "cleaning": "cleaning",
    "out_of_service": "out of service",
}

# States that nobody holds: a cancelled transfer or discharge may take the bed back.
FREE_STATES = frozenset({"available", "cleaning"})


def may_move(current: str, target: str) -> bool:
    """True when a bed in state `current` may become `target`."""
    return target in TRANSITIONS.get(current, frozenset())


def sources_for(target: str) -> frozenset[str]:
    """Every state from which a bed may become `target`."""
    return frozenset(s for s, targets in TRANSITIONS.items() if target in targets)


def state_counts(states: Iterable[str]) -> dict[str, int]:
    """How many beds are in each state (every state present, zero included)."""
    counts = dict.fromkeys(BED_STATES, 0)
    for s in states:
        counts[s] = counts.get(s, 0) + 1
    return counts


def occupancy_percent(occupied: int, beds: int, out_of_service: int = 0) -> float | None:
    """Occupied beds as a share of the beds that can take a patient (out of service excluded),
    to one decimal; None when there are none."""
    usable = beds - out_of_service
    if usable <= 0:
        return None
    return round(100.0 * occupied / usable, 1)
