"""The supervisor's side of duplicate control: the worklist, merge and unmerge.

A merge moves everything that points at the retired record to the survivor. It does so
generically: every foreign key to patient.id in the metadata is followed, so tables that later
issues add (appointments, queue tickets, orders, invoices) are covered without a change here.
A column opts out with `info={"patient_merge": "keep"}` (the worklist and merges themselves);
the record's own history (patient_version) always stays with its record. Every moved row is
recorded (table, column, primary key) so unmerge can move exactly those rows back.

Both records are locked (SELECT ... FOR UPDATE, lower id first) before anything is read for the
decision, so two supervisors merging the same pair, or A into B while another merges B into A,
are serialised: the second sees the first's result and is told so. Everything happens in one
savepoint: a failure anywhere (a row that may exist only once per patient, say) leaves both
records and every row as they were.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Table,
    TypeDecorator,
    and_,
    func,
    inspect,
    or_,
    select,
    tuple_,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement

from app.core import audit, clock, events
from app.core.db import Base, DbSession
from app.core.errors import Conflict, DomainError, NotFound
from app.core.security import Actor, Perm, authorize
from app.domain.patients import history
from app.domain.patients import rules as patient_rules
from app.domain.patients.models import Patient
from app.domain.registry import rules
from app.domain.registry.duplicates import person_from_patient, record_candidate, score_candidates
from app.domain.registry.models import DuplicateCandidate, PatientMerge

MIN_REASON = 10
MIN_NOTE = 3
# Patient columns that are not the person's details: identity of the row, bookkeeping, and
# columns derived from other columns (recomputed when those are set).
NOT_CHOOSABLE = frozenset({
    "id", "mrn", "version", "created_at", "updated_at", "status", "merged_into_id",
    "family_norm", "given_norm", "name_key", "phone_e164",
})
# Columns an unmerge does not put back: the row's identity and its optimistic-lock counter,
# which only ever goes up (a form opened before the merge must still be refused after it).
RESTORE_SKIP = frozenset({"id", "version", "created_at", "updated_at"})
# Tables whose rows belong to the record itself, not to the person: they never move.
KEPT_TABLES = frozenset({"patient", "patient_version"})


# --- worklist ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRow:
    name: str
    label: str
    a: Any
    b: Any
    level: str  # same | close | partial | different | missing (rules.Level)

    @property
    def differs(self) -> bool:
        return self.a != self.b


@dataclass(frozen=True)
class Pair:
    a: Patient
    b: Patient
    comparison: rules.Comparison
    candidate: DuplicateCandidate | None = None

    @property
    def rows(self) -> list[FieldRow]:
        return [FieldRow(name, field_label(name), getattr(self.a, name), getattr(self.b, name),
                         str(self.comparison.levels.get(name, "")))
                for name in merge_fields()]


def field_label(name: str) -> str:
    return history.FIELD_LABELS.get(name) or name.replace("_", " ").capitalize()


def merge_fields() -> list[str]:
    """The patient columns whose value a merge chooses, in table order. New columns added to
    Patient by later issues are offered automatically."""
    return [attr.key for attr in inspect(Patient).column_attrs if attr.key not in NOT_CHOOSABLE]


def open_pairs(session: DbSession, actor: Actor, limit: int = 50) -> list[Pair]:
    """Open pairs on the worklist, likeliest first. Pairs with a merged record drop out (they
    come back if that merge is undone)."""
    authorize(actor, Perm.PATIENT_MERGE)
    a, b = aliased(Patient), aliased(Patient)
    rows = session.execute(
        select(DuplicateCandidate, a, b)
        .join(a, a.id == DuplicateCandidate.patient_a_id)
        .join(b, b.id == DuplicateCandidate.patient_b_id)
        .where(DuplicateCandidate.status == "open", a.status == "active", b.status == "active")
        .order_by(DuplicateCandidate.score.desc(), DuplicateCandidate.id)
        .limit(limit)
    ).all()
    return [Pair(pa, pb, rules.compare(person_from_patient(pa), person_from_patient(pb)), c)
            for c, pa, pb in rows]


def count_open(session: DbSession) -> int:
    a, b = aliased(Patient), aliased(Patient)
    return session.scalar(
        select(func.count()).select_from(DuplicateCandidate)
        .join(a, a.id == DuplicateCandidate.patient_a_id)
        .join(b, b.id == DuplicateCandidate.patient_b_id)
        .where(DuplicateCandidate.status == "open", a.status == "active", b.status == "active")
    ) or 0


def get_candidate(session: DbSession, actor: Actor, candidate_id: int) -> DuplicateCandidate:
    authorize(actor, Perm.PATIENT_MERGE)
    candidate = session.get(DuplicateCandidate, candidate_id)
    if candidate is None:
        raise NotFound("No such pair on the worklist.")
    return candidate


def dismiss_candidate(session: DbSession, actor: Actor, candidate_id: int, note: str) -> DuplicateCandidate:
    """The supervisor judged the pair to be two people ("twins", "father and son")."""
    candidate = get_candidate(session, actor, candidate_id)
    note = (note or "").strip()
    if len(note) < MIN_NOTE:
        raise DomainError("Say why these are two different people.", field="note")
    if candidate.status != "open":
        raise Conflict(f"{candidate.reviewed_by_label or 'Someone'} already reviewed this pair.")
    candidate.status = "not_duplicate"
    candidate.note = note
    candidate.reviewed_by_id, candidate.reviewed_by_label = actor.id, actor.label
    candidate.reviewed_at = clock.now()
    session.flush()
    audit.record(session, actor, "duplicate_candidate.dismissed", candidate,
                 patient_id=candidate.patient_a_id, reason=note,
                 after={"pair": [candidate.patient_a_id, candidate.patient_b_id],
                        "status": candidate.status})
    return candidate


def compare_pair(session: DbSession, actor: Actor, one_id: int, other_id: int) -> Pair:
    """Two records side by side, scored, for the merge screen."""
    authorize(actor, Perm.PATIENT_MERGE)
    if one_id == other_id:
        raise DomainError("Choose two different records.", field="survivor")
    patients = {p.id: p for p in session.scalars(select(Patient).where(Patient.id.in_([one_id, other_id])))}
    if len(patients) != 2:
        raise NotFound("No such patient.")
    a, b = patients[one_id], patients[other_id]
    for p in (a, b):
        authorize(actor, Perm.PATIENT_MERGE, p)
    low, high = sorted((one_id, other_id))
    candidate = session.scalar(select(DuplicateCandidate).where(
        DuplicateCandidate.patient_a_id == low, DuplicateCandidate.patient_b_id == high))
    return Pair(a, b, rules.compare(person_from_patient(a), person_from_patient(b)), candidate)


def patient_by_mrn(session: DbSession, actor: Actor, mrn: str, field: str) -> Patient:
    """The record with this MRN, for comparing two records found outside the worklist. The
    check digit is checked before any lookup."""
    authorize(actor, Perm.PATIENT_MERGE)
    mrn = "".join((mrn or "").split())
    problem = patient_rules.mrn_problem(mrn)
    if problem:
        raise DomainError(problem, field=field)
    patient = session.scalar(select(Patient).where(Patient.mrn == mrn))
    if patient is None:
        raise DomainError("No patient has this MRN.", field=field)
    return patient


def scan_patients(session: DbSession, actor: Actor, patient_ids: list[int]) -> int:
    """Check these records against the register and put every likely pair on the worklist
    (source "scan"). Returns the number of pairs found."""
    authorize(actor, Perm.PATIENT_MERGE)
    found = 0
    for patient in session.scalars(select(Patient).where(Patient.id.in_(patient_ids),
                                                         Patient.status == "active")):
        for other_id, comparison in score_candidates(session, person_from_patient(patient), patient.id):
            other = session.get(Patient, other_id)
            assert other is not None
            record_candidate(session, actor, patient, other, comparison.score,
                             list(comparison.reasons), "scan")
            found += 1
    return found


def scan_recent(session: DbSession, actor: Actor, since: datetime) -> int:
    """Scan the records registered or changed since `since`."""
    ids = list(session.scalars(select(Patient.id).where(Patient.updated_at >= since,
                                                        Patient.status == "active")))
    return scan_patients(session, actor, ids)


# --- merge -------------------------------------------------------------------------------------


def patient_references() -> list[tuple[Table, Column[Any]]]:
    """Every (table, column) whose foreign key points at patient.id and whose rows follow the
    person in a merge."""
    refs: list[tuple[Table, Column[Any]]] = []
    for table in Base.metadata.sorted_tables:
        if table.name in KEPT_TABLES:
            continue
        for fk in sorted(table.foreign_keys, key=lambda f: f.parent.name):
            if fk.column.table.name == "patient" and fk.column.name == "id" \
                    and fk.parent.info.get("patient_merge") != "keep":
                refs.append((table, fk.parent))
    return refs


def _version_column(table: Table) -> ColumnElement[Any] | None:
    """The optimistic-lock column of the model mapped to `table`, if it has one: a moved row
    counts as changed, so a form opened before the merge is refused after it."""
    for mapper in Base.registry.mappers:
        if mapper.local_table is table and mapper.version_id_col is not None:
            return mapper.version_id_col
    return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return clock.to_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _from_json(column: Any, value: Any) -> Any:
    if value is None:
        return None
    sql_type = column.type
    if isinstance(sql_type, TypeDecorator):  # UTCDateTime stores through a DateTime
        sql_type = sql_type.impl_instance
    if isinstance(sql_type, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(sql_type, Date):
        return date.fromisoformat(value)
    return value


def row_snapshot(patient: Patient) -> dict[str, Any]:
    """Every column of the patient row, as JSON values."""
    return {attr.key: _jsonable(getattr(patient, attr.key)) for attr in inspect(Patient).column_attrs}


def _restore(patient: Patient, snapshot: Mapping[str, Any]) -> None:
    columns = {attr.key: attr.columns[0] for attr in inspect(Patient).column_attrs}
    values = {k: _from_json(columns[k], v) for k, v in snapshot.items()
              if k in columns and k not in RESTORE_SKIP}
    for key, value in values.items():
        setattr(patient, key, value)
    # Setting a name or phone recomputes its search columns; put back what was stored, exactly.
    for key, value in values.items():
        if getattr(patient, key) != value:
            setattr(patient, key, value)


def _lock_pair(session: DbSession, one_id: int, other_id: int) -> tuple[Patient, Patient]:
    """Both patients, locked lower id first (so two merges of one pair cannot deadlock) and
    re-read, so that a merge committed while we waited is seen."""
    rows = {p.id: p for p in session.scalars(
        select(Patient).where(Patient.id.in_([one_id, other_id])).order_by(Patient.id)
        .with_for_update().execution_options(populate_existing=True))}
    if one_id not in rows or other_id not in rows:
        raise NotFound("No such patient.")
    return rows[one_id], rows[other_id]


def _describe(patient: Patient) -> str:
    return f"{patient.name} (MRN {patient.mrn})"


def _merged_message(patient: Patient) -> str:
    target = patient.merged_into
    where = f" into {_describe(target)}" if target is not None else ""
    return (f"{_describe(patient)} has already been merged{where}, perhaps by someone else just "
            "now. Nothing was changed: reload the worklist.")


_UPDATE_TABLE = re.compile(r"UPDATE\s+\"?(\w+)\"?", re.IGNORECASE)


def _integrity_message(exc: IntegrityError, verb: str) -> str:
    if "uq_patient_merge_active_retired" in str(exc.orig):
        return ("One of these records has just been merged by someone else. Nothing was changed: "
                "reload the worklist.")
    match = _UPDATE_TABLE.search(str(exc.statement or ""))
    what = f"their {match.group(1).replace('_', ' ')} records" if match else "their records"
    return (f"These records cannot be {verb}: {what} would clash (something that may exist only "
            "once per patient exists on both). Resolve that first. Nothing was changed.")


def move_references(session: DbSession, from_id: int, to_id: int) -> list[dict[str, Any]]:
    """Point every row that refers to patient `from_id` at `to_id`; return which rows moved."""
    moved: list[dict[str, Any]] = []
    for table, column in patient_references():
        pk = list(table.primary_key.columns)
        values: dict[str, Any] = {column.name: to_id}
        version = _version_column(table)
        if version is not None:
            values[version.name] = version + 1
        result = session.execute(table.update().where(column == from_id).values(values).returning(*pk))
        for row in result:
            moved.append({"table": table.name, "column": column.name,
                          "pk": {c.name: _jsonable(row[i]) for i, c in enumerate(pk)}})
    return moved


def merge_patients(
    session: DbSession, actor: Actor, survivor_id: int, retired_id: int, *,
    values_from: Mapping[str, int], reason: str,
    expected_versions: Mapping[int, int] | None = None,
) -> PatientMerge:
    """Merge the retired record into the survivor.

    `values_from` says, per field, which record's value the survivor keeps (a patient id; a
    field not named keeps the survivor's). `expected_versions` ({patient id: version}) are the
    versions the supervisor looked at: if either record changed since, Conflict. The retired
    record keeps its own values, becomes "merged" and points at the survivor; everything that
    pointed at it points at the survivor. Recorded as a PatientMerge (the ADT^A40 event), a
    version of each record, and the audit trail."""
    authorize(actor, Perm.PATIENT_MERGE)
    reason = (reason or "").strip()
    if survivor_id == retired_id:
        raise DomainError("Choose two different records.", field="survivor")
    fields = merge_fields()
    unknown = sorted(set(values_from) - set(fields))
    if unknown:
        raise DomainError(f"Unknown field: {', '.join(unknown)}.", field="values")
    wrong = sorted(f for f, pid in values_from.items() if pid not in (survivor_id, retired_id))
    if wrong:
        raise DomainError(f"Choose one of the two records for {field_label(wrong[0]).lower()}.",
                          field=f"value_{wrong[0]}")
    if len(reason) < MIN_REASON:
        raise DomainError(f"Say why these records are one person (at least {MIN_REASON} characters).",
                          field="reason")

    survivor, retired = _lock_pair(session, survivor_id, retired_id)
    for patient in (survivor, retired):
        authorize(actor, Perm.PATIENT_MERGE, patient)
        if patient.status != "active":
            raise Conflict(_merged_message(patient))
    for patient in (survivor, retired):
        expected = (expected_versions or {}).get(patient.id)
        if expected is not None and expected != patient.version:
            raise Conflict(f"{_describe(patient)} was changed after you opened this page. "
                           "Nothing was merged: review the records again.")

    choices = {f: ("retired" if values_from.get(f) == retired.id else "survivor") for f in fields}
    survivor_before, retired_before = row_snapshot(survivor), row_snapshot(retired)
    try:
        with session.begin_nested():
            for name, source in choices.items():
                if source == "retired":
                    setattr(survivor, name, getattr(retired, name))
            retired.status, retired.merged_into_id = "merged", survivor.id
            session.flush()
            moved = move_references(session, retired.id, survivor.id)
            # Rows moved behind the ORM's back: forget what it holds so nothing stale is used.
            session.expire_all()
            merge = PatientMerge(
                survivor_id=survivor.id, retired_id=retired.id, status="active", reason=reason,
                field_choices=choices, survivor_before=survivor_before,
                retired_before=retired_before, survivor_after=row_snapshot(survivor),
                moved_rows=moved, merged_by_id=actor.id, merged_by_label=actor.label,
                merged_at=clock.now())
            session.add(merge)
            session.flush()
            _record(session, actor, merge, "merged", reason)
            _close_candidate(session, actor, merge)
    except IntegrityError as exc:
        raise Conflict(_integrity_message(exc, "merged")) from None
    events.patients_merged.send(session, merge_id=merge.id, survivor_id=merge.survivor_id,
                                retired_id=merge.retired_id)
    return merge


def _record(session: DbSession, actor: Actor, merge: PatientMerge, change: str, reason: str,
            survivor_was: dict[str, Any] | None = None) -> None:
    """A version of each record and an audit row on each patient's trail. `survivor_was`: the
    survivor as it stood just before an unmerge (it may have been edited since the merge)."""
    survivor, retired = merge.survivor, merge.retired
    history.record_version(session, actor, survivor, change=change, reason=reason)
    history.record_version(session, actor, retired, change=change, reason=reason)
    summary = {"merge_id": merge.id, "survivor_mrn": survivor.mrn, "retired_mrn": retired.mrn,
               "moved": merge.moved_counts()}
    if change == "merged":
        before, after = audit.diff(merge.survivor_before, merge.survivor_after)
        audit.record(session, actor, "patient.merged", merge, patient_id=survivor.id, reason=reason,
                     before=before, after={**after, **summary, "field_choices": merge.field_choices})
        audit.record(session, actor, "patient.merged_away", merge, patient_id=retired.id,
                     reason=reason, before={"status": "active"}, after={"status": "merged", **summary})
    else:
        before, after = audit.diff(survivor_was or merge.survivor_after, merge.survivor_before)
        audit.record(session, actor, "patient.unmerged", merge, patient_id=survivor.id,
                     reason=reason, before=before, after={**after, **summary})
        audit.record(session, actor, "patient.unmerged_restored", merge, patient_id=retired.id,
                     reason=reason, before={"status": "merged"}, after={"status": "active", **summary})


def _pair_candidate(session: DbSession, merge: PatientMerge) -> DuplicateCandidate | None:
    low, high = sorted((merge.survivor_id, merge.retired_id))
    return session.scalar(select(DuplicateCandidate).where(
        DuplicateCandidate.patient_a_id == low, DuplicateCandidate.patient_b_id == high))


def _close_candidate(session: DbSession, actor: Actor, merge: PatientMerge) -> None:
    candidate = _pair_candidate(session, merge)
    if candidate is None:
        return
    candidate.status, candidate.merge_id = "merged", merge.id
    candidate.reviewed_by_id, candidate.reviewed_by_label = actor.id, actor.label
    candidate.reviewed_at = clock.now()
    session.flush()


# --- unmerge -----------------------------------------------------------------------------------


def get_merge(session: DbSession, actor: Actor, merge_id: int) -> PatientMerge:
    authorize(actor, Perm.PATIENT_MERGE)
    merge = session.get(PatientMerge, merge_id)
    if merge is None:
        raise NotFound("No such merge.")
    return merge


def recent_merges(session: DbSession, actor: Actor, limit: int = 50) -> list[PatientMerge]:
    authorize(actor, Perm.PATIENT_MERGE)
    return list(session.scalars(select(PatientMerge).order_by(PatientMerge.merged_at.desc(),
                                                              PatientMerge.id.desc()).limit(limit)))


def merges_of(session: DbSession, actor: Actor, patient_id: int) -> list[PatientMerge]:
    """Every merge this record took part in, as survivor or retired, newest first."""
    authorize(actor, Perm.PATIENT_MERGE)
    return list(session.scalars(
        select(PatientMerge)
        .where(or_(PatientMerge.survivor_id == patient_id, PatientMerge.retired_id == patient_id))
        .order_by(PatientMerge.merged_at.desc(), PatientMerge.id.desc())))


def changed_since_merge(merge: PatientMerge) -> list[str]:
    """Labels of the survivor's fields edited after the merge: an unmerge puts them back."""
    current = row_snapshot(merge.survivor)
    return [field_label(f) for f in merge_fields()
            if current.get(f) != merge.survivor_after.get(f)]


