"""Prescribing: write, amend, change, hold, resume, stop and cancel prescriptions, with the
safety checks and their overrides. Every change keeps a version and an audit record and sends
`prescription_changed`.

Before the pharmacist has verified a prescription the prescriber may amend it in place (a
version is still kept). Once verified it is never edited: a change stops it and writes a new
prescription that replaces it, which needs verifying again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import case, select
from sqlalchemy.orm import object_session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from app.core import audit, clock, events, realtime
from app.core.db import DbSession
from app.core.errors import Conflict, DomainError, Forbidden, NotFound
from app.core.identifiers import next_value, with_luhn
from app.core.security import Actor, Perm, authorize, can
from app.domain.admissions.models import Encounter
from app.domain.formulary.models import Drug
from app.domain.identity.models import User
from app.domain.patients import services as patients
from app.domain.patients.models import Patient
from app.domain.prescribing import rules, safety
from app.domain.prescribing.models import Prescription, PrescriptionVersion, SafetyOverride

PRIORITIES = ("routine", "urgent")
# Lifecycle moves: action -> (statuses it starts from, status it leads to).
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "held": (("active",), "on-hold"),
    "resumed": (("on-hold",), "active"),
    "stopped": (("active", "on-hold"), "stopped"),
    "completed": (("active", "on-hold"), "completed"),
    "cancelled": (("active", "on-hold"), "cancelled"),
}
OPEN_VERIFICATION = ("pending", "queried")
VERIFICATION_EVENT = "verification.changed"
SNAPSHOT_FIELDS = ("drug_id", "dose", "dose_unit", "route", "frequency", "prn", "prn_min_interval_minutes",
                   "prn_max_daily_doses", "start_at", "stop_at", "duration_days", "instructions",
                   "indication", "quantity", "priority", "status", "verification", "status_reason",
                   "setting", "encounter_id", "replaces_id", "verified_by_id", "verified_at")
FIELD_LABELS = {
    "drug": "Drug", "dose": "Dose", "dose_unit": "Unit", "route": "Route", "frequency": "Frequency",
    "prn": "When required", "prn_min_interval_minutes": "Minimum interval (min)",
    "prn_max_daily_doses": "Most doses a day", "start_at": "Start", "stop_at": "Stop",
    "duration_days": "Days", "instructions": "Instructions", "indication": "Indication",
    "quantity": "Quantity", "priority": "Priority", "status": "Status", "verification": "Verification",
    "status_reason": "Reason", "setting": "Setting", "verified_by_id": "Verified by",
    "verified_at": "Verified at",
}


def table() -> Mapping[str, Mapping[str, Any]]:
    times: Mapping[str, Mapping[str, Any]] = current_app.config["ADMINISTRATION_TIMES"]
    return times


@dataclass
class Order:
    """A prescription as written on the form (strings allowed; validated by `validate`)."""

    drug_id: int | None
    dose: object
    dose_unit: str | None
    frequency: str | None
    route: str | None = None
    start_at: datetime | None = None
    stop_at: datetime | None = None
    duration_days: int | None = None
    prn: bool = False
    prn_min_interval_minutes: int | None = None
    prn_max_daily_doses: int | None = None
    instructions: str | None = None
    indication: str | None = None
    priority: str = "routine"
    quantity: int | None = None


@dataclass
class Checked:
    """A valid order: the drug and the values that will be saved."""

    drug: Drug
    values: dict[str, Any]


class OrderInvalid(DomainError):
    """Several fields may be wrong at once; `errors` holds each field's message."""

    def __init__(self, errors: dict[str, str]) -> None:
        first = next(iter(errors))
        super().__init__(errors[first], field=first)
        self.errors = errors


class OverrideRequired(DomainError):
    """Checks fired that the prescriber has not given a reason to override."""

    def __init__(self, findings: list[safety.Finding], missing: list[str]) -> None:
        super().__init__("Give a reason to override each safety warning, or change the prescription.",
                         field=f"override_{missing[0]}")
        self.findings = findings
        self.missing = missing


@dataclass
class Overrides:
    reasons: dict[str, str] = field(default_factory=dict)

    def reason(self, check: str) -> str:
        return (self.reasons.get(check) or "").strip()


