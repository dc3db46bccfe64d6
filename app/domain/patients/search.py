"""Reception search: one function for every kind of search and every role.

What the clerk typed is understood by `rules.parse_search`; each kind then runs one indexed
query (see the indexes on `Patient` and migration 0004):

- MRN: the unique index; a merged record is shown, marked with the record that absorbed it;
- national id / phone: their indexes (E.164 for phones, whatever way the number was typed);
- name: prefix ranges on the normalised, byte-ordered name columns, in name order, stopping at
  the limit; several readings of the words ("given family", "family given", a family name of
  several words) are a UNION of such ranges;
- name + date of birth, date of birth: the (birth_date, family_norm, given_norm) index;
- typo-tolerant, only when a name search finds nothing: trigram similarity (pg_trgm) on
  PostgreSQL plus the Soundex-style `name_key` block on both databases, ranked by rapidfuzz.

Each result row carries the patient's last visit (latest Encounter.started_at) from a
correlated subquery in the same statement. Ward-scoped staff (nurses) only ever see patients
on their wards, whatever they search for.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from flask import current_app
from rapidfuzz import fuzz, process
from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select, text, union
from sqlalchemy.orm import lazyload

from app.core.db import DbSession
from app.core.errors import DomainError
from app.core.security import Actor, Perm, authorize
from app.domain.admissions.models import Encounter
from app.domain.patients import rules
from app.domain.patients.models import Patient

DEFAULT_LIMIT = 25
FUZZY_MIN_SCORE = 75.0  # rapidfuzz 0..100; "smtih" ~ "smith" scores 80
FUZZY_CANDIDATES = 200
FUZZY_FAMILY_NAMES = 5  # one word typed: patients of this many alike family names
FUZZY_FAMILY_NAMES_EACH = 3  # several words: alike family names per word
FUZZY_PREFIX_NAMES = 1500  # family names sharing the first two letters, at most
FUZZY_INITIAL_NAMES = 8000  # family names sharing the first letter, at most (the widest walk)
# Results do not show allergies: load them only if something asks (never "none recorded").
_ALLERGIES_ON_DEMAND = lazyload(Patient.allergies)
_CANDIDATE = (Patient.id, Patient.family_norm, Patient.given_norm)
_TOP = "\U0010ffff"  # sorts after every character: [p, p + _TOP) is "starts with p"


@dataclass(frozen=True)
class SearchRow:
    patient: Patient
    last_visit: datetime | None
    score: float | None = None  # set for typo-tolerant matches


@dataclass(frozen=True)
class SearchResult:
    """The rows found (at most `limit`); iterating gives the patients themselves."""

    query: rules.SearchQuery
    rows: list[SearchRow]
    more: bool = False  # more matched than were returned: the clerk should narrow the search
    fuzzy: bool = False  # nothing matched exactly; these are close spellings

    @property
    def patients(self) -> list[Patient]:
        return [r.patient for r in self.rows]

    def __iter__(self) -> Iterator[Patient]:
        return iter(self.patients)

    def __len__(self) -> int:
        return len(self.rows)


def parse(text_: str) -> rules.SearchQuery:
    """The query as this hospital's configuration reads it."""
    config = current_app.config
    return rules.parse_search(
        text_, phone_region=config.get("PHONE_REGION") or rules.DEFAULT_PHONE_REGION,
        national_id_format=config.get("NATIONAL_ID_FORMAT") or None,
        date_order=config.get("SEARCH_DATE_ORDER") or "DMY",
    )


def search_patients(
    session: DbSession, actor: Actor, text_: str = "", limit: int = DEFAULT_LIMIT
) -> SearchResult:
    """Patients matching `text_` that the actor may see, best first.

    A wrong MRN check digit or a date that does not exist raises DomainError(field="q")
    before any query runs. An empty search lists the first patients in name order (for a nurse:
    the patients on her wards)."""
    authorize(actor, Perm.PATIENT_READ)
    q = parse(text_)
    if q.problem:
        raise DomainError(q.problem, field="q")
    scope = _scope(actor)
    match = _condition(q)
    if q.kind in ("name", "name_dob") and len(q.names) > 1:
        rows = _union_of_readings(session, q, scope, limit)
    else:
        conditions = [c for c in (match, scope) if c is not None]
        if q.kind != "mrn":  # a retired MRN still answers, marked "merged into"
            conditions.append(Patient.status == "active")
        rows = _rows(session, _ordered(select(Patient.id).where(*conditions)), limit)
    more = len(rows) > limit
    if rows or q.kind not in ("name", "name_dob"):
        return SearchResult(q, rows[:limit], more=more)
    return SearchResult(q, _typo_tolerant(session, q, scope, limit), fuzzy=True)


# --- the exact and prefix searches ---------------------------------------------------------------


