"""The medication administration record: what the nurse did about each dose (given, held,
refused, missed, not available), when-required doses, corrections, and the figures other ward
pages read (the bed board's dose counts, the handover's due and overdue doses).

Recording a dose locks the dose row (PostgreSQL) and the database's unique partial index
`uq_administration_dose_completed` backs it: of two nurses recording the same dose at once,
exactly one succeeds and the other is told who did it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.core import audit, clock, events, realtime
from app.core.db import DbSession
from app.core.errors import Conflict, DomainError, Forbidden, NotFound
from app.core.links import link
from app.core.security import Actor, Perm, authorize
from app.core.web import check_charted_at
from app.domain.administration import reminders, rules
from app.domain.administration.models import Administration, ScheduledDose
from app.domain.admissions.models import Encounter
from app.domain.admissions.services import get_encounter
from app.domain.dispensary import gs1, wording
from app.domain.formulary.models import Drug
from app.domain.identity.models import User
from app.domain.patients.models import Patient
from app.domain.prescribing import rules as prescribing_rules
from app.domain.prescribing.models import Prescription

OPEN = "due"
NEXT_SHIFT = timedelta(hours=12)
STATUS_WORDS = {"on-hold": "on hold", "stopped": "stopped", "cancelled": "cancelled",
                "completed": "completed"}
# How far back a late entry may be dated.
LATE_ENTRY = timedelta(hours=24)


def overdue_minutes() -> int:
    return int(current_app.config["DOSE_OVERDUE_MINUTES"])


# --- reading for other ward pages -----------------------------------------------------------

@dataclass(frozen=True)
class DoseCounts:
    due_now: int  # open, within ± DOSE_OVERDUE_MINUTES of its time
    overdue: int  # open, more than DOSE_OVERDUE_MINUTES after its time (within a day)


def board_counts(session: DbSession, encounter_ids: Iterable[int], now: datetime) -> dict[int, DoseCounts]:
    """Open doses per stay for the bed board, in ONE grouped query over the whole ward
    (ix_scheduled_dose_encounter_due). Doses of prescriptions no longer active are left out:
    nobody can give them. Stays with none map to DoseCounts(0, 0)."""
    ids = sorted(set(encounter_ids))
    out = {eid: DoseCounts(0, 0) for eid in ids}
    if not ids:
        return out
    window = timedelta(minutes=overdue_minutes())
    late = now - window
    rows = session.execute(
        select(ScheduledDose.encounter_id,
               func.count().filter(ScheduledDose.due_at >= late),
               func.count().filter(ScheduledDose.due_at < late))
        .join(Prescription, Prescription.id == ScheduledDose.prescription_id)
        .where(ScheduledDose.encounter_id.in_(ids), ScheduledDose.status == OPEN,
               ScheduledDose.due_at >= now - rules.OVERDUE_LOOKBACK,
               ScheduledDose.due_at <= now + window, Prescription.status == "active")
        .group_by(ScheduledDose.encounter_id))
    for eid, due_now, overdue in rows:
        out[eid] = DoseCounts(int(due_now or 0), int(overdue or 0))
    return out


def dose_text(rx: Prescription) -> str:
    return f"{wording.figure(Decimal(rx.dose))} {rx.dose_unit}"


def _open_doses(session: DbSession, encounter_ids: list[int], since: datetime,
                until: datetime) -> list[ScheduledDose]:
    return list(session.scalars(
        select(ScheduledDose).join(Prescription, Prescription.id == ScheduledDose.prescription_id)
        .where(ScheduledDose.encounter_id.in_(encounter_ids), ScheduledDose.status == OPEN,
               ScheduledDose.due_at >= since, ScheduledDose.due_at <= until,
               Prescription.status == "active")
        .order_by(ScheduledDose.due_at, ScheduledDose.id)))


def doses_for_handover(session: DbSession, encounter_id: int, now: datetime) -> dict[str, Any]:
    """The handover's medicines facts for one stay, as plain JSON values: the open doses due in
    the next shift (NEXT_SHIFT hours, including those due now) and the overdue ones."""
    window = timedelta(minutes=overdue_minutes())
    tz = str(current_app.config["HOSPITAL_TIMEZONE"])
    doses = _open_doses(session, [encounter_id], now - rules.OVERDUE_LOOKBACK, now + NEXT_SHIFT)
    prescriptions = _prescriptions(session, {d.prescription_id for d in doses})

    def item(d: ScheduledDose) -> dict[str, Any]:
        rx = prescriptions[d.prescription_id]
        return {"dose_id": d.id, "prescription_id": rx.id, "drug": rx.drug.name,
                "dose": dose_text(rx), "route": rx.route, "due_at": d.due_at.isoformat(),
                "time": clock.to_local(d.due_at, tz).strftime("%H:%M")}

    return {
        "due_next_shift": [item(d) for d in doses if d.due_at >= now - window],
        "overdue": [item(d) for d in doses if d.due_at < now - window],
        "next_shift_hours": int(NEXT_SHIFT.total_seconds() // 3600),
    }


def _prescriptions(session: DbSession, ids: Iterable[int]) -> dict[int, Prescription]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    return {rx.id: rx for rx in session.scalars(
        select(Prescription).where(Prescription.id.in_(wanted)).options(selectinload(Prescription.drug)))}


# --- recording ------------------------------------------------------------------------------

def _lock_dose(session: DbSession, dose_id: int) -> ScheduledDose:
    stmt = select(ScheduledDose).where(ScheduledDose.id == dose_id).execution_options(
        populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        # A second nurse on the same dose waits here, then sees the first one's outcome.
        stmt = stmt.with_for_update()
    dose = session.scalar(stmt)
    if dose is None:
        raise NotFound("No such dose.")
    return dose


def _recordable(session: DbSession, actor: Actor, rx: Prescription, encounter_id: int) -> Encounter:
    """The stay, once the actor may record on it and the prescription may still be given."""
    authorize(actor, Perm.ADMINISTER)
    if actor.id is None:
        raise Forbidden("Only a person can record a dose.")
    encounter = session.get(Encounter, encounter_id)
    if encounter is None:
        raise NotFound("No such admission.")
    if encounter.status != "in-progress":
        raise DomainError("The patient has been discharged (this admission has ended): doses can "
                          "no longer be recorded on it.", field="outcome")
    get_encounter(session, actor, encounter.id, Perm.ADMINISTER)  # the ward scope
    if rx.status != "active":
        why = f" ({rx.status_reason})" if rx.status_reason else ""
        raise DomainError(f"The prescription for {rx.drug.name} is {STATUS_WORDS.get(rx.status, rx.status)}"
                          f"{why}: this dose cannot be recorded.", field="outcome")
    if rx.verification != "verified":
        raise DomainError(f"The prescription for {rx.drug.name} is not verified by a pharmacist: it "
                          "cannot be given from the ward record.", field="outcome")
    return encounter


def _when(occurred_at: datetime | None, now: datetime, encounter: Encounter) -> datetime:
    """When the dose happened: now unless a late entry says otherwise (never ahead of the
    clock, at most LATE_ENTRY back, never before the admission)."""
    return check_charted_at(occurred_at, now, field="occurred_at", what=_("A dose"),
                            back=LATE_ENTRY, earliest=encounter.started_at)


def _in_course(rx: Prescription, at: datetime, field: str) -> None:
    """The prescription's course covers `at`: not before its start, not at or after its stop."""
    tz = clock.hospital_timezone()
    if rx.start_at > at:
        raise DomainError(f"The prescription for {rx.drug.name} starts at "
                          f"{clock.to_local(rx.start_at, tz):%d %b %H:%M}: no dose may be recorded "
                          "before it.", field=field)
    if rx.stop_at is not None and rx.stop_at <= at:
        raise DomainError(f"The course of {rx.drug.name} ended at "
                          f"{clock.to_local(rx.stop_at, tz):%d %b %H:%M}: no dose may be recorded "
                          "after it.", field=field)


