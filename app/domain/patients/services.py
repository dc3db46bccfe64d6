"""Patient operations shared by every department."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import current_app
from sqlalchemy.orm.exc import StaleDataError

from app.core import audit, clock
from app.core.db import DbSession
from app.core.errors import Conflict, DomainError, Forbidden, NotFound
from app.core.identifiers import next_value
from app.core.security import Actor, Perm, authorize, can
from app.domain.notifications.services import notify
from app.domain.patients import history, rules, search
from app.domain.patients.access import in_scope
from app.domain.patients.models import Allergy, BreakGlassGrant, Patient

DEMOGRAPHIC_FIELDS = (
    "family_name", "given_names", "birth_date", "sex", "phone",
    "address_line", "city", "postcode", "national_id",
)
# A change to one of these can make the record look like someone else's: check for duplicates.
IDENTITY_FIELDS = ("family_name", "given_names", "birth_date", "sex", "phone", "national_id")
EDIT_KINDS = ("corrected", "updated")
MIN_REASON = 5


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

    def problems(self, today: date, phone_region: str = rules.DEFAULT_PHONE_REGION,
                 national_id_format: str | None = None) -> dict[str, str]:
        """Every field that is wrong, with what to do about it (empty when all is well)."""
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
        if self.phone and (problem := rules.phone_problem(self.phone, phone_region)):
            errors["phone"] = problem
        if self.national_id and (problem := rules.national_id_problem(self.national_id,
                                                                        national_id_format)):
            errors["national_id"] = problem
        return errors

    def cleaned(self, national_id_format: str | None = None) -> Demographics:
        """Surrounding spaces gone, empty optional fields None, the national id compacted."""
        def opt(value: str | None) -> str | None:
            return (value or "").strip() or None

        nid = opt(self.national_id)
        return Demographics(
            family_name=" ".join(self.family_name.split()),
            given_names=" ".join(self.given_names.split()), birth_date=self.birth_date,
            sex=self.sex, phone=opt(self.phone), address_line=opt(self.address_line),
            city=opt(self.city), postcode=(opt(self.postcode) or "").upper() or None,
            national_id=rules.compact_national_id(nid, national_id_format) if nid else None,
        )


class InvalidDemographics(DomainError):
    """One or more fields are wrong; `errors` has a message for each (shown beside them)."""

    def __init__(self, errors: dict[str, str]) -> None:
        field, message = next(iter(errors.items()))
        super().__init__(message, field=field)
        self.errors = errors


def demographics_problems(data: Demographics) -> dict[str, str]:
    """Every field of `data` that this hospital's rules refuse, with what to do about it."""
    config = current_app.config
    return data.problems(clock.today_local(config["HOSPITAL_TIMEZONE"]),
                         config.get("PHONE_REGION") or rules.DEFAULT_PHONE_REGION,
                         config.get("NATIONAL_ID_FORMAT") or None)


def _validated(data: Demographics) -> Demographics:
    problems = demographics_problems(data)
    if problems:
        raise InvalidDemographics(problems)
    return data.cleaned(current_app.config.get("NATIONAL_ID_FORMAT") or None)


def _check_duplicates(
    session: DbSession, data: Demographics, exclude_patient_id: int | None,
    duplicate_reason: str | None,
) -> list[Any]:
    """The likely duplicates of `data`. None, or a reason given: carry on (the matches are kept
    for the supervisor's worklist). Otherwise PossibleDuplicates, for the clerk to look at."""
    from app.domain.registry.duplicates import PossibleDuplicates, find_duplicates

    matches = find_duplicates(session, data, exclude_patient_id=exclude_patient_id)
    if matches and len((duplicate_reason or "").strip()) < MIN_REASON:
        raise PossibleDuplicates(matches)
    return list(matches)


def _record_override(
    session: DbSession, actor: Actor, patient: Patient, matches: list[Any], reason: str
) -> None:
    from app.domain.registry.duplicates import record_override

    record_override(session, actor, patient, matches, reason.strip())
    audit.record(session, actor, "patient.duplicate_override", patient, patient_id=patient.id,
                 reason=reason.strip(),
                 after={"possible_duplicates": [m.patient.mrn for m in matches]})