def _int_in(value: int | None, low: int, high: int) -> bool:
    return value is not None and low <= value <= high


def validate(session: DbSession, order: Order, setting: str, now: datetime | None = None) -> Checked:
    """Check the order field by field; OrderInvalid lists every problem beside its field."""
    errors: dict[str, str] = {}
    drug = session.get(Drug, order.drug_id) if order.drug_id else None
    if drug is None or not drug.active:
        errors["drug_id"] = "Choose a drug from the formulary."
    dose: Decimal | None = None
    try:
        dose = rules.parse_dose(order.dose)
    except rules.DoseError as exc:
        errors["dose"] = str(exc)
    unit = (order.dose_unit or "").strip()
    if drug is not None and unit not in dose_units(drug):
        if unit == drug.stock_unit:
            errors["dose_unit"] = (f"Write the dose in {drug.dose_unit}: a dose in {unit}s cannot be checked "
                                   f"against this drug's maximum (in {drug.dose_unit}).")
        else:
            errors["dose_unit"] = f"{drug.name} is prescribed in {' or '.join(dose_units(drug))}."
    frequency = (order.frequency or "").strip().upper()
    if frequency not in table():
        errors["frequency"] = "Choose a frequency from the hospital's administration times."
    prn = bool(order.prn) or frequency == rules.PRN
    if prn:
        if not _int_in(order.prn_min_interval_minutes, 1, rules.MAX_PRN_INTERVAL_MINUTES):
            errors["prn_min_interval_minutes"] = "A when-required order needs a minimum interval (minutes)."
        if not _int_in(order.prn_max_daily_doses, 1, rules.MAX_PRN_DAILY_DOSES):
            errors["prn_max_daily_doses"] = "A when-required order needs a most-doses-a-day limit (1-48)."
    route = (order.route or (drug.route if drug is not None else "")).strip().lower()
    if not route or len(route) > 40:
        errors["route"] = "Give the route."
    start = order.start_at or now or clock.now()
    if start.tzinfo is None:
        errors["start_at"] = "Give the start with its time zone."
    stop = order.stop_at
    duration = order.duration_days
    if duration is not None and not 1 <= duration <= rules.MAX_DURATION_DAYS:
        errors["duration_days"] = f"The duration is 1 to {rules.MAX_DURATION_DAYS} days."
    if stop is not None and start.tzinfo is not None and stop <= start:
        errors["stop_at"] = "The stop must be after the start."
    if stop is None and duration is not None and "duration_days" not in errors:
        stop = rules.end_of(start, None, duration)
    priority = (order.priority or "routine").strip().lower()
    if priority not in PRIORITIES:
        errors["priority"] = "Priority is routine or urgent."
    instructions = (order.instructions or "").strip() or None
    if instructions and len(instructions) > 2000:
        errors["instructions"] = "Keep the instructions under 2000 characters."
    indication = (order.indication or "").strip() or None
    if indication and len(indication) > 200:
        errors["indication"] = "Keep the indication under 200 characters."
    quantity = order.quantity
    if quantity is not None and not 1 <= quantity <= rules.MAX_QUANTITY:
        errors["quantity"] = f"The quantity is 1 to {rules.MAX_QUANTITY}."
    if setting == "outpatient" and quantity is None and not errors and drug is not None and dose is not None:
        quantity = supply_needed(drug, dose, unit, frequency, prn, order.prn_max_daily_doses, start, stop)
        if quantity is None:
            errors["quantity"] = "Give the quantity to supply (in " + drug.stock_unit + "s)."
    if errors:
        raise OrderInvalid(errors)
    assert drug is not None and dose is not None
    return Checked(drug, {
        "drug_id": drug.id, "dose": dose, "dose_unit": unit, "route": route, "frequency": frequency,
        "prn": prn, "prn_min_interval_minutes": order.prn_min_interval_minutes if prn else None,
        "prn_max_daily_doses": order.prn_max_daily_doses if prn else None, "start_at": start,
        "stop_at": stop, "duration_days": duration, "instructions": instructions, "indication": indication,
        "priority": priority, "quantity": quantity if setting == "outpatient" else None,
    })


