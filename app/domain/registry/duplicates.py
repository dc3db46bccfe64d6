"""Candidate duplicates for a registration or an edit.

The contract the registration and edit services rely on (app.domain.patients.services):

- `find_duplicates(session, data, exclude_patient_id=None, limit=5)` returns the likely
  duplicates of `data`, best first;
- `PossibleDuplicates` is raised by those services when there are matches and the clerk gave no
  reason to save anyway; the view shows `exc.matches` and asks for the reason;
- `record_override(session, actor, patient, matches, reason)` keeps the pairs for the
  supervisor's worklist after a clerk saved anyway.

Finding them is two steps. Blocking asks the database, in one statement, for the few records
worth scoring, each block an index lookup (ix_patient_search_dob, ix_patient_dob_words,
ix_patient_phone_e164, the national id index): the same national id, the same phone, a birth
date that is the same or near (day and month swapped, a year either side), or one digit away
together with a name word in common (about 100 rows at a million patients). Then
rules.compare scores each candidate and those over DUPLICATE_THRESHOLD are returned. The blocks
are exactly those that can reach the default threshold (rules.shares_block, property-tested),
so blocking loses nothing that scoring would have found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from flask import current_app, has_app_context
from sqlalchemy import bindparam, literal, or_, select, union_all
from sqlalchemy.orm import lazyload
from sqlalchemy.sql import Executable

from app.core import audit
from app.core.db import DbSession
from app.core.errors import DomainError
from app.core.security import Actor
from app.domain.patients import rules as patient_rules
from app.domain.patients.models import Patient
from app.domain.registry import rules
from app.domain.registry.models import DuplicateCandidate

if TYPE_CHECKING:
    from app.domain.patients.services import Demographics

# A block larger than this is a data problem (a placeholder phone or id typed into thousands of
# records), not a list of candidates; scoring it would only slow the desk down.
BLOCK_CAP = 200


@dataclass
class DuplicateMatch:
    patient: Patient
    score: float  # 0..1, the probability-like match weight
    reasons: list[str] = field(default_factory=list)
    levels: dict[str, str] = field(default_factory=dict)  # per field: same/close/.../different


class PossibleDuplicates(DomainError):
    def __init__(self, matches: list[DuplicateMatch]) -> None:
        super().__init__(
            "This person may already be registered. Check the records below, or give a reason "
            "to register anyway.",
            field="duplicate_reason",
        )
        self.matches = matches


def threshold() -> float:
    if has_app_context():
        return float(current_app.config.get("DUPLICATE_THRESHOLD", rules.DEFAULT_THRESHOLD))
    return rules.DEFAULT_THRESHOLD


def person_from_form(data: Demographics) -> rules.Person:
    config = current_app.config if has_app_context() else {}
    region = config.get("PHONE_REGION") or patient_rules.DEFAULT_PHONE_REGION
    national_id = None
    if data.national_id:
        try:
            national_id = patient_rules.compact_national_id(data.national_id,
                                                            config.get("NATIONAL_ID_FORMAT") or None)
        except ValueError:  # a misconfigured format must not stop the duplicate check
            national_id = data.national_id
    return rules.Person(data.family_name, data.given_names, data.birth_date, data.sex,
                        patient_rules.phone_e164(data.phone, region), national_id)


def person_from_patient(patient: Any) -> rules.Person:
    """A Patient, or a row with the same column names."""
    return rules.Person(patient.family_name, patient.given_names, patient.birth_date, patient.sex,
                        patient.phone_e164, patient.national_id)


_COLUMNS = (Patient.id, Patient.family_name, Patient.given_names, Patient.birth_date, Patient.sex,
            Patient.phone_e164, Patient.national_id)


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


MAX_WORDS = 8  # name words matched in the typo-date block; more is a data-entry accident


@lru_cache(maxsize=128)
def _candidates_statement(words: int, phone: bool, national_id: bool, exclude: bool) -> Executable:
    """The blocks (see the module docstring) as one UNION ALL statement, each arm capped at
    BLOCK_CAP so that one oversized block cannot crowd out the others. Built once per shape
    (how many name words; phone, national id, an excluded record or not) with bound
    parameters, so a check only binds values and SQLAlchemy's compiled cache is hit."""
    base = select(*_COLUMNS).where(Patient.status == "active")
    if exclude:
        base = base.where(Patient.id != bindparam("exclude_id"))
    arms = [base.where(Patient.birth_date.in_(bindparam("near", expanding=True)))]
    if words:
        # The search columns hold space-separated words: a word in common is " word " inside
        # " family given ". That filter runs on ix_patient_dob_words alone (registry.models);
        # the table is read only for the few rows that pass.
        haystack = literal(" ") + Patient.family_norm + literal(" ") + Patient.given_norm + literal(" ")
        match = or_(*(haystack.like(bindparam(f"word{i}"), escape="\\") for i in range(words)))
        passing = (select(Patient.id).where(Patient.birth_date.in_(bindparam("typos", expanding=True)), match)
                   .limit(BLOCK_CAP))
        arms.append(base.where(Patient.id.in_(passing)))
    if phone:
        arms.append(base.where(Patient.phone_e164 == bindparam("phone")))
    if national_id:
        arms.append(base.where(Patient.national_id == bindparam("national_id")))
    return union_all(*(select(*arm.limit(BLOCK_CAP).subquery().c) for arm in arms))


