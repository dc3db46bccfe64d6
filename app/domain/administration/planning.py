"""Planning the ward's doses: verified, active inpatient prescriptions become ScheduledDose rows
for DOSE_PLAN_DAYS ahead; a change to the prescription or the stay withdraws the future ones
(kept, never deleted) or plans them again. Past doses are never touched.

Planning is idempotent: the table's UniqueConstraint(prescription_id, due_at) makes a second
plan of the same instant a no-op (INSERT ... ON CONFLICT DO NOTHING), so the listener, the daily
horizon job and a re-plan may overlap freely.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects import sqlite

from app.core import audit, clock, events, realtime
from app.core.db import DbSession
from app.core.security import SystemActor
from app.domain.administration import rules
from app.domain.administration.models import ScheduledDose
from app.domain.admissions.models import Encounter
from app.domain.prescribing.models import Prescription

PLANNER = SystemActor("medication planning")
CHUNK = 500  # prescriptions read and doses written per round trip


@dataclass(frozen=True)
class PlanResult:
    prescriptions: int
    doses: int  # rows inserted or re-opened


def _settings() -> tuple[dict[str, Any], str, int]:
    config = current_app.config
    return (config["ADMINISTRATION_TIMES"], str(config["HOSPITAL_TIMEZONE"]),
            int(config["DOSE_PLAN_DAYS"]))


def schedulable(rx: Prescription, encounter_status: str | None) -> bool:
    """Whether the ward schedules this prescription's doses now."""
    return (rx.setting == "inpatient" and rx.status == "active" and rx.verification == "verified"
            and rx.encounter_id is not None and encounter_status == "in-progress")


# PostgreSQL: one statement per chunk whatever its size, the rows passed as five arrays (no
# per-row statement as the driver's executemany sends, no SQL text growing with the rows).
_PG_BULK = text("""
INSERT INTO scheduled_dose (prescription_id, patient_id, encounter_id, due_at, status,
                            planned_from_version, planned_at)
SELECT r, p, e, d, 'due', v, :planned_at
  FROM unnest(CAST(:r AS integer[]), CAST(:p AS integer[]), CAST(:e AS integer[]),
              CAST(:d AS timestamptz[]), CAST(:v AS integer[])) AS t(r, p, e, d, v)
ON CONFLICT (prescription_id, due_at) DO NOTHING
""")
PG_CHUNK = 20_000