def dose_units(drug: Drug) -> list[str]:
    """The units a dose of this drug may be written in: its dose unit, and its stock unit too
    unless the drug has a maximum dose that a dose in stock units cannot be converted to (no
    dose_per_stock_unit): "1000 tablet" must never slip past a maximum in mg."""
    units = [drug.dose_unit]
    has_maximum = drug.max_single_dose is not None or drug.max_daily_dose is not None
    if drug.stock_unit != drug.dose_unit and (drug.dose_per_stock_unit is not None or not has_maximum):
        units.append(drug.stock_unit)
    return units


def supply_needed(drug: Drug, dose: Decimal, unit: str, frequency: str, prn: bool,
                  prn_max: int | None, start: datetime, stop: datetime | None) -> int | None:
    """Stock units for an outpatient course (doses a day × days × stock units a dose), or None
    when the course has no end or the dose cannot be counted in stock units."""
    if frequency == rules.STAT:
        days = 1.0
    elif stop is None:
        return None
    else:
        days = max((stop - start).total_seconds() / 86400, 0)
    per_day = rules.doses_per_day(frequency, table(), prn_max if prn else None)
    if unit == drug.stock_unit:
        per_dose = dose
    elif drug.dose_per_stock_unit:
        per_dose = dose / drug.dose_per_stock_unit
    else:
        return None
    total = math.ceil(per_dose * per_day * math.ceil(days))  # Decimal: 0.8 × 3 × 5 is 12, not 12.000…1
    return total if 1 <= total <= rules.MAX_QUANTITY else None


def current_inpatient_encounter(session: DbSession, patient_id: int) -> Encounter | None:
    return session.scalar(select(Encounter).where(
        Encounter.patient_id == patient_id, Encounter.status == "in-progress",
        Encounter.class_code == "IMP").order_by(Encounter.started_at.desc()).limit(1))


def check_order(session: DbSession, actor: Actor, patient_id: int, order: Order,
                exclude_ids: tuple[int, ...] = ()) -> list[safety.Finding]:
    """The live safety panel: every check that can run on what has been written so far
    (nothing is saved; invalid fields are simply skipped)."""
    patient = patients.get_patient(session, actor, patient_id, Perm.PRESCRIBE)
    drug = session.get(Drug, order.drug_id) if order.drug_id else None
    if drug is None:
        return []
    try:
        dose: Decimal | None = rules.parse_dose(order.dose)
    except rules.DoseError:
        dose = None
    frequency = (order.frequency or "").strip().upper() or None
    prn_max = order.prn_max_daily_doses if (order.prn or frequency == rules.PRN) else None
    return safety.run_checks(
        session, patient_id=patient.id, substances=[a.substance for a in patient.active_allergies],
        drug=drug, dose=dose, unit=(order.dose_unit or "").strip() or drug.dose_unit,
        frequency=frequency if frequency in table() else None, prn_max_daily_doses=prn_max,
        table=table(), exclude_ids=exclude_ids)


def _findings_for(session: DbSession, patient: Patient, checked: Checked,
                  exclude_ids: tuple[int, ...]) -> list[safety.Finding]:
    v = checked.values
    return safety.run_checks(
        session, patient_id=patient.id, substances=[a.substance for a in patient.active_allergies],
        drug=checked.drug, dose=v["dose"], unit=v["dose_unit"], frequency=v["frequency"],
        prn_max_daily_doses=v["prn_max_daily_doses"], table=table(), exclude_ids=exclude_ids)


def _require_overrides(findings: list[safety.Finding], overrides: Overrides) -> None:
    missing = [c for c in safety.CHECKS if any(f.check == c for f in findings) and len(overrides.reason(c)) < 3]
    if missing:
        raise OverrideRequired(findings, missing)


def _record_overrides(session: DbSession, actor: Actor, rx: Prescription, findings: list[safety.Finding],
                      overrides: Overrides) -> None:
    for check, details in safety.by_check(findings).items():
        reason = overrides.reason(check)
        row = SafetyOverride(prescription_id=rx.id, check=check, detail=" ".join(details), reason=reason,
                             actor_id=actor.id, at=clock.now())
        session.add(row)
        session.flush()
        audit.record(session, actor, "prescription.safety_overridden", rx, patient_id=rx.patient_id,
                     after={"check": check, "detail": row.detail}, reason=reason)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def snapshot(rx: Prescription) -> dict[str, Any]:
    data = {f: _plain(getattr(rx, f)) for f in SNAPSHOT_FIELDS}
    data["drug"] = rx.drug.name if rx.drug is not None else None
    return data


