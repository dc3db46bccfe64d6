"""Doses falling due and doses left open: the reminder to the responsible nurse (once per dose)
and the `dose_overdue` alert (once per dose, escalating through the escalation module's chain).

Both run from one periodic job every minute and work in batches: one query finds every dose to
act on across the hospital, one notification goes to each nurse (or ward) with all of theirs,
and one UPDATE marks them, so a 40-bed ward's nine o'clock round is a handful of statements.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from app.core import clock
from app.core.db import DbSession
from app.core.links import link
from app.domain.administration import rules
from app.domain.administration.models import ScheduledDose
from app.domain.admissions.models import Encounter
from app.domain.facilities.models import Bed
from app.domain.formulary.models import Drug
from app.domain.notifications.services import notify
from app.domain.patients.models import Patient
from app.domain.prescribing.models import Prescription

DUE_KIND = "dose.due"
ALERT_KIND = "dose_overdue"
MAX_LISTED = 8  # doses named in one reminder; the rest are counted


@dataclass(frozen=True)
class DoseLine:
    dose_id: int
    patient_id: int
    encounter_id: int
    ward_id: int | None
    nurse_id: int | None
    due_at: datetime
    patient: str
    bed: str
    drug: str
    dose: str


def _window() -> timedelta:
    return timedelta(minutes=int(current_app.config["DOSE_OVERDUE_MINUTES"]))


def _lines(session: DbSession, *conditions: object) -> list[DoseLine]:
    from app.domain.dispensary import wording

    rows = session.execute(
        select(ScheduledDose.id, ScheduledDose.patient_id, ScheduledDose.encounter_id,
               Encounter.ward_id, Encounter.nurse_id, ScheduledDose.due_at, Patient.family_name,
               Patient.given_names, Bed.code, Drug.name, Prescription.dose, Prescription.dose_unit)
        .join(Encounter, Encounter.id == ScheduledDose.encounter_id)
        .join(Prescription, Prescription.id == ScheduledDose.prescription_id)
        .join(Drug, Drug.id == Prescription.drug_id)
        .join(Patient, Patient.id == ScheduledDose.patient_id)
        .outerjoin(Bed, Bed.id == Encounter.bed_id)
        .where(ScheduledDose.status == "due", Encounter.status == "in-progress",
               Prescription.status == "active", *conditions)  # type: ignore[arg-type]
        .order_by(ScheduledDose.due_at, ScheduledDose.id))
    return [DoseLine(r[0], r[1], r[2], r[3], r[4], r[5], f"{r[6].upper()}, {r[7]}",
                     r[8] or "", r[9], f"{wording.figure(r[10])} {r[11]}") for r in rows]


def _round_link(ward_id: int | None) -> str | None:
    if ward_id is None:
        return None
    return link("wards.medication_round", ward_id=ward_id)


def remind_due(session: DbSession, now: datetime | None = None) -> int:
    """Tell each responsible nurse (the stay's nurse, else the ward's nurses) of the doses that
    have just fallen due, once per dose. Doses already overdue when first seen (the job was
    down) are left to the overdue alert. Returns how many doses were announced."""
    now = now or clock.now()
    lines = _lines(session, ScheduledDose.reminded_at.is_(None), ScheduledDose.due_at <= now,
                   ScheduledDose.due_at >= now - _window())
    if not lines:
        return 0
    tz = clock.hospital_timezone()
    groups: dict[tuple[str, int], list[DoseLine]] = {}
    for line in lines:
        key = ("user", line.nurse_id) if line.nurse_id is not None else ("ward", line.ward_id or 0)
        groups.setdefault(key, []).append(line)
    for (target, ident), group in groups.items():
        shown = "; ".join(f"{g.bed + ' ' if g.bed else ''}{g.patient}: {g.drug} {g.dose} "
                          f"({clock.to_local(g.due_at, tz):%H:%M})" for g in group[:MAX_LISTED])
        more = f" and {len(group) - MAX_LISTED} more" if len(group) > MAX_LISTED else ""
        text = (f"{len(group)} dose{'s' if len(group) != 1 else ''} due now: {shown}{more}")[:500]
        link = _round_link(group[0].ward_id)
        if target == "user":
            notify(session, kind=DUE_KIND, text=text, user_ids=[ident], link=link)
        elif ident:
            notify(session, kind=DUE_KIND, text=text, ward_id=ident, link=link)
    session.execute(update(ScheduledDose).where(ScheduledDose.id.in_([x.dose_id for x in lines]))
                    .values(reminded_at=now))
    session.flush()
    return len(lines)


def escalate_overdue(session: DbSession, now: datetime | None = None) -> int:
    """Raise a `dose_overdue` alert for each dose still open DOSE_OVERDUE_MINUTES after its
    time (once per dose; within a day of its time). Returns how many were raised."""
    from app.domain.escalation import services as escalation

    now = now or clock.now()
    window = _window()
    lines = _lines(session, ScheduledDose.overdue_alerted_at.is_(None),
                   ScheduledDose.due_at < now - window,
                   ScheduledDose.due_at >= now - rules.OVERDUE_LOOKBACK)
    if not lines:
        return 0
    tz = clock.hospital_timezone()
    minutes = int(window.total_seconds() // 60)
    for line in lines:
        escalation.raise_alert(
            session, kind=ALERT_KIND, subject_key=f"dose:{line.dose_id}", patient_id=line.patient_id,
            encounter_id=line.encounter_id, ward_id=line.ward_id,
            text=(f"Dose overdue: {line.drug} {line.dose} for {line.patient}"
                  f"{' (bed ' + line.bed + ')' if line.bed else ''}, due "
                  f"{clock.to_local(line.due_at, tz):%H:%M}, still not recorded after {minutes} "
                  "minutes.")[:500],
            link=_round_link(line.ward_id), chain="dose_overdue", priority="high")
    session.execute(update(ScheduledDose).where(ScheduledDose.id.in_([x.dose_id for x in lines]))
                    .values(overdue_alerted_at=now))
    session.flush()
    return len(lines)


def resolve_overdue_alert(session: DbSession, dose_id: int, resolution: str) -> None:
    """End the dose's open overdue alert, if it has one (the dose was recorded or can no longer
    be given)."""
    dose = session.get(ScheduledDose, dose_id)
    if dose is None or dose.overdue_alerted_at is None:
        return  # no alert was ever raised for it: nothing to look up
    from app.domain.escalation import services as escalation

    escalation.resolve_alert(session, kind=ALERT_KIND, subject_key=f"dose:{dose_id}",
                             resolution=resolution)