def _insert(session: DbSession, rows: list[dict[str, Any]], planned_at: datetime) -> None:
    """Insert planned doses, skipping any instant already planned (the unique constraint)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        for start in range(0, len(rows), PG_CHUNK):
            chunk = rows[start:start + PG_CHUNK]
            session.execute(_PG_BULK, {
                "r": [x["prescription_id"] for x in chunk], "p": [x["patient_id"] for x in chunk],
                "e": [x["encounter_id"] for x in chunk], "d": [x["due_at"] for x in chunk],
                "v": [x["planned_from_version"] for x in chunk], "planned_at": planned_at})
        return
    stmt: Any = sqlite.insert(ScheduledDose) if dialect == "sqlite" else insert(ScheduledDose)
    if dialect == "sqlite":
        stmt = stmt.on_conflict_do_nothing(index_elements=["prescription_id", "due_at"])
    session.execute(stmt, rows)


def plan_many(session: DbSession, prescriptions: Sequence[Prescription], now: datetime | None = None,
              *, record: bool = True) -> PlanResult:
    """Plan the doses of these prescriptions from now to the horizon, in bulk: one read of the
    doses already there and one multi-row insert per chunk. A withdrawn future dose at a planned
    time (a held prescription resumed) is re-opened rather than duplicated. Prescriptions the
    ward does not schedule are skipped. One audit row for the whole plan."""
    now = now or clock.now()
    table, tz, days = _settings()
    statuses = dict(session.execute(
        select(Encounter.id, Encounter.status).where(
            Encounter.id.in_({rx.encounter_id for rx in prescriptions if rx.encounter_id}))).all()) \
        if prescriptions else {}
    planned_rx = 0
    written = 0
    for first in range(0, len(prescriptions), CHUNK):
        chunk = [rx for rx in prescriptions[first:first + CHUNK]
                 if schedulable(rx, statuses.get(rx.encounter_id or 0))]
        wanted: dict[int, list[datetime]] = {}
        for rx in chunk:
            times = rules.planned_times(rx.frequency, rx.start_at, rx.stop_at, now, days, table, tz,
                                        stat_at=max(rx.start_at, rx.verified_at or rx.start_at))
            if times:
                wanted[rx.id] = times
        if not wanted:
            continue
        earliest = min(t[0] for t in wanted.values())
        existing: dict[tuple[int, datetime], tuple[int, str]] = {
            (rid, due): (sid, status) for sid, rid, due, status in session.execute(
                select(ScheduledDose.id, ScheduledDose.prescription_id, ScheduledDose.due_at,
                       ScheduledDose.status)
                .where(ScheduledDose.prescription_id.in_(list(wanted)),
                       ScheduledDose.due_at >= earliest))}
        by_id = {rx.id: rx for rx in chunk}
        settled = _settled_by_predecessors(session, [by_id[rid] for rid in wanted], earliest)
        rows: list[dict[str, Any]] = []
        reopen: dict[int, list[int]] = {}
        for rid, times in wanted.items():
            rx = by_id[rid]
            for due in times:
                found = existing.get((rid, due))
                if (rid, due) in settled:
                    continue  # this time's dose was already given (held...) on the old prescription
                if found is None:
                    rows.append({"prescription_id": rid, "patient_id": rx.patient_id,
                                 "encounter_id": rx.encounter_id, "due_at": due, "status": "due",
                                 "planned_from_version": rx.version, "planned_at": now})
                elif found[1] == "withdrawn" and due >= now:
                    reopen.setdefault(rx.version, []).append(found[0])
            planned_rx += 1
        _insert(session, rows, now)
        for version, ids in reopen.items():
            session.execute(update(ScheduledDose).where(ScheduledDose.id.in_(ids))
                            .values(status="due", planned_from_version=version, planned_at=now))
        written += len(rows) + sum(len(ids) for ids in reopen.values())
    if record and written:
        audit.record(session, PLANNER, "medication.doses_planned", None,
                     patient_id=prescriptions[0].patient_id if len(prescriptions) == 1 else None,
                     after={"prescriptions": sorted(rx.id for rx in prescriptions)[:50],
                            "prescription_count": planned_rx, "doses": written})
    session.flush()
    return PlanResult(planned_rx, written)


def _settled_by_predecessors(session: DbSession, prescriptions: Sequence[Prescription],
                             since: datetime) -> set[tuple[int, datetime]]:
    """(prescription id, due time) pairs a replacement must not plan: the prescriptions it
    replaced (the whole replaces_id chain) already have a dose at that time with a standing
    outcome. A dose given early at 08:40, the prescription changed at 08:45 and the change
    verified at 08:50 must not show 09:00 as due again."""
    parent: dict[int, int] = {rx.id: rx.replaces_id for rx in prescriptions if rx.replaces_id}
    if not parent:
        return set()
    owners: dict[int, set[int]] = {}  # predecessor id -> the replacements it counts for
    frontier = dict(parent)
    seen: set[int] = set()
    while frontier:
        for child, old in frontier.items():
            owners.setdefault(old, set()).add(child)
        seen |= set(frontier.values())
        rows = session.execute(select(Prescription.id, Prescription.replaces_id).where(
            Prescription.id.in_(set(frontier.values())), Prescription.replaces_id.is_not(None))).all()
        frontier = {}
        for old, older in rows:
            if older is None or older in seen:
                continue  # a loop in bad data ends the walk
            for child in owners.get(old, set()):
                frontier[child] = older
    settled: set[tuple[int, datetime]] = set()
    for old_id, due in session.execute(select(ScheduledDose.prescription_id, ScheduledDose.due_at).where(
            ScheduledDose.prescription_id.in_(list(owners)), ScheduledDose.due_at >= since,
            ScheduledDose.status.not_in(("due", "withdrawn")))):
        for child in owners[old_id]:
            settled.add((child, due))
    return settled


def plan_prescription(session: DbSession, prescription_id: int, now: datetime | None = None) -> PlanResult:
    """Plan (or re-plan) one prescription's future doses."""
    rx = session.get(Prescription, prescription_id)
    if rx is None:
        return PlanResult(0, 0)
    return plan_many(session, [rx], now)


def withdraw_future(session: DbSession, *, reason: str, prescription_id: int | None = None,
                    encounter_id: int | None = None, now: datetime | None = None) -> list[int]:
    """Withdraw the open doses still ahead (due_at >= now) of a prescription or of a whole stay.
    Past doses, recorded or open, stay as they are. Returns the withdrawn doses' ids."""
    now = now or clock.now()
    stmt = select(ScheduledDose.id).where(ScheduledDose.status == "due", ScheduledDose.due_at >= now)
    if prescription_id is not None:
        stmt = stmt.where(ScheduledDose.prescription_id == prescription_id)
    if encounter_id is not None:
        stmt = stmt.where(ScheduledDose.encounter_id == encounter_id)
    ids = list(session.scalars(stmt))
    if ids:
        session.execute(update(ScheduledDose).where(ScheduledDose.id.in_(ids))
                        .values(status="withdrawn"))
        sample = session.get(ScheduledDose, ids[0])
        audit.record(session, PLANNER, "medication.doses_withdrawn", None,
                     patient_id=sample.patient_id if sample is not None else None,
                     after={"prescription_id": prescription_id, "encounter_id": encounter_id,
                            "doses": len(ids)}, reason=reason)
        session.flush()
    _retire_alerts(session, prescription_id=prescription_id, encounter_id=encounter_id,
                   resolution=reason)
    return ids