def _keep_version(session: DbSession, actor: Actor, rx: Prescription, action: str,
                  reason: str | None = None) -> None:
    try:
        session.flush()
    except StaleDataError:
        # Someone saved between our read and this write (the row's version moved on).
        raise Conflict(STALE) from None
    session.add(PrescriptionVersion(prescription_id=rx.id, version=rx.version, action=action,
                                    snapshot=snapshot(rx), reason=reason, actor_id=actor.id,
                                    actor_label=actor.label, at=clock.now()))
    session.flush()


def _changed(session: DbSession, actor: Actor, rx: Prescription, action: str, *, reason: str | None = None,
             before: dict[str, Any] | None = None, event_action: str | None = None) -> None:
    """Version, audit and event for one change."""
    _keep_version(session, actor, rx, action, reason)
    after = snapshot(rx)
    if before is not None:
        before, after = audit.diff(before, after)
    audit.record(session, actor, f"prescription.{action}", rx, patient_id=rx.patient_id,
                 before=before, after=after, reason=reason)
    events.prescription_changed.send(session, prescription_id=rx.id, patient_id=rx.patient_id,
                                     action=event_action or action)
    # The pharmacy's verification worklist re-fetches itself (after commit; nothing if rolled back).
    realtime.push(session, realtime.dept_room("pharmacy"), {"type": VERIFICATION_EVENT, "id": rx.id})


def get_prescription(session: DbSession, actor: Actor, prescription_id: int,
                     perm: Perm = Perm.PRESCRIPTION_READ) -> Prescription:
    """The prescription, if the actor may see it (permission and the patient's scope)."""
    authorize(actor, perm)
    rx = session.get(Prescription, prescription_id)
    if rx is None:
        raise NotFound("No such prescription.")
    patients.get_patient(session, actor, rx.patient_id, perm)
    return rx


def may_read(actor: Actor) -> bool:
    return can(actor, Perm.PRESCRIPTION_READ) or can(actor, Perm.PRESCRIBE)


def _read_perm(actor: Actor) -> Perm:
    return Perm.PRESCRIBE if can(actor, Perm.PRESCRIBE) else Perm.PRESCRIPTION_READ


STALE = "Someone else changed this prescription since you opened it. Reload and try again."


def _stale(rx: Prescription, expected_version: int | None) -> None:
    """Lock the row (PostgreSQL: a second writer waits, then sees the first one's change) and
    refuse a form opened on an older version."""
    session = object_session(rx)
    if session is not None:
        session.refresh(rx, with_for_update=True)
    if expected_version is not None and rx.version != expected_version:
        raise Conflict(STALE)


def prescribe(session: DbSession, actor: Actor, patient_id: int, order: Order,
              overrides: Overrides | None = None, *, replaces: Prescription | None = None) -> Prescription:
    """Write a new prescription (pending verification). Inpatient when the patient is admitted
    (an in-progress IMP encounter), otherwise outpatient. Triggered checks need a reason each."""
    authorize(actor, Perm.PRESCRIBE)
    if actor.id is None:
        raise Forbidden("Only a person can prescribe.")
    overrides = overrides or Overrides()
    patient = patients.get_patient(session, actor, patient_id, Perm.PRESCRIBE)
    if patient.is_merged:
        raise DomainError("This record was merged: prescribe on the surviving record.")
    encounter = current_inpatient_encounter(session, patient.id)
    setting = "inpatient" if encounter is not None else "outpatient"
    checked = validate(session, order, setting)
    exclude = (replaces.id,) if replaces is not None else ()
    findings = _findings_for(session, patient, checked, exclude)
    _require_overrides(findings, overrides)
    rx = Prescription(number=with_luhn(next_value(session, "prescription", start=1000000)),
                      patient_id=patient.id, encounter_id=encounter.id if encounter else None,
                      setting=setting, status="active", verification="pending", prescriber_id=actor.id,
                      replaces_id=replaces.id if replaces is not None else None, **checked.values)
    rx.drug = checked.drug
    session.add(rx)
    session.flush()
    _record_overrides(session, actor, rx, findings, overrides)
    _changed(session, actor, rx, "prescribed", reason=f"replaces No. {replaces.number}" if replaces else None)
    return rx