@dataclass(frozen=True)
class Scans:
    wristband: bool
    product: bool
    batch: str | None
    expiry: Any


def _check_scans(session: DbSession, patient: Patient, drug: Drug, wristband: str | None,
                 product: str | None) -> Scans:
    wristband_ok = False
    if wristband and wristband.strip():
        mrn = rules.wristband_mrn(wristband)
        if mrn != patient.mrn:
            raise DomainError(f"Wrong patient! The wristband scanned reads {mrn or 'nothing'}, but this "
                              f"dose is for {patient.name} (MRN {patient.mrn}). Stop and check the "
                              "patient.", field="wristband")
        wristband_ok = True
    batch = None
    expiry = None
    product_ok = False
    if product and product.strip():
        code = gs1.parse_pack_code(product, field="product")
        if drug.pack_gtin is None or code.gtin != drug.pack_gtin:
            from app.domain.dispensary.receiving import drug_by_gtin

            other = drug_by_gtin(session, code.gtin)
            what = other.name if other is not None else f"GTIN {code.gtin}, not in the formulary"
            raise DomainError(f"Wrong drug: the pack scanned is {what}; this dose is {drug.name}.",
                              field="product")
        if rules.expired(code.expiry, clock.hospital_today()):
            assert code.expiry is not None
            raise DomainError(f"This pack expired on {code.expiry:%d %b %Y}: do not give it; take "
                              "another pack.", field="product")
        batch, expiry, product_ok = code.batch, code.expiry, True
    return Scans(wristband_ok, product_ok, batch, expiry)