def _starts_with(column: Any, prefix: str) -> ColumnElement[bool]:
    return and_(column >= prefix, column < prefix + _TOP)


def _reading(form: rules.NameForm) -> ColumnElement[bool]:
    cond = _starts_with(Patient.family_norm, form.family)
    if form.given:
        cond = and_(cond, _starts_with(Patient.given_norm, form.given))
    return cond


def _condition(q: rules.SearchQuery) -> ColumnElement[bool] | None:
    if q.kind == "mrn":
        return Patient.mrn == q.mrn
    if q.kind in ("national_id", "phone", "number"):
        either = []
        if q.national_id:
            either.append(Patient.national_id == q.national_id)
        if q.phone_e164:
            either.append(Patient.phone_e164 == q.phone_e164)
        return or_(*either)
    if q.kind == "dob":
        return Patient.birth_date == q.birth_date
    if q.kind in ("name", "name_dob") and len(q.names) == 1:
        cond = _reading(q.names[0])
        return and_(Patient.birth_date == q.birth_date, cond) if q.birth_date else cond
    return None


def _scope(actor: Actor) -> ColumnElement[bool] | None:
    """The nurse's rule: patients with an encounter in progress on one of her wards."""
    wards = actor.scoped_ward_ids(Perm.PATIENT_READ)
    if wards is None:
        return None
    on_wards = select(Encounter.patient_id).where(
        Encounter.ward_id.in_(sorted(wards)), Encounter.status == "in-progress")
    return Patient.id.in_(on_wards)


_S = TypeVar("_S", bound=Select)
_Candidates = Select[int, str, str]  # id, family_norm, given_norm


def _ordered(stmt: _S) -> _S:
    return stmt.order_by(Patient.family_norm, Patient.given_norm, Patient.id)


def _union_of_readings(
    session: DbSession, q: rules.SearchQuery, scope: ColumnElement[bool] | None, limit: int
) -> list[SearchRow]:
    """Each reading is its own ordered, limited range scan; their union is ordered again."""
    parts = []
    for form in q.names:
        conditions = [_reading(form), Patient.status == "active"]
        if q.birth_date:
            conditions.append(Patient.birth_date == q.birth_date)
        if scope is not None:
            conditions.append(scope)
        part = _ordered(select(Patient.id).where(*conditions)).limit(limit + 1).subquery()
        parts.append(select(part.c.id))
    ids = union(*parts).subquery()
    return _rows(session, _ordered(select(Patient.id).where(Patient.id.in_(select(ids.c.id)))),
                 limit)


def _rows(session: DbSession, ids: Select[Any], limit: int) -> list[SearchRow]:
    """The patients behind an ordered id query, with their last visit, in one statement."""
    stmt = (ids.with_only_columns(Patient, _last_visit()).limit(limit + 1)
            .options(_ALLERGIES_ON_DEMAND))
    return [SearchRow(p, lv) for p, lv in session.execute(stmt).all()]


# --- typo-tolerant -----------------------------------------------------------------------------


def _typo_tolerant(
    session: DbSession, q: rules.SearchQuery, scope: ColumnElement[bool] | None, limit: int
) -> list[SearchRow]:
    """Close spellings, best first, ranked by rules.name_similarity and cut at FUZZY_MIN_SCORE.

    Candidates always come from an index, never a scan of the register:
    - with a date of birth: everyone born that day (a few dozen even at millions);
    - otherwise, for each word, the closest family names (see _closest_family_names: same
      sound key, else same first letters, read from indexes alone); then the patients with
      those family names whose given name starts like one of the other words;
    - on PostgreSQL, when that finds nobody (a slip in a first letter defeats both), trigram
      similarity on the whole name (pg_trgm's GIN index): slower, so only then.
    """
    conditions: list[ColumnElement[bool]] = [Patient.status == "active"]
    if scope is not None:
        conditions.append(scope)
    if q.birth_date is not None:
        return _ranked(session, q, [select(*_CANDIDATE).where(
            Patient.birth_date == q.birth_date, *conditions).limit(FUZZY_CANDIDATES)], limit)
    rows = _ranked(session, q, _alike_names(session, q.tokens, conditions, limit), limit)
    if not rows and len(q.tokens) > 1:
        rows = _ranked(session, q, _alike_names(session, q.tokens, conditions, limit,
                                                widest=True), limit)
    if not rows and session.get_bind().dialect.name == "postgresql":
        rows = _ranked(session, q, [_trigram(" ".join(q.tokens), conditions)], limit)
    return rows