def _retire_alerts(session: DbSession, *, prescription_id: int | None, encounter_id: int | None,
                   resolution: str) -> None:
    """Overdue alerts for doses that can no longer be given end with the change that ended
    them (a stopped prescription, a discharge): nobody could ever answer them."""
    from app.domain.administration import reminders

    stmt = select(ScheduledDose.id).where(ScheduledDose.status == "due",
                                          ScheduledDose.overdue_alerted_at.is_not(None))
    if prescription_id is not None:
        stmt = stmt.where(ScheduledDose.prescription_id == prescription_id)
    if encounter_id is not None:
        stmt = stmt.where(ScheduledDose.encounter_id == encounter_id)
    for dose_id in session.scalars(stmt):
        reminders.resolve_overdue_alert(session, dose_id, resolution)


def _push(session: DbSession, encounter_id: int | None) -> None:
    if encounter_id is None:
        return
    encounter = session.get(Encounter, encounter_id)
    if encounter is not None and encounter.ward_id is not None:
        realtime.push(session, realtime.ward_room(encounter.ward_id),
                      {"type": "doses.changed", "encounter_id": encounter_id})
    events.doses_replanned.send(session, encounter_id=encounter_id)


def reconcile_prescription(session: DbSession, prescription_id: int, action: str,
                           now: datetime | None = None) -> None:
    """Bring a prescription's future doses in line with what it now is: planned while it is
    verified, active and its stay in progress; withdrawn otherwise."""
    rx = session.get(Prescription, prescription_id)
    if rx is None or rx.setting != "inpatient" or rx.encounter_id is None:
        return
    encounter = session.get(Encounter, rx.encounter_id)
    if schedulable(rx, encounter.status if encounter is not None else None):
        if plan_many(session, [rx], now).doses:
            _push(session, rx.encounter_id)
    elif withdraw_future(session, prescription_id=rx.id, now=now,
                         reason=f"Prescription {rx.number} {action}"):
        _push(session, rx.encounter_id)


def plan_encounter(session: DbSession, encounter_id: int, now: datetime | None = None) -> PlanResult:
    """Plan every schedulable prescription of a stay (a cancelled discharge, the demo)."""
    from app.domain.prescribing import services as prescribing

    return plan_many(session, prescribing.verified_inpatient_prescriptions(session, encounter_id), now)


def extend_horizon(session: DbSession, now: datetime | None = None) -> PlanResult:
    """Roll the plan forward to DOSE_PLAN_DAYS from now for every schedulable prescription of a
    stay in progress (the daily job). Running it twice plans nothing new."""
    rows: Iterable[Prescription] = session.scalars(
        select(Prescription).join(Encounter, Encounter.id == Prescription.encounter_id)
        .where(Prescription.setting == "inpatient", Prescription.status == "active",
               Prescription.verification == "verified", Encounter.status == "in-progress")
        .order_by(Prescription.id))
    return plan_many(session, list(rows), now)


# --- event receivers (connected in listeners.py) --------------------------------------------

def on_prescription_changed(session: DbSession, *, prescription_id: int, action: str, **_: Any) -> None:
    reconcile_prescription(session, prescription_id, action)


def on_stay_ended(session: DbSession, *, encounter_id: int | None = None, encounter: Any = None,
                  **_: Any) -> None:
    """Discharged or admission cancelled: nothing more is given on this stay."""
    eid = encounter_id if encounter_id is not None else getattr(encounter, "id", None)
    if eid is None:
        return
    if withdraw_future(session, encounter_id=eid, reason="The stay ended"):
        _push(session, eid)


def on_discharge_cancelled(session: DbSession, *, encounter_id: int | None = None,
                           encounter: Any = None, **_: Any) -> None:
    """A discharge undone: the stay's prescriptions owe their doses again."""
    eid = encounter_id if encounter_id is not None else getattr(encounter, "id", None)
    if eid is None:
        return
    if plan_encounter(session, eid).doses:
        _push(session, eid)
