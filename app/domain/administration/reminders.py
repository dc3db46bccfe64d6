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
from sqlalchemy import func, select, update

from app.core import clock
from app.core.db import DbSession
from app.core.links import link
from app.domain.administration import rules
from app.domain.administration.models import Administration, ScheduledDose
from app.domain.admissions.models import Encounter
from app.domain.escalation.models import Alert
from app.domain.facilities.models import Bed
from app.domain.formulary.models import Drug
from app.domain.identity.services import ward_staff_ids
from app.domain.notifications.services import notify
from app.domain.patients.models import Patient
from app.domain.prescribing.models import Prescription

DUE_KIND = "dose.due"
ALERT_KIND = "dose_overdue"
MAX_LISTED = 8  # doses named in one reminder; the rest are counted
NURSES = ("nurse", "charge_nurse")  # who answers for a dose when the stay names no nurse


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


def _nurses(session: DbSession, lines: list[DoseLine]) -> dict[int, list[int]]:
    """Who answers for each dose: the stay's named nurse, else the ward's nurses and charge
    nurses (never its clerks or housekeepers). One query per ward without a named nurse."""
    wards: dict[int, list[int]] = {}
    out: dict[int, list[int]] = {}
    for line in lines:
        if line.nurse_id is not None:
            out[line.dose_id] = [line.nurse_id]
        elif line.ward_id is not None:
            if line.ward_id not in wards:
                wards[line.ward_id] = ward_staff_ids(session, line.ward_id, NURSES)
            out[line.dose_id] = wards[line.ward_id]
        else:
            out[line.dose_id] = []
    return out


def _listing(group: list[DoseLine], tz: str, what: str) -> str:
    shown = "; ".join(f"{g.bed + ' ' if g.bed else ''}{g.patient}: {g.drug} {g.dose} "
                      f"({clock.to_local(g.due_at, tz):%H:%M})" for g in group[:MAX_LISTED])
    more = f" and {len(group) - MAX_LISTED} more" if len(group) > MAX_LISTED else ""
    return f"{len(group)} dose{'s' if len(group) != 1 else ''} {what}: {shown}{more}"[:500]


def _by_recipients(lines: list[DoseLine], who: dict[int, list[int]]) -> dict[tuple[int, ...], list[DoseLine]]:
    """The doses each person answers for, grouped so that people with the same list share one
    notify call (a ward's nurses, none of them named): one row each, one statement."""
    per_user: dict[int, list[DoseLine]] = {}
    for line in lines:
        for uid in who.get(line.dose_id, []):
            per_user.setdefault(uid, []).append(line)
    groups: dict[tuple[int, ...], list[int]] = {}
    for uid, mine in per_user.items():
        groups.setdefault(tuple(x.dose_id for x in mine), []).append(uid)
    by_id = {x.dose_id: x for x in lines}
    return {tuple(sorted(uids)): [by_id[d] for d in dose_ids] for dose_ids, uids in groups.items()}


def remind_due(session: DbSession, now: datetime | None = None) -> int:
    """Tell each responsible nurse (the stay's nurse, else the ward's nurses and charge nurses)
    of the doses that have just fallen due, once per dose, in one notification per nurse per
    run. Doses already overdue when first seen (the job was down) are left to the overdue
    alert. Returns how many doses were announced."""
    now = now or clock.now()
    lines = _lines(session, ScheduledDose.reminded_at.is_(None), ScheduledDose.due_at <= now,
                   ScheduledDose.due_at >= now - _window())
    if not lines:
        return 0
    tz = clock.hospital_timezone()
    for user_ids, group in _by_recipients(lines, _nurses(session, lines)).items():
        notify(session, kind=DUE_KIND, text=_listing(group, tz, "due now"), user_ids=user_ids,
               link=_round_link(group[0].ward_id))
    session.execute(update(ScheduledDose).where(ScheduledDose.id.in_([x.dose_id for x in lines]))
                    .values(reminded_at=now))
    session.flush()
    return len(lines)


def _episodes(session: DbSession, dose_ids: list[int]) -> dict[int, int]:
    """How often each dose was reopened (a record of it entered in error), in one query."""
    if not dose_ids:
        return {}
    return {int(dose_id or 0): int(n) for dose_id, n in session.execute(
        select(Administration.scheduled_dose_id, func.count())
        .where(Administration.scheduled_dose_id.in_(dose_ids),
               Administration.status == "entered-in-error")
        .group_by(Administration.scheduled_dose_id))}


def overdue_key(dose_id: int, episode: int) -> str:
    """The overdue alert's subject: one per dose, and a new one each time the dose is reopened
    (the earlier alert stays on record, resolved, under its own key)."""
    return f"dose:{dose_id}" if episode == 0 else f"dose:{dose_id}:{episode}"


def escalate_overdue(session: DbSession, now: datetime | None = None) -> int:
    """Raise a `dose_overdue` alert for each dose still open DOSE_OVERDUE_MINUTES after its
    time (once per dose episode; within a day of its time), and send each person it reaches one
    notification listing all of theirs. Returns how many alerts were raised."""
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
    episodes = _episodes(session, [x.dose_id for x in lines])
    alerts: dict[int, Alert] = {}
    for line in lines:
        alert = escalation.raise_alert(
            session, kind=ALERT_KIND, subject_key=overdue_key(line.dose_id, episodes.get(line.dose_id, 0)),
            patient_id=line.patient_id, encounter_id=line.encounter_id, ward_id=line.ward_id,
            text=(f"Dose overdue: {line.drug} {line.dose} for {line.patient}"
                  f"{' (bed ' + line.bed + ')' if line.bed else ''}, due "
                  f"{clock.to_local(line.due_at, tz):%H:%M}, still not recorded after {minutes} "
                  "minutes.")[:500],
            link=_round_link(line.ward_id), chain="dose_overdue", priority="high", quiet=True)
        if alert.status == "open" and alert.level == 0:
            alerts[line.dose_id] = alert
    who = {dose_id: list(alert.recipient_ids or []) for dose_id, alert in alerts.items()}
    raised = [x for x in lines if x.dose_id in alerts]
    for user_ids, group in _by_recipients(raised, who).items():
        target = (escalation.alert_path(alerts[group[0].dose_id].id) if len(group) == 1
                  else _round_link(group[0].ward_id))
        notify(session, kind=f"alert.{ALERT_KIND}",
               text=_listing(group, tz, f"overdue (not recorded after {minutes} minutes)"),
               user_ids=user_ids, link=target, priority="high")
    session.execute(update(ScheduledDose).where(ScheduledDose.id.in_([x.dose_id for x in lines]))
                    .values(overdue_alerted_at=now))
    session.flush()
    return len(lines)


def resolve_overdue_alert(session: DbSession, dose_id: int, resolution: str) -> None:
    """End the dose's open overdue alert (of its current episode), if it has one (the dose was
    recorded or can no longer be given)."""
    dose = session.get(ScheduledDose, dose_id)
    if dose is None or dose.overdue_alerted_at is None:
        return  # no alert was ever raised for it: nothing to look up
    from app.domain.escalation import services as escalation

    escalation.resolve_alert(session, kind=ALERT_KIND,
                             subject_key=overdue_key(dose_id, _episodes(session, [dose_id]).get(dose_id, 0)),
                             resolution=resolution)