def register_patient(
    session: DbSession, actor: Actor, data: Demographics, *, duplicate_reason: str | None = None,
    check_duplicates: bool = True,
) -> Patient:
    """Create a patient with a new MRN (a serial plus its Luhn check digit).

    Every field is validated (InvalidDemographics lists what is wrong). Likely duplicates stop
    the registration (PossibleDuplicates) unless the clerk gives a reason to register anyway;
    that reason is audited and the pairs go to the supervisor's worklist. Bulk loads that are
    not a clerk at a desk (demo data, tests) pass check_duplicates=False."""
    authorize(actor, Perm.PATIENT_WRITE)
    data = _validated(data)
    matches = _check_duplicates(session, data, None, duplicate_reason) if check_duplicates else []
    serial = next_value(session, "mrn", start=rules.MRN_SERIAL_START)
    patient = Patient(mrn=rules.make_mrn(serial), **vars(data))
    session.add(patient)
    session.flush()
    audit.record(session, actor, "patient.registered", patient, patient_id=patient.id,
                 after={"mrn": patient.mrn, **audit.snapshot(patient, DEMOGRAPHIC_FIELDS)})
    history.record_version(session, actor, patient, change="registered", reason=None)
    if matches:
        _record_override(session, actor, patient, matches, duplicate_reason or "")
    return patient


class StaleRecord(Conflict):
    """The record changed after the form was opened (optimistic locking): 409."""


STALE_MESSAGE = ("Someone else changed this record after you opened it. Their changes are shown "
                 "below; your entries are kept: check them and save again.")


def update_demographics(
    session: DbSession, actor: Actor, patient_id: int, data: Demographics, *,
    expected_version: int, change: str, reason: str | None = None,
    duplicate_reason: str | None = None,
) -> Patient:
    """Change a patient's demographics, keeping the previous values as a version.

    `change` is "corrected" (the old value was wrong: a reason is required) or "updated" (the
    person's details changed: a new phone, a new address). `expected_version` is the record's
    version when the form was opened: if someone saved in between, Conflict (409), and nothing
    is overwritten. A change to the name, date of birth, sex, phone or national id is checked
    for duplicates as at registration."""
    patient = get_patient(session, actor, patient_id, Perm.PATIENT_WRITE)
    if patient.is_merged:
        raise DomainError("This record was merged into another: edit that one instead.")
    if patient.version != expected_version:
        raise StaleRecord(STALE_MESSAGE)
    if change not in EDIT_KINDS:
        raise DomainError("Say whether this corrects a mistake or records a change.",
                          field="change")
    reason = (reason or "").strip() or None
    if change == "corrected" and (reason is None or len(reason) < MIN_REASON):
        raise DomainError("Say what was wrong: a correction needs a reason.", field="reason")
    data = _validated(data)
    before = audit.snapshot(patient, DEMOGRAPHIC_FIELDS)
    after = vars(data)
    if all(before[k] == after[k] for k in DEMOGRAPHIC_FIELDS):
        raise DomainError("Nothing has changed.", field="family_name")
    identity_changed = any(before[k] != after[k] for k in IDENTITY_FIELDS)
    matches = (_check_duplicates(session, data, patient.id, duplicate_reason)
               if identity_changed else [])
    for name, value in after.items():
        setattr(patient, name, value)
    try:
        session.flush()
    except StaleDataError:
        # Someone saved between our read and this write (the row's version moved on).
        raise StaleRecord(STALE_MESSAGE) from None
    changed_before, changed_after = audit.diff(before, after)
    audit.record(session, actor, f"patient.{change}", patient, patient_id=patient.id,
                 before=changed_before, after=changed_after, reason=reason)
    history.record_version(session, actor, patient, change=change, reason=reason)
    if matches:
        _record_override(session, actor, patient, matches, duplicate_reason or "")
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
    session: DbSession, actor: Actor, query: str = "", limit: int = search.DEFAULT_LIMIT
) -> search.SearchResult:
    """The reception search, for everyone: patients the actor may see matching `query` (an MRN,
    national id, phone, name, name + date of birth; typo-tolerant when nothing matches). A ward-
    scoped nurse sees only the patients on her wards. Iterating the result gives the patients."""
    return search.search_patients(session, actor, query, limit)


def may_read(actor: Actor, patient: Patient) -> bool:
    return can(actor, Perm.PATIENT_READ, patient)