def unmerge_obstacle(session: DbSession, merge: PatientMerge) -> str | None:
    """Why this merge cannot be undone now, or None."""
    if merge.status != "active":
        when = clock.to_utc(merge.undone_at).strftime("%Y-%m-%d %H:%M UTC") if merge.undone_at else ""
        return f"This merge was already undone by {merge.undone_by_label} {when}.".replace(" .", ".")
    survivor, retired = merge.survivor, merge.retired
    if survivor.status != "active":
        later = session.scalar(select(PatientMerge).where(
            PatientMerge.retired_id == survivor.id, PatientMerge.status == "active"))
        which = f" (merge #{later.id})" if later is not None else ""
        return (f"{_describe(survivor)} has since been merged into another record{which}: undo that "
                "merge first.")
    if retired.status != "merged" or retired.merged_into_id != survivor.id:
        return f"{_describe(retired)} is no longer merged into {_describe(survivor)}."
    return None


def _move_back(session: DbSession, merge: PatientMerge) -> int:
    """Move the rows this merge moved back to the retired record. Rows deleted since are
    skipped (counted); a row that now belongs to a third record makes the unmerge impossible."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in merge.moved_rows:
        groups.setdefault((row["table"], row["column"]), []).append(row["pk"])
    missing = 0
    for (table_name, column_name), pks in groups.items():
        table = Base.metadata.tables.get(table_name)
        if table is None or column_name not in table.c:
            missing += len(pks)
            continue
        column = table.c[column_name]
        pk_cols = list(table.primary_key.columns)
        keys = [tuple(_from_json(c, pk[c.name]) for c in pk_cols) for pk in pks]
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            match = (pk_cols[0].in_([k[0] for k in chunk]) if len(pk_cols) == 1
                     else tuple_(*pk_cols).in_(chunk))
            values: dict[str, Any] = {column.name: merge.retired_id}
            version = _version_column(table)
            if version is not None:
                values[version.name] = version + 1
            moved = session.execute(table.update().where(and_(match, column == merge.survivor_id))
                                    .values(values).returning(*pk_cols)).all()
            if len(moved) == len(chunk):
                continue
            elsewhere = session.scalar(select(func.count()).select_from(table).where(
                match, column != merge.survivor_id))
            if elsewhere:
                raise Conflict(
                    f"{elsewhere} {table_name.replace('_', ' ')} record(s) moved by this merge now "
                    "belong to another patient; undoing the merge would take them away. Nothing "
                    "was changed.")
            missing += len(chunk) - len(moved)
    return missing


def unmerge_patients(session: DbSession, actor: Actor, merge_id: int, reason: str) -> PatientMerge:
    """Undo a merge: both records exactly as they were before it (every column but the row's
    version counter, which moves on), the moved rows back on the retired record, a version of
    each record and the audit trail. Rows added to the survivor after the merge stay with it."""
    authorize(actor, Perm.PATIENT_MERGE)
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise DomainError(f"Say why the merge is being undone (at least {MIN_REASON} characters).",
                          field="reason")
    merge = session.scalar(select(PatientMerge).where(PatientMerge.id == merge_id)
                           .with_for_update().execution_options(populate_existing=True))
    if merge is None:
        raise NotFound("No such merge.")
    survivor, retired = _lock_pair(session, merge.survivor_id, merge.retired_id)
    for patient in (survivor, retired):
        authorize(actor, Perm.PATIENT_MERGE, patient)
    obstacle = unmerge_obstacle(session, merge)
    if obstacle:
        raise Conflict(obstacle)
    try:
        with session.begin_nested():
            missing = _move_back(session, merge)
            session.expire_all()
            survivor_was = row_snapshot(merge.survivor)
            _restore(merge.survivor, merge.survivor_before)
            _restore(merge.retired, merge.retired_before)
            merge.status = "undone"
            merge.undone_by_id, merge.undone_by_label = actor.id, actor.label
            merge.undone_at, merge.undo_reason = clock.now(), reason
            session.flush()
            _record(session, actor, merge, "unmerged", reason, survivor_was=survivor_was)
            if missing:
                audit.record(session, actor, "patient.unmerge_rows_missing", merge,
                             patient_id=merge.retired_id, after={"rows_deleted_since": missing})
            candidate = _pair_candidate(session, merge)
            if candidate is not None and candidate.merge_id == merge.id:
                # Back on the worklist: the supervisor decides again, now knowing more.
                candidate.status, candidate.merge_id = "open", None
                candidate.note = f"Merge undone: {reason}"
                session.flush()
    except IntegrityError as exc:
        raise Conflict(_integrity_message(exc, "unmerged")) from None
    events.patients_unmerged.send(session, merge_id=merge.id, survivor_id=merge.survivor_id,
                                  retired_id=merge.retired_id)
    return merge
