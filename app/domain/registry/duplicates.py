"""Candidate duplicates for a registration or an edit.

The contract the registration and edit services rely on (app.domain.patients.services):

- `find_duplicates(session, data, exclude_patient_id=None, limit=5)` returns the likely
  duplicates of `data`, best first;
- `PossibleDuplicates` is raised by those services when there are matches and the clerk gave no
  reason to save anyway; the view shows `exc.matches` and asks for the reason;
- `record_override(session, actor, patient, matches, reason)` keeps the pairs for the
  supervisor's worklist after a clerk saved anyway.

The first version below only matches exact identifiers; the scoring replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select

from app.core.db import DbSession
from app.core.errors import DomainError
from app.core.security import Actor
from app.domain.patients.models import Patient

if TYPE_CHECKING:
    from app.domain.patients.services import Demographics


@dataclass
class DuplicateMatch:
    patient: Patient
    score: float  # 0..1, the probability-like match weight
    reasons: list[str] = field(default_factory=list)


class PossibleDuplicates(DomainError):
    def __init__(self, matches: list[DuplicateMatch]) -> None:
        super().__init__(
            "This person may already be registered. Check the records below, or give a reason "
            "to register anyway.",
            field="duplicate_reason",
        )
        self.matches = matches


def find_duplicates(
    session: DbSession, data: Demographics, exclude_patient_id: int | None = None, limit: int = 5
) -> list[DuplicateMatch]:
    stmt = select(Patient).where(Patient.birth_date == data.birth_date).limit(200)
    matches: list[DuplicateMatch] = []
    for patient in session.scalars(stmt):
        if patient.id == exclude_patient_id:
            continue
        same_name = (patient.family_name.lower(), patient.given_names.lower()) == (
            data.family_name.lower(), data.given_names.lower())
        if same_name:
            matches.append(DuplicateMatch(patient, 0.95, ["same name", "same date of birth"]))
    return matches[:limit]


def record_override(
    session: DbSession, actor: Actor, patient: Patient, matches: list[DuplicateMatch], reason: str
) -> None:
    """Placeholder until the worklist exists: the audit entry is written by the caller."""
