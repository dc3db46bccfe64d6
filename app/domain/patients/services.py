"""Patient operations shared by every department."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import func, or_, select

from app.core import audit, clock
from app.core.db import DbSession
from app.core.errors import DomainError, Forbidden, NotFound
from app.core.identifiers import next_value
from app.core.security import Actor, Perm, authorize, can
from app.domain.admissions.models import Encounter
from app.domain.notifications.services import notify
from app.domain.patients import rules
from app.domain.patients.access import in_scope
from app.domain.patients.models import Allergy, BreakGlassGrant, Patient

DEMOGRAPHIC_FIELDS = (
    "family_name", "given_names", "birth_date", "sex", "phone",
    "address_line", "city", "postcode", "national_id",
)


@dataclass
class Demographics:
    family_name: str
    given_names: str
    birth_date: date
    sex: str
    phone: str | None = None
    address_line: str | None = None
    city: str | None = None
    postcode: str | None = None
    national_id: str | None = None

    def problems(self, today: date) -> dict[str, str]:
        errors: dict[str, str] = {}
        if not self.family_name.strip():
            errors["family_name"] = "Enter the family name."
        if not self.given_names.strip():
            errors["given_names"] = "Enter the given name(s)."
        if self.birth_date > today:
            errors["birth_date"] = "The date of birth cannot be in the future."
        elif self.birth_date.year < today.year - 130:
            errors["birth_date"] = "Check the year of birth."
        if self.sex not in rules.SEXES:
            errors["sex"] = "Choose female, male, other or unknown."
        return errors


def register_patient(session: DbSession, actor: Actor, data: Demographics) -> Patient:
    """Create a patient with a new MRN (a serial plus its Luhn check digit)."""
    authorize(actor, Perm.PATIENT_WRITE)
    problems = data.problems(clock.today_local(current_app.config["HOSPITAL_TIMEZONE"]))
    if problems:
        field, message = next(iter(problems.items()))
        raise DomainError(message, field=field)
    serial = next_value(session, "mrn", start=rules.MRN_SERIAL_START)
    patient = Patient(mrn=rules.make_mrn(serial), **vars(data))
    session.add(patient)
    session.flush()
    audit.record(session, actor, "patient.registered", patient, patient_id=patient.id,
                 after={"mrn": patient.mrn, **audit.snapshot(patient, DEMOGRAPHIC_FIELDS)})
    return patient


def record_allergy(
    session: DbSession, actor: Actor, patient_id: int, substance: str,
    reaction: str | None = None, severity: str = "moderate", code: str | None = None,
) -> Allergy:
    authorize(actor, Perm.PATIENT_WRITE)
    patient = _get(session, patient_id)
    if not substance.strip():
        raise DomainError("Enter the substance.", field="substance")
    if severity not in {"mild", "moderate", "severe"}:
        raise DomainError("Choose mild, moderate or severe.", field="severity")
    allergy = Allergy(patient=patient, substance=substance.strip(), reaction=reaction,
                      severity=severity, code=code, recorded_at=clock.now())
    session.add(allergy)
    session.flush()
    audit.record(session, actor, "allergy.recorded", allergy, patient_id=patient.id,
                 after={"substance": allergy.substance, "severity": severity, "reaction": reaction})
    return allergy


def _get(session: DbSession, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("No such patient.")
    return patient


def get_patient(session: DbSession, actor: Actor, patient_id: int, perm: Perm = Perm.PATIENT_READ) -> Patient:
    """The patient, if the actor may see them; Forbidden (with a break-glass offer) otherwise."""
    patient = _get(session, patient_id)
    authorize(actor, perm, patient)
    return patient


def open_chart(session: DbSession, actor: Actor, patient_id: int) -> Patient:
    """Open a patient's chart. Every opening is recorded as a read in the audit trail."""
    patient = get_patient(session, actor, patient_id)
    audit.record(session, actor, "patient.chart_opened", patient, patient_id=patient.id)
    return patient


def may_break_glass(session: DbSession, actor: Actor, patient_id: int) -> bool:
    patient = _get(session, patient_id)
    return actor.has_perm(Perm.BREAK_GLASS) and not in_scope(actor, Perm.PATIENT_READ, patient)


def break_glass(session: DbSession, actor: Actor, patient_id: int, reason: str) -> BreakGlassGrant:
    """Open a chart outside the actor's ward scope for a stated reason and a limited time."""
    authorize(actor, Perm.BREAK_GLASS)
    if actor.id is None:
        raise Forbidden("Only a person can break the glass.")
    patient = _get(session, patient_id)
    reason = reason.strip()
    if len(reason) < 10:
        raise DomainError("Say why you need this chart (at least 10 characters).", field="reason")
    minutes = int(current_app.config.get("BREAK_GLASS_MINUTES", 60))
    now = clock.now()
    grant = BreakGlassGrant(user_id=actor.id, patient_id=patient.id, reason=reason,
                            granted_at=now, expires_at=now + timedelta(minutes=minutes))
    session.add(grant)
    session.flush()
    audit.record(session, actor, "patient.break_glass", grant, patient_id=patient.id,
                 reason=reason, after={"expires_at": grant.expires_at})
    notify(session, kind="patient.break_glass", role="auditor", link=f"/audit/?mrn={patient.mrn}",
           text=f"{actor.label} broke the glass on MRN {patient.mrn}: {reason}")
    return grant


def visible_patients(
    session: DbSession, actor: Actor, query: str = "", limit: int = 50
) -> list[Patient]:
    """Patients the actor may see, newest first, optionally filtered by MRN or name start."""
    authorize(actor, Perm.PATIENT_READ)
    stmt = select(Patient).order_by(Patient.family_name, Patient.given_names).limit(limit)
    wards = actor.scoped_ward_ids(Perm.PATIENT_READ)
    if wards is not None:
        on_wards = select(Encounter.patient_id).where(
            Encounter.ward_id.in_(list(wards)), Encounter.status == "in-progress"
        )
        stmt = stmt.where(Patient.id.in_(on_wards))
    q = query.strip()
    if q:
        if q.isdigit():
            stmt = stmt.where(Patient.mrn == q)
        else:
            like = q.lower().replace("%", "").replace("_", "") + "%"
            stmt = stmt.where(
                or_(func.lower(Patient.family_name).like(like), func.lower(Patient.given_names).like(like))
            )
    return list(session.scalars(stmt))


def may_read(actor: Actor, patient: Patient) -> bool:
    return can(actor, Perm.PATIENT_READ, patient)
