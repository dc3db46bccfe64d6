"""Record history: every demographic change keeps a version, and the history view shows what
changed between versions, who changed it, when and why.

Versions are written by the services that change a patient: registration and edits here, merge
and unmerge in app.domain.registry (which call `record_version`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import object_session

from app.core import clock
from app.core.db import DbSession
from app.core.security import Actor, Perm, authorize
from app.domain.patients.models import Patient, PatientVersion

# What a version keeps, in the order the history shows it.
SNAPSHOT_FIELDS = (
    "mrn", "family_name", "given_names", "birth_date", "sex", "phone", "address_line", "city",
    "postcode", "national_id", "status",
)
FIELD_LABELS = {
    "mrn": "MRN", "family_name": "Family name", "given_names": "Given names",
    "birth_date": "Date of birth", "sex": "Sex", "phone": "Phone", "address_line": "Address",
    "city": "City", "postcode": "Postcode", "national_id": "National id", "status": "Status",
    "merged_into": "Merged into",
}
CHANGES = ("registered", "corrected", "updated", "merged", "unmerged")


def snapshot(patient: Patient) -> dict[str, Any]:
    """The patient's demographics as plain JSON values (dates as ISO strings)."""
    values: dict[str, Any] = {}
    for name in SNAPSHOT_FIELDS:
        value = getattr(patient, name)
        values[name] = value.isoformat() if isinstance(value, date) else value
    # By id, not through the relationship: a merge may set merged_into_id alone.
    survivor = None
    if patient.merged_into_id is not None and (session := object_session(patient)) is not None:
        survivor = session.get(Patient, patient.merged_into_id)
    values["merged_into"] = survivor.mrn if survivor is not None else None
    return values


def record_version(
    session: DbSession, actor: Actor, patient: Patient, *, change: str, reason: str | None
) -> PatientVersion:
    """Keep the patient's demographics as they are now as the next version. Called in the same
    transaction as the change itself (the caller has checked permissions and audits)."""
    if change not in CHANGES:
        raise ValueError(f"unknown change kind {change!r}")
    session.flush()  # a new patient needs its id; the merged_into link must be current
    latest = session.scalar(
        select(func.max(PatientVersion.version)).where(PatientVersion.patient_id == patient.id))
    version = PatientVersion(
        patient_id=patient.id, version=(latest or 0) + 1, snapshot=snapshot(patient),
        changed_by_id=actor.id, changed_by_label=actor.label, changed_at=clock.now(),
        change=change, reason=(reason or "").strip() or None,
    )
    session.add(version)
    session.flush()
    return version


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    old: Any
    new: Any


@dataclass(frozen=True)
class VersionView:
    version: int
    change: str
    changed_by: str
    changed_at: datetime
    reason: str | None
    changes: list[FieldChange]  # against the previous version (every field for the first)
    snapshot: dict[str, Any]


def changes_between(before: dict[str, Any] | None, after: dict[str, Any]) -> list[FieldChange]:
    """The fields whose values differ, in display order; the first version lists every field
    that has a value."""
    out = []
    for name in (*SNAPSHOT_FIELDS, "merged_into"):
        old = before.get(name) if before is not None else None
        new = after.get(name)
        if old != new and (before is not None or new not in (None, "")):
            out.append(FieldChange(name, FIELD_LABELS[name], old, new))
    return out


def patient_history(session: DbSession, actor: Actor, patient_id: int) -> list[VersionView]:
    """Every version of a patient's record, newest first, each with its changes. Reading the
    history is reading the chart: the same scope rules apply."""
    from app.domain.patients.services import get_patient

    patient = get_patient(session, actor, patient_id)
    authorize(actor, Perm.PATIENT_READ, patient)
    versions = list(session.scalars(
        select(PatientVersion).where(PatientVersion.patient_id == patient.id)
        .order_by(PatientVersion.version)))
    views: list[VersionView] = []
    previous: dict[str, Any] | None = None
    for v in versions:
        views.append(VersionView(v.version, v.change, v.changed_by_label, v.changed_at, v.reason,
                                 changes_between(previous, v.snapshot), v.snapshot))
        previous = v.snapshot
    return list(reversed(views))