def _check_witness(actor: Actor, drug: Drug, outcome: str, witness: User | None) -> None:
    if not drug.controlled or outcome != "given":
        return
    if witness is None:
        raise DomainError(f"{drug.name} is a controlled drug: a second person must witness the "
                          "dose.", field="witness")
    if witness.id == actor.id:
        raise DomainError("The witness must be someone other than you.", field="witness")
    if not witness.is_active or not witness.has_perm(Perm.CD_WITNESS):
        raise DomainError(f"{witness.full_name} may not witness controlled drugs.", field="witness")


def _link(encounter_id: int) -> str:
    return link("wards.medication_chart", encounter_id=encounter_id)


def _announce(session: DbSession, adm: Administration, rx: Prescription, ward_id: int | None) -> None:
    events.administered.send(session, administration_id=adm.id, prescription_id=rx.id,
                             patient_id=adm.patient_id, encounter_id=adm.encounter_id,
                             drug_id=rx.drug_id, outcome=adm.outcome,
                             scheduled_dose_id=adm.scheduled_dose_id)
    if ward_id is not None:
        realtime.push(session, realtime.ward_room(ward_id),
                      {"type": "dose.recorded", "id": adm.scheduled_dose_id,
                       "encounter_id": adm.encounter_id})


def _recorded_by(session: DbSession, dose_id: int, tz: str) -> str:
    other = session.scalar(select(Administration).where(
        Administration.scheduled_dose_id == dose_id, Administration.status == "completed"))
    if other is None:
        return "Someone else recorded this dose a moment ago. Reload the round."
    who = session.get(User, other.recorded_by_id) if other.recorded_by_id else None
    return (f"This dose was already recorded as {rules.OUTCOME_LABELS[other.outcome].lower()} by "
            f"{who.full_name if who else 'someone else'} at "
            f"{clock.to_local(other.recorded_at, tz):%H:%M}. Reload the round.")


