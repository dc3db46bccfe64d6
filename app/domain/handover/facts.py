"""The facts a handover is pre-filled with, gathered by a registry of providers.

Each provider reads one kind of fact for a batch of encounters through its owning module's
services and returns plain JSON values keyed by encounter id; `gather` stores the result in
`HandoverEntry.facts[key]`. A module that does not exist yet has no provider, and the sheet says
so (`MISSING`) instead of showing an empty list that would read as "nothing pending".

The laboratory (issue 7) adds its provider with:

    @facts.provider("pending_results", "Pending lab results", order=60)
    def _pending(session, encounters, now): return {encounter_id: [{"test": ..., ...}], ...}

and removes its row from MISSING.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from app.core.db import DbSession
from app.domain.admissions.models import Encounter

Collect = Callable[[DbSession, list[Encounter], datetime], dict[int, Any]]


@dataclass(frozen=True)
class Provider:
    key: str
    label: str
    order: int
    collect: Collect


_PROVIDERS: dict[str, Provider] = {}

# Facts the handover asks for whose module is not built yet: key -> what the sheet says.
MISSING: dict[str, tuple[str, str]] = {
    "pending_results": ("Pending lab results", "No laboratory module yet: check results on the "
                                               "laboratory's own system."),
}


def provider(key: str, label: str, order: int = 100) -> Callable[[Collect], Collect]:
    """Register `fn(session, encounters, now) -> {encounter_id: json value}` under `key`."""

    def decorator(fn: Collect) -> Collect:
        _PROVIDERS[key] = Provider(key, label, order, fn)
        return fn

    return decorator


def providers() -> list[Provider]:
    return sorted(_PROVIDERS.values(), key=lambda p: (p.order, p.key))


def labels() -> dict[str, str]:
    return {p.key: p.label for p in providers()}


def jsonable(value: Any) -> Any:
    """Plain JSON (the facts column): datetimes as ISO text, Decimals as text, the rest as is."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def gather(session: DbSession, encounters: list[Encounter], now: datetime) -> dict[int, dict[str, Any]]:
    """Every provider's facts for every encounter: {encounter_id: {key: value}}."""
    out: dict[int, dict[str, Any]] = {e.id: {} for e in encounters}
    if not encounters:
        return out
    for p in providers():
        values = p.collect(session, encounters, now)
        for e in encounters:
            out[e.id][p.key] = jsonable(values.get(e.id))
    return out


# --- the providers of the wards issue ------------------------------------------------------

@provider("diagnosis", "Diagnosis", order=10)
def _diagnosis(session: DbSession, encounters: list[Encounter], now: datetime) -> dict[int, Any]:
    return {e.id: e.diagnosis for e in encounters}


@provider("allergies", "Allergies", order=20)
def _allergies(session: DbSession, encounters: list[Encounter], now: datetime) -> dict[int, Any]:
    from sqlalchemy import select

    from app.domain.patients.models import Allergy

    # One query for every patient (not a lazy load each): the start of a 30-bed handover.
    by_patient: dict[int, list[dict[str, Any]]] = {}
    for a in session.scalars(select(Allergy).where(
            Allergy.patient_id.in_(sorted({e.patient_id for e in encounters})), Allergy.status == "active")
            .order_by(Allergy.id)):
        by_patient.setdefault(a.patient_id, []).append(
            {"substance": a.substance, "reaction": a.reaction, "severity": a.severity})
    return {e.id: by_patient.get(e.patient_id, []) for e in encounters}


@provider("news2", "Latest NEWS2", order=30)
def _news2(session: DbSession, encounters: list[Encounter], now: datetime) -> dict[int, Any]:
    from app.domain.observations.services import latest_by_encounter

    latest = latest_by_encounter(session, [e.id for e in encounters])
    return {eid: {"total": v.news2_total, "band": v.news2_band, "taken_at": v.taken_at,
                  "single_three": bool(v.any_single_three), "next_due_at": v.next_due_at}
            for eid, v in latest.items()}


@provider("doses", "Doses due and overdue", order=40)
def _doses(session: DbSession, encounters: list[Encounter], now: datetime) -> dict[int, Any]:
    from app.domain.administration.services import board_counts, doses_for_handover_many

    ids = [e.id for e in encounters]
    counts = board_counts(session, ids, now)
    detail = doses_for_handover_many(session, ids, now)
    out: dict[int, Any] = {}
    for e in encounters:
        c = counts.get(e.id)
        out[e.id] = {"due_now": int(c.due_now) if c else 0, "overdue": int(c.overdue) if c else 0,
                     "detail": detail.get(e.id)}
    return out


@provider("alerts", "Open alerts", order=50)
def _alerts(session: DbSession, encounters: list[Encounter], now: datetime) -> dict[int, Any]:
    from app.domain.escalation.services import open_alerts

    alerts = open_alerts(session, [e.id for e in encounters])
    return {eid: [{"kind": a.kind, "text": a.text, "priority": a.priority, "level": a.level,
                   "raised_at": a.raised_at, "status": a.status} for a in rows]
            for eid, rows in alerts.items()}