def change_prescription(session: DbSession, actor: Actor, prescription_id: int, expected_version: int | None,
                        order: Order, overrides: Overrides | None = None,
                        reason: str | None = None) -> Prescription:
    """Change a prescription. Not yet verified: amended in place (back to pending, which also
    answers a query). Verified: stopped, and a new prescription replaces it."""
    authorize(actor, Perm.PRESCRIBE)
    rx = get_prescription(session, actor, prescription_id, Perm.PRESCRIBE)
    _stale(rx, expected_version)
    if rx.status not in ("active", "on-hold") or rx.verification == "rejected":
        raise DomainError("Only a current prescription can be changed; write a new one.")
    overrides = overrides or Overrides()
    if rx.verification == "verified":
        why = (reason or "").strip()
        if len(why) < 3:
            raise DomainError("Say why the prescription changes.", field="reason")
        patient = patients.get_patient(session, actor, rx.patient_id, Perm.PRESCRIBE)
        setting = "inpatient" if current_inpatient_encounter(session, patient.id) else "outpatient"
        checked = validate(session, order, setting)  # before anything is stopped
        _require_overrides(_findings_for(session, patient, checked, (rx.id,)), overrides)
        _transition(session, actor, rx, "stopped", f"Changed: {why}")
        return prescribe(session, actor, rx.patient_id, order, overrides, replaces=rx)
    patient = rx.patient
    checked = validate(session, order, rx.setting)
    findings = _findings_for(session, patient, checked, (rx.id,))
    _require_overrides(findings, overrides)
    before = snapshot(rx)
    for key, value in checked.values.items():
        setattr(rx, key, value)
    rx.drug = checked.drug
    was_queried = rx.verification == "queried"
    rx.verification = "pending"
    rx.status_reason = None
    session.flush()
    _record_overrides(session, actor, rx, findings, overrides)
    note = (reason or "").strip() or ("Amended in answer to the pharmacist's query" if was_queried else None)
    _changed(session, actor, rx, "amended", reason=note, before=before)
    if was_queried:
        _tell_querier(session, rx, f"amended it: {note}")
    return rx


def answer_query(session: DbSession, actor: Actor, prescription_id: int, expected_version: int | None,
                 answer: str) -> Prescription:
    """The prescriber answers the pharmacist's query without changing the order: back to pending."""
    rx = get_prescription(session, actor, prescription_id, Perm.PRESCRIBE)
    _stale(rx, expected_version)
    if rx.verification != "queried":
        raise DomainError("There is no open query on this prescription.")
    text = (answer or "").strip()
    if len(text) < 3:
        raise DomainError("Write your answer to the pharmacist.", field="answer")
    before = snapshot(rx)
    rx.verification = "pending"
    rx.status_reason = None
    _changed(session, actor, rx, "answered", reason=text, before=before, event_action="amended")
    _tell_querier(session, rx, f"answered: {text}")
    return rx


def _tell_querier(session: DbSession, rx: Prescription, what: str) -> None:
    """The pharmacist who asked learns the answer (the worklist also shows it)."""
    from app.domain.prescribing import verification  # it builds on this module

    verification.tell_querier(session, rx, what)


def _transition(session: DbSession, actor: Actor, rx: Prescription, action: str, reason: str | None) -> None:
    allowed_from, to = TRANSITIONS[action]
    if rx.status not in allowed_from:
        raise DomainError(f"A prescription that is {rx.status} cannot be {action}.")
    before = snapshot(rx)
    rx.status = to
    rx.status_reason = reason
    _changed(session, actor, rx, action, reason=reason, before=before)


def change_status(session: DbSession, actor: Actor, prescription_id: int, expected_version: int | None,
                  action: str, reason: str | None = None) -> Prescription:
    """Hold, resume, stop or cancel (entered in error; only before verification, so never after
    anything was dispensed). Holding, stopping and cancelling need a reason."""
    if action not in ("held", "resumed", "stopped", "cancelled"):
        raise DomainError("Unknown action.")
    rx = get_prescription(session, actor, prescription_id, Perm.PRESCRIBE)
    _stale(rx, expected_version)
    why = (reason or "").strip() or None
    if action != "resumed" and (why is None or len(why) < 3):
        raise DomainError("Give the reason.", field="reason")
    if action == "cancelled" and rx.verification == "verified":
        raise DomainError("A verified prescription is stopped, not cancelled: it may have been dispensed.")
    if action == "resumed" and rx.verification == "rejected":
        raise DomainError("A rejected prescription cannot be resumed.")
    _transition(session, actor, rx, action, why)
    return rx