def record_dose(session: DbSession, actor: Actor, scheduled_dose_id: int, outcome: str,
                reason: str | None = None, occurred_at: datetime | None = None, *,
                wristband: str | None = None, product: str | None = None,
                witness: User | None = None, expected_status: str = OPEN) -> Administration:
    """Record what happened to a scheduled dose. Every outcome but `given` needs a reason.

    Refused for a prescription that is not active and verified, for a stay that has ended, for
    a wristband scan of another patient, for a pack of another drug or past its expiry, and for
    a controlled drug given without a witness (`witness`: a User whose password the view has
    checked with identity.verify_witness). `expected_status` is the guard: the dose the nurse
    saw was open; if it is not any more, Conflict says who recorded it. Audited, announced
    (`administered`), and it resolves the dose's overdue alert. Flushes."""
    now = clock.now()
    tz = clock.hospital_timezone()
    dose = _lock_dose(session, scheduled_dose_id)
    rx = session.get(Prescription, dose.prescription_id)
    assert rx is not None
    encounter = _recordable(session, actor, rx, dose.encounter_id)
    if dose.status == "withdrawn":
        raise DomainError("This dose was withdrawn when the prescription changed: it is no longer "
                          "due.", field="outcome")
    if dose.status != expected_status or dose.status != OPEN:
        raise Conflict(_recorded_by(session, dose.id, tz))
    kept_reason = _outcome(outcome, reason)
    at = _when(occurred_at, now, encounter)
    field = "occurred_at" if occurred_at is not None else "outcome"
    early = rules.early_refusal(dose.due_at, at, overdue_minutes(), tz)
    if early:
        raise DomainError(early, field=field)
    _in_course(rx, at, field)
    patient = session.get(Patient, dose.patient_id)
    assert patient is not None
    scans = _check_scans(session, patient, rx.drug, wristband, product)
    _check_witness(actor, rx.drug, outcome, witness)
    adm = Administration(
        prescription_id=rx.id, scheduled_dose_id=dose.id, patient_id=dose.patient_id,
        encounter_id=dose.encounter_id, outcome=outcome, reason=kept_reason,
        dose=rx.dose if outcome == "given" else None, dose_unit=rx.dose_unit, route=rx.route,
        occurred_at=at, recorded_at=now, recorded_by_id=actor.id,
        witness_id=witness.id if witness is not None and outcome == "given" else None,
        wristband_scanned=scans.wristband, product_scanned=scans.product, batch=scans.batch,
        expiry=scans.expiry, status="completed")
    try:
        with session.begin_nested():
            session.add(adm)
            session.flush()
    except IntegrityError:
        raise Conflict(_recorded_by(session, dose.id, tz)) from None
    dose.status = outcome
    session.flush()
    audit.record(session, actor, "medication.administration_recorded", adm, patient_id=adm.patient_id,
                 after={"dose_id": dose.id, "prescription": rx.number, "drug": rx.drug.name,
                        "outcome": outcome, "due_at": dose.due_at.isoformat(),
                        "occurred_at": at.isoformat(), "wristband_scanned": scans.wristband,
                        "product_scanned": scans.product, "batch": scans.batch,
                        "witness": witness.username if adm.witness_id and witness else None},
                 reason=kept_reason)
    reminders.resolve_overdue_alert(session, dose.id, f"Dose recorded: {rules.OUTCOME_LABELS[outcome]}")
    _announce(session, adm, rx, encounter.ward_id)
    return adm


def _outcome(outcome: str, reason: str | None) -> str | None:
    try:
        return rules.check_outcome(outcome, reason)
    except rules.AdministrationRefused as exc:
        raise DomainError(exc.message, field=exc.field) from None


def _prn_related(session: DbSession, prescriptions: Iterable[Prescription]) -> dict[int, set[int]]:
    """For each when-required prescription, the prescriptions whose doses count against its
    limits: itself, those it replaces (a changed prescription is a new row), and any other of
    the same drug on the same stay. One query over the stays' prescriptions."""
    wanted = list(prescriptions)
    stays = {rx.encounter_id for rx in wanted if rx.encounter_id is not None}
    rows = session.execute(select(Prescription.id, Prescription.replaces_id, Prescription.drug_id,
                                  Prescription.encounter_id)
                           .where(Prescription.encounter_id.in_(stays))).all() if stays else []
    parent = {r.id: r.replaces_id for r in rows}
    out: dict[int, set[int]] = {}
    for rx in wanted:
        related = {r.id for r in rows if r.encounter_id == rx.encounter_id and r.drug_id == rx.drug_id}
        chain: set[int] = set()
        current: int | None = rx.id
        while current is not None and current not in chain:  # a cycle cannot hang it
            chain.add(current)
            current = parent.get(current)
        out[rx.id] = related | chain
    return out


def prn_given_times_many(session: DbSession,
                         prescriptions: Iterable[Prescription]) -> dict[int, list[datetime]]:
    """When each when-required prescription's doses were given (standing records only),
    counting the whole chain of prescriptions it replaced and the same drug on the same stay.
    Two queries whatever the number of prescriptions."""
    related = _prn_related(session, prescriptions)
    every = set().union(*related.values()) if related else set()
    times: dict[int, list[datetime]] = {}
    if every:
        for rid, at in session.execute(select(Administration.prescription_id, Administration.occurred_at)
                                       .where(Administration.prescription_id.in_(every),
                                              Administration.scheduled_dose_id.is_(None),
                                              Administration.outcome == "given",
                                              Administration.status == "completed")):
            times.setdefault(rid, []).append(at)
    return {rx_id: sorted(t for rid in ids for t in times.get(rid, []))
            for rx_id, ids in related.items()}


def prn_given_times(session: DbSession, rx: Prescription) -> list[datetime]:
    """When this when-required prescription's doses were given (see prn_given_times_many)."""
    return prn_given_times_many(session, [rx])[rx.id]