def candidate_rows(session: DbSession, person: rules.Person, exclude_patient_id: int | None = None) -> list[Any]:
    """The records sharing a block with `person` (a row may come twice, from two blocks)."""
    words = sorted({w for w in rules.name_tokens(person.family_name) + rules.name_tokens(person.given_names)
                    if w}, key=lambda w: (-len(w), w))[:MAX_WORDS]
    params: dict[str, Any] = {"near": sorted(rules.near_dates(person.birth_date))}
    if words:
        params["typos"] = sorted(rules.typo_dates(person.birth_date))
        params.update({f"word{i}": f"% {_escape_like(w)} %" for i, w in enumerate(words)})
    if person.phone:
        params["phone"] = person.phone
    if person.national_id:
        params["national_id"] = person.national_id
    if exclude_patient_id is not None:
        params["exclude_id"] = exclude_patient_id
    statement = _candidates_statement(len(words), bool(person.phone), bool(person.national_id),
                                      exclude_patient_id is not None)
    return list(session.execute(statement, params))


def score_candidates(
    session: DbSession, person: rules.Person, exclude_patient_id: int | None = None
) -> list[tuple[int, rules.Comparison]]:
    """Every blocked candidate over the threshold, best first, as (patient id, comparison)."""
    seen: set[int] = set()
    scored: list[tuple[int, rules.Comparison]] = []
    cutoff = threshold()
    for row in candidate_rows(session, person, exclude_patient_id):
        if row.id in seen:
            continue
        seen.add(row.id)
        result = rules.compare(person, person_from_patient(row))
        if result.score >= cutoff:
            scored.append((row.id, result))
    scored.sort(key=lambda item: (-item[1].score, item[0]))
    return scored


def find_duplicates(
    session: DbSession, data: Demographics, exclude_patient_id: int | None = None, limit: int = 5
) -> list[DuplicateMatch]:
    """The likely duplicates of `data` among active (not merged) records, best first."""
    top = score_candidates(session, person_from_form(data), exclude_patient_id)[:limit]
    if not top:
        return []
    # The clerk is shown names, dates and MRNs: the allergies (eagerly loaded elsewhere) can wait.
    patients = {p.id: p for p in session.scalars(select(Patient).where(Patient.id.in_([i for i, _ in top]))
                                                 .options(lazyload(Patient.allergies)))}
    return [DuplicateMatch(patients[i], c.score, list(c.reasons), {k: str(v) for k, v in c.levels.items()})
            for i, c in top]


def record_candidate(
    session: DbSession, actor: Actor, one: Patient, other: Patient, score: float,
    reasons: list[str], source: str, override_reason: str | None = None,
) -> DuplicateCandidate:
    """Put a pair on the supervisor's worklist, or refresh it if it is there. A pair the
    supervisor already judged (not a duplicate, or merged) keeps that judgement."""
    a_id, b_id = sorted((one.id, other.id))
    if a_id == b_id:
        raise ValueError("a record is not a duplicate of itself")
    candidate = session.scalar(select(DuplicateCandidate).where(
        DuplicateCandidate.patient_a_id == a_id, DuplicateCandidate.patient_b_id == b_id))
    if candidate is None:
        candidate = DuplicateCandidate(
            patient_a_id=a_id, patient_b_id=b_id, score=score, reasons=list(reasons), status="open",
            source=source, override_reason=override_reason, detected_by_id=actor.id,
            detected_by_label=actor.label)
        session.add(candidate)
        action = "duplicate_candidate.recorded"
    elif candidate.status == "open":
        candidate.score, candidate.reasons, candidate.source = score, list(reasons), source
        if override_reason:
            candidate.override_reason = override_reason
        action = "duplicate_candidate.updated"
    else:
        return candidate
    session.flush()
    audit.record(session, actor, action, candidate, patient_id=one.id, reason=override_reason,
                 after={"pair": [a_id, b_id], "score": round(score, 4), "source": source})
    return candidate


def record_override(
    session: DbSession, actor: Actor, patient: Patient, matches: list[DuplicateMatch], reason: str,
    *, source: str | None = None,
) -> None:
    """A clerk saved `patient` despite `matches`, for `reason`: keep each pair for the
    supervisor. The source is the registration (the record's first version) or an edit."""
    source = source or ("registration_override" if patient.version == 1 else "edit")
    for match in matches:
        record_candidate(session, actor, patient, match.patient, match.score, match.reasons,
                         source, reason)