def complete_finished(session: DbSession, actor: Actor, now: datetime | None = None) -> int:
    """Mark current prescriptions whose stop time has passed as completed (for a periodic job)."""
    authorize(actor, Perm.PRESCRIBE)
    at = now or clock.now()
    due = list(session.scalars(select(Prescription).where(
        Prescription.status.in_(("active", "on-hold")), Prescription.stop_at.is_not(None),
        Prescription.stop_at <= at).order_by(Prescription.id)))
    for rx in due:
        _transition(session, actor, rx, "completed", "Course finished")
    return len(due)


@dataclass
class PatientMedicines:
    current: list[Prescription]  # active and on hold
    past: list[Prescription]


def patient_medicines(session: DbSession, actor: Actor, patient_id: int) -> PatientMedicines:
    """A patient's prescriptions, current first (newest first within each group)."""
    if not may_read(actor):
        raise Forbidden("You may not see prescriptions.")
    patients.get_patient(session, actor, patient_id, _read_perm(actor))
    rows = list(session.scalars(
        select(Prescription).where(Prescription.patient_id == patient_id)
        .options(selectinload(Prescription.drug))
        .order_by(case((Prescription.status == "active", 0), (Prescription.status == "on-hold", 1), else_=2),
                  Prescription.created_at.desc(), Prescription.id.desc())))
    return PatientMedicines([r for r in rows if r.status in ("active", "on-hold")],
                            [r for r in rows if r.status not in ("active", "on-hold")])


def versions(session: DbSession, prescription_id: int) -> list[PrescriptionVersion]:
    return list(session.scalars(select(PrescriptionVersion).where(
        PrescriptionVersion.prescription_id == prescription_id).order_by(PrescriptionVersion.id)))


def history(session: DbSession, prescription_id: int) -> list[tuple[PrescriptionVersion, list[tuple[str, Any, Any]]]]:
    """Each version with what changed from the one before it: (field, before, after)."""
    out: list[tuple[PrescriptionVersion, list[tuple[str, Any, Any]]]] = []
    previous: dict[str, Any] = {}
    names: dict[int, str] = {}
    for v in versions(session, prescription_id):
        changes = [(k, _shown(session, k, previous.get(k), names), _shown(session, k, v.snapshot.get(k), names))
                   for k in v.snapshot
                   if k != "drug_id" and previous and previous.get(k) != v.snapshot.get(k)]
        out.append((v, changes))
        previous = v.snapshot
    return out


def _shown(session: DbSession, key: str, value: Any, names: dict[int, str]) -> Any:
    """A snapshot value as a person reads it: users by name, times on the hospital's clock."""
    if value is None:
        return None
    if key.endswith("_by_id") and isinstance(value, int):
        if value not in names:
            user = session.get(User, value)
            names[value] = user.full_name if user is not None else f"user {value}"
        return names[value]
    if key.endswith("_at") and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return clock.to_local(moment, clock.hospital_timezone()).strftime("%d %b %Y %H:%M")
    return value


def overrides_of(session: DbSession, prescription_id: int) -> list[SafetyOverride]:
    return list(session.scalars(select(SafetyOverride).where(
        SafetyOverride.prescription_id == prescription_id).order_by(SafetyOverride.id)))


def verified_inpatient_prescriptions(session: DbSession, encounter_id: int) -> list[Prescription]:
    """What the ward's medication record schedules: active, verified, inpatient prescriptions of
    this stay. Pending, queried, rejected, held and stopped ones are left out."""
    return list(session.scalars(
        select(Prescription).where(Prescription.encounter_id == encounter_id,
                                   Prescription.setting == "inpatient", Prescription.status == "active",
                                   Prescription.verification == "verified")
        .options(selectinload(Prescription.drug)).order_by(Prescription.start_at, Prescription.id)))