def next_prn_at(session: DbSession, rx: Prescription, now: datetime) -> datetime | None:
    """When the next PRN dose is allowed (None: now)."""
    return next_prn_many(session, [rx], now)[rx.id]


def next_prn_many(session: DbSession, prescriptions: Iterable[Prescription],
                  now: datetime) -> dict[int, datetime | None]:
    """next_prn_at for several prescriptions (the chart's PRN rows) in two queries."""
    wanted = list(prescriptions)
    given = prn_given_times_many(session, wanted)
    return {rx.id: rules.next_prn_allowed(given[rx.id], now, rx.prn_min_interval_minutes,
                                          rx.prn_max_daily_doses) for rx in wanted}


def record_prn(session: DbSession, actor: Actor, prescription_id: int, dose: object = None,
               occurred_at: datetime | None = None, *, reason: str | None = None,
               wristband: str | None = None, product: str | None = None,
               witness: User | None = None) -> Administration:
    """Record a when-required dose as given. The prescription's minimum interval and its most
    doses in any 24 hours are enforced, and the refusal says when the next dose is allowed. The
    dose defaults to the prescribed one and may not exceed it. Flushes."""
    now = clock.now()
    tz = clock.hospital_timezone()
    stmt = select(Prescription).where(Prescription.id == prescription_id).execution_options(
        populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()  # two PRN doses at once: the second sees the first
    rx = session.scalar(stmt)
    if rx is None:
        raise NotFound("No such prescription.")
    if rx.encounter_id is None or rx.setting != "inpatient":
        raise DomainError("This is not a prescription of a hospital stay.", field="dose")
    encounter = _recordable(session, actor, rx, rx.encounter_id)
    if not rx.prn:
        raise DomainError("This prescription has set times: record its doses from the round.",
                          field="dose")
    if dose is None or (isinstance(dose, str) and not dose.strip()):
        amount = Decimal(rx.dose)
    else:
        try:
            amount = prescribing_rules.parse_dose(dose)
        except prescribing_rules.DoseError as exc:
            raise DomainError(str(exc), field="dose") from None
    if amount > Decimal(rx.dose):
        raise DomainError(f"The prescribed dose is {dose_text(rx)}: no more may be given at once.",
                          field="dose")
    at = _when(occurred_at, now, encounter)
    _in_course(rx, at, "occurred_at" if occurred_at is not None else "dose")
    refusal = rules.prn_refusal(prn_given_times(session, rx), at, rx.prn_min_interval_minutes,
                                rx.prn_max_daily_doses, tz)
    if refusal:
        raise DomainError(refusal, field="dose")
    patient = session.get(Patient, rx.patient_id)
    assert patient is not None
    scans = _check_scans(session, patient, rx.drug, wristband, product)
    _check_witness(actor, rx.drug, "given", witness)
    note = " ".join((reason or "").split())[:rules.MAX_REASON] or None
    adm = Administration(
        prescription_id=rx.id, scheduled_dose_id=None, patient_id=rx.patient_id,
        encounter_id=encounter.id, outcome="given", reason=note, dose=amount,
        dose_unit=rx.dose_unit, route=rx.route, occurred_at=at, recorded_at=now,
        recorded_by_id=actor.id, witness_id=witness.id if witness is not None else None,
        wristband_scanned=scans.wristband, product_scanned=scans.product, batch=scans.batch,
        expiry=scans.expiry, status="completed")
    session.add(adm)
    session.flush()
    audit.record(session, actor, "medication.prn_given", adm, patient_id=rx.patient_id,
                 after={"prescription": rx.number, "drug": rx.drug.name,
                        "dose": f"{wording.figure(amount)} {rx.dose_unit}",
                        "occurred_at": at.isoformat(), "witness": witness.username if witness else None},
                 reason=note)
    _announce(session, adm, rx, encounter.ward_id)
    return adm


def mark_entered_in_error(session: DbSession, actor: Actor, administration_id: int,
                          reason: str) -> Administration:
    """Mark a record entered in error, with the reason; it stays on the chart struck through.
    Its dose opens again (due) when it can still be given, or is withdrawn when the
    prescription or the stay has ended since. Audited; flushes."""
    authorize(actor, Perm.ADMINISTER)
    stmt = select(Administration).where(Administration.id == administration_id).execution_options(
        populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    adm = session.scalar(stmt)
    if adm is None:
        raise NotFound("No such record.")
    encounter = get_encounter(session, actor, adm.encounter_id, Perm.ADMINISTER)
    if adm.status != "completed":
        raise Conflict("This record was already marked entered in error.")
    why = " ".join((reason or "").split())
    if len(why) < rules.MIN_REASON:
        raise DomainError("Say why this record is wrong.", field="reason")
    if len(why) > rules.MAX_REASON:
        raise DomainError(f"Keep the reason under {rules.MAX_REASON} characters.", field="reason")
    adm.status = "entered-in-error"
    adm.error_reason = why
    reopened = None
    if adm.scheduled_dose_id is not None:
        dose = _lock_dose(session, adm.scheduled_dose_id)
        rx = session.get(Prescription, adm.prescription_id)
        can_give = rx is not None and rx.status == "active" and encounter.status == "in-progress"
        dose.status = OPEN if can_give else "withdrawn"
        # A new episode of the same dose: it reminds and alerts afresh (its alert has a key of
        # its own, reminders.overdue_key, since the last one stays on record resolved).
        dose.reminded_at = None
        dose.overdue_alerted_at = None
        reopened = dose.status
    session.flush()
    audit.record(session, actor, "medication.administration_entered_in_error", adm,
                 patient_id=adm.patient_id,
                 before={"status": "completed", "outcome": adm.outcome},
                 after={"status": adm.status, "dose_now": reopened}, reason=why)
    events.administration_voided.send(session, administration_id=adm.id,
                                      prescription_id=adm.prescription_id, patient_id=adm.patient_id,
                                      encounter_id=adm.encounter_id, drug_id=_drug_id(session, adm),
                                      outcome=adm.outcome)
    if encounter.ward_id is not None:
        realtime.push(session, realtime.ward_room(encounter.ward_id),
                      {"type": "dose.recorded", "id": adm.scheduled_dose_id,
                       "encounter_id": adm.encounter_id})
    return adm


def _drug_id(session: DbSession, adm: Administration) -> int:
    rx = session.get(Prescription, adm.prescription_id)
    assert rx is not None
    return rx.drug_id


def standing_record(session: DbSession, dose_id: int) -> Administration | None:
    """The record that stands for a scheduled dose (None while it is open)."""
    return session.scalar(select(Administration).where(
        Administration.scheduled_dose_id == dose_id, Administration.status == "completed"))


def recorder_name(session: DbSession, record: Administration | None) -> str:
    if record is None or record.recorded_by_id is None:
        return ""
    who = session.get(User, record.recorded_by_id)
    return who.full_name if who is not None else ""


def get_administration(session: DbSession, actor: Actor, administration_id: int) -> Administration:
    adm = session.get(Administration, administration_id)
    if adm is None:
        raise NotFound("No such record.")
    get_encounter(session, actor, adm.encounter_id, Perm.WARD_VIEW)
    return adm


def chart_link(encounter_id: int) -> str:
    return _link(encounter_id)


def doses_for_handover_many(session: DbSession, encounter_ids: Iterable[int],
                            now: datetime) -> dict[int, dict[str, Any]]:
    """doses_for_handover for many stays at once (a handover's start and refresh): the same JSON
    per stay, from one query for the doses and one for their prescriptions, however many."""
    ids = sorted(set(encounter_ids))
    hours = int(NEXT_SHIFT.total_seconds() // 3600)
    out: dict[int, dict[str, Any]] = {
        eid: {"due_next_shift": [], "overdue": [], "next_shift_hours": hours} for eid in ids}
    if not ids:
        return out
    window = timedelta(minutes=overdue_minutes())
    tz = str(current_app.config["HOSPITAL_TIMEZONE"])
    doses = _open_doses(session, ids, now - rules.OVERDUE_LOOKBACK, now + NEXT_SHIFT)
    prescriptions = _prescriptions(session, {d.prescription_id for d in doses})
    for d in doses:
        rx = prescriptions[d.prescription_id]
        item = {"dose_id": d.id, "prescription_id": rx.id, "drug": rx.drug.name,
                "dose": dose_text(rx), "route": rx.route, "due_at": d.due_at.isoformat(),
                "time": clock.to_local(d.due_at, tz).strftime("%H:%M")}
        out[d.encounter_id]["overdue" if d.due_at < now - window else "due_next_shift"].append(item)
    return out