def _ranked(
    session: DbSession, q: rules.SearchQuery, sources: list[_Candidates], limit: int
) -> list[SearchRow]:
    """Rank candidates on their three name columns; load only the winners whole."""
    candidates: dict[int, tuple[str, str]] = {}
    for source in sources:
        candidates.update((pid, (fam, giv)) for pid, fam, giv in session.execute(source))
    scored = sorted(
        ((rules.name_similarity(q.tokens, fam, giv), fam, giv, pid)
         for pid, (fam, giv) in candidates.items()), key=lambda s: (-s[0], s[1], s[2], s[3]))
    best = {pid: score for score, _f, _g, pid in scored[:limit] if score >= FUZZY_MIN_SCORE}
    if not best:
        return []
    found = session.execute(select(Patient, _last_visit()).where(Patient.id.in_(sorted(best)))
                            .options(_ALLERGIES_ON_DEMAND)).all()
    rows = [SearchRow(p, lv, best[p.id]) for p, lv in found]
    rows.sort(key=lambda r: (-(r.score or 0), r.patient.family_norm, r.patient.given_norm,
                             r.patient.id))
    return rows


def _closest_family_names(
    session: DbSession, word: str, how_many: int, widest: bool = True
) -> list[str]:
    """The family names closest in spelling to `word`, looking ever wider until one is close:
    those that sound like it (same name_key, an index-only read); those starting with its first
    two letters, or its first and third (a dropped or swapped consonant changes the sound key:
    "gacia", "adnerson"); those starting with its first letter (`widest`: when the word must
    be the family name, not when it may be a given name)."""

    def closest(names: Iterable[str]) -> list[str]:
        found = process.extract(word, list(names), scorer=fuzz.ratio, limit=how_many,
                                score_cutoff=FUZZY_MIN_SCORE)
        return [name for name, _score, _i in found]

    key = rules.name_key(word)
    found = closest(session.scalars(
        select(Patient.family_norm).where(Patient.name_key == key).distinct())) if key else []
    if not found and len(word) >= 3:
        starts = dict.fromkeys((word[:2], word[0] + word[2]))
        found = closest(n for prefix in starts
                        for n in _family_names_starting(session, prefix, FUZZY_PREFIX_NAMES))
    if not found and widest and len(word) >= 4:
        found = closest(_family_names_starting(session, word[0], FUZZY_INITIAL_NAMES))
    return found


# The distinct family names in a prefix range, one index probe per name (a "loose index scan"):
# SMITH's fourteen thousand rows at a million patients cost one probe, not fourteen thousand.
_NAMES_STARTING = text("""
WITH RECURSIVE names(n) AS (
    SELECT (SELECT family_norm FROM patient WHERE family_norm >= :lo AND family_norm < :hi
            ORDER BY family_norm LIMIT 1)
    UNION ALL
    SELECT (SELECT family_norm FROM patient WHERE family_norm > names.n AND family_norm < :hi
            ORDER BY family_norm LIMIT 1)
    FROM names WHERE names.n IS NOT NULL
)
SELECT n FROM names WHERE n IS NOT NULL LIMIT :cap
""")


def _family_names_starting(session: DbSession, prefix: str, cap: int) -> list[str]:
    return list(session.scalars(_NAMES_STARTING, {"lo": prefix, "hi": prefix + _TOP, "cap": cap}))


def _alike_names(
    session: DbSession, tokens: tuple[str, ...], conditions: list[ColumnElement[bool]], limit: int,
    widest: bool = False,
) -> list[_Candidates]:
    """One word: the first patients of each of the closest family names. Several: each word in
    turn read as the family name, with a given name starting with the other words' first
    letter (a range of ix_patient_search_name per family name)."""
    if len(tokens) == 1:
        return [_ordered(select(*_CANDIDATE).where(Patient.family_norm == name, *conditions))
                .limit(limit) for name in _closest_family_names(session, tokens[0],
                                                                FUZZY_FAMILY_NAMES)]
    sources = []
    for i, word in enumerate(tokens):
        names = _closest_family_names(session, word, FUZZY_FAMILY_NAMES_EACH, widest=widest)
        if not names:
            continue
        initials = sorted({t[0] for j, t in enumerate(tokens) if j != i})
        sources.append(select(*_CANDIDATE).where(
            Patient.family_norm.in_(names),
            or_(*(_starts_with(Patient.given_norm, c) for c in initials)), *conditions)
            .limit(FUZZY_CANDIDATES * 10))
    return sources


def _trigram(query: str, conditions: list[ColumnElement[bool]]) -> _Candidates:
    full = Patient.family_norm.op("||")(literal(" ")).op("||")(Patient.given_norm)
    return (select(*_CANDIDATE).where(full.op("%")(query), *conditions)
            .order_by(func.similarity(full, query).desc()).limit(FUZZY_CANDIDATES))


def _last_visit() -> Any:
    return (select(func.max(Encounter.started_at))
            .where(Encounter.patient_id == Patient.id).scalar_subquery().label("last_visit"))
