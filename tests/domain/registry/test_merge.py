"""Merge and unmerge: what moves, what is recorded, what is refused, and what a failure leaves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Column, ForeignKey, Integer, String, Table, event, select

from app.core import clock, events
from app.core.audit import AuditEvent
from app.core.db import Base
from app.core.errors import Conflict, DomainError, Forbidden
from app.core.security import SYSTEM, SystemActor
from app.domain.admissions.models import Encounter
from app.domain.patients import services as patients
from app.domain.patients.models import Allergy, BreakGlassGrant, Patient, PatientVersion
from app.domain.registry import services as registry
from app.domain.registry.duplicates import record_candidate
from app.domain.registry.models import DuplicateCandidate, PatientMerge
from tests import factories

SUPERVISOR = SystemActor("registry supervisor")
REASON = "Same person: passport checked at the desk"


@pytest.fixture()
def pair(db_session: Any, make_user: Any) -> tuple[Patient, Patient]:
    """Two records of one woman: the newer one has a typo in the name and a phone."""
    ward = factories.ward(db_session)
    old = factories.patient(db_session, "Okonkwo", "Adaeze", birth_date=date(1979, 4, 2),
                            address_line="1 Old Road", city="Leeds", national_id="QQ123456C")
    new = factories.patient(db_session, "Okonkow", "Adaeze", birth_date=date(1979, 4, 2),
                            phone="07700 900321")
    patients.record_allergy(db_session, SYSTEM, new.id, "Penicillin", severity="severe")
    patients.record_allergy(db_session, SYSTEM, old.id, "Latex")
    factories.admitted(db_session, ward, new)
    nurse = make_user("nurse")
    grant = BreakGlassGrant(user_id=nurse.id, patient_id=new.id, reason="night admission",
                            granted_at=clock.now(), expires_at=clock.now() + timedelta(hours=1))
    db_session.add(grant)
    record_candidate(db_session, SYSTEM, old, new, 0.97, ["same date of birth"], "registration_override", "new")
    db_session.flush()
    return old, new


def _merge(db_session: Any, survivor: Patient, retired: Patient, **kw: Any) -> PatientMerge:
    values = kw.pop("values_from", {"phone": retired.id})
    return registry.merge_patients(db_session, kw.pop("actor", SUPERVISOR), survivor.id, retired.id,
                                   values_from=values, reason=kw.pop("reason", REASON), **kw)


def _owners(db_session: Any, model: Any) -> list[int]:
    return sorted(db_session.scalars(select(model.patient_id)))


def test_a_merge_moves_everything_to_the_survivor(db_session: Any, pair: tuple[Patient, Patient]) -> None:
    old, new = pair
    merge = _merge(db_session, old, new)

    assert _owners(db_session, Allergy) == [old.id, old.id]
    assert _owners(db_session, Encounter) == [old.id]
    assert _owners(db_session, BreakGlassGrant) == [old.id]
    db_session.expire_all()
    assert (new.status, new.merged_into_id) == ("merged", old.id)
    assert (old.status, old.family_name, old.phone, old.phone_e164) == (
        "active", "Okonkwo", "07700 900321", "+447700900321")  # the phone came from the newer record
    assert old.address_line == "1 Old Road" and new.family_name == "Okonkow"  # the retired keeps its own
    assert merge.field_choices["phone"] == "retired" and merge.field_choices["family_name"] == "survivor"
    assert merge.moved_counts() == {"allergy": 1, "break_glass_grant": 1, "encounter": 1}
    assert {"table": "allergy", "column": "patient_id", "pk": {"id": merge.moved_rows[0]["pk"]["id"]}} \
        in merge.moved_rows
    assert merge.retired_before["status"] == "active" and merge.survivor_before["phone"] is None


def test_a_merge_is_recorded_as_an_event_versions_and_audit(db_session: Any, pair: tuple[Patient, Patient]) -> None:
    old, new = pair
    received: list[dict[str, Any]] = []

    def listener(sender: Any, **kw: Any) -> None:
        received.append(kw)

    events.patients_merged.connect(listener)
    try:
        merge = _merge(db_session, old, new)
    finally:
        events.patients_merged.disconnect(listener)
    assert received == [{"merge_id": merge.id, "survivor_id": old.id, "retired_id": new.id}]
    versions = {p: [(v.change, v.reason) for v in db_session.scalars(
        select(PatientVersion).where(PatientVersion.patient_id == p).order_by(PatientVersion.version))]
        for p in (old.id, new.id)}
    assert versions[old.id][-1] == ("merged", REASON) and versions[new.id][-1] == ("merged", REASON)
    audit_rows = {e.action: e for e in db_session.scalars(select(AuditEvent).where(
        AuditEvent.action.in_(["patient.merged", "patient.merged_away"])))}
    assert audit_rows["patient.merged"].patient_id == old.id
    assert audit_rows["patient.merged_away"].patient_id == new.id
    assert json.loads(audit_rows["patient.merged"].after or "{}")["retired_mrn"] == new.mrn
    candidate = db_session.scalar(select(DuplicateCandidate))
    assert (candidate.status, candidate.merge_id) == ("merged", merge.id)


def test_unmerge_restores_both_records_exactly(db_session: Any, pair: tuple[Patient, Patient]) -> None:
    old, new = pair
    before = {p.id: registry.row_snapshot(p) for p in pair}
    allergies = {a.id: a.patient_id for a in db_session.scalars(select(Allergy))}
    merge = _merge(db_session, old, new)
    received: list[dict[str, Any]] = []
    events.patients_unmerged.connect(lambda sender, **kw: received.append(kw), weak=False)
    try:
        registry.unmerge_patients(db_session, SUPERVISOR, merge.id, "Two sisters, not one person")
    finally:
        events.patients_unmerged.receivers.clear()

    db_session.expire_all()
    for p in (old, new):
        after = registry.row_snapshot(p)
        for key in registry.RESTORE_SKIP:
            before[p.id].pop(key), after.pop(key)
        assert after == before[p.id]
        assert p.version > 2  # the lock counter moves on: a stale form stays stale
    assert {a.id: a.patient_id for a in db_session.scalars(select(Allergy))} == allergies
    assert _owners(db_session, Encounter) == [new.id]
    assert _owners(db_session, BreakGlassGrant) == [new.id]
    assert merge.status == "undone" and merge.undo_reason == "Two sisters, not one person"
    changes = [v.change for v in db_session.scalars(select(PatientVersion).where(
        PatientVersion.patient_id == new.id).order_by(PatientVersion.version))]
    assert changes == ["registered", "merged", "unmerged"]
    assert received == [{"merge_id": merge.id, "survivor_id": old.id, "retired_id": new.id}]
    candidate = db_session.scalar(select(DuplicateCandidate))
    assert candidate.status == "open" and candidate.merge_id is None  # back for another look


@pytest.fixture()
def later_table(db_session: Any) -> Iterator[Table]:
    """A table a later issue adds, one row per patient at most (a "patient portal account")."""
    table = Table("zz_portal_account", Base.metadata,
                  Column("id", Integer, primary_key=True),
                  Column("patient_id", ForeignKey("patient.id"), unique=True),
                  Column("login", String(40)))
    table.create(db_session.connection())
    try:
        yield table
    finally:
        Base.metadata.remove(table)


def test_tables_added_later_are_moved_too(db_session: Any, pair: tuple[Patient, Patient], later_table: Table) -> None:
    old, new = pair
    db_session.execute(later_table.insert().values(patient_id=new.id, login="ada79"))
    merge = _merge(db_session, old, new)
    assert db_session.execute(select(later_table.c.patient_id)).scalar_one() == old.id
    assert merge.moved_counts()["zz_portal_account"] == 1
    registry.unmerge_patients(db_session, SUPERVISOR, merge.id, "Merged by mistake, sorry")
    assert db_session.execute(select(later_table.c.patient_id)).scalar_one() == new.id


def test_a_merge_that_fails_halfway_changes_nothing(db_session: Any, pair: tuple[Patient, Patient],
                                                    later_table: Table) -> None:
    old, new = pair
    # Both records have an account: moving the retired one's would break "one per patient".
    db_session.execute(later_table.insert().values(patient_id=old.id, login="ada"))
    db_session.execute(later_table.insert().values(patient_id=new.id, login="ada79"))
    db_session.flush()
    before = {p.id: registry.row_snapshot(p) for p in pair}
    owners = {m: _owners(db_session, m) for m in (Allergy, Encounter, BreakGlassGrant)}
    counts = {m: len(db_session.scalars(select(m)).all()) for m in (AuditEvent, PatientVersion, PatientMerge)}
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.split()[1].strip('"') if statement.startswith("UPDATE") else "")

    engine = db_session.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        with pytest.raises(Conflict, match="zz portal account") as caught:
            _merge(db_session, old, new)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert "Nothing was changed" in caught.value.message
    # It did fail in the middle: the records and some rows had been written before the clash.
    updated = [s for s in statements if s]
    assert updated.index("patient") < updated.index("allergy") < updated.index("zz_portal_account")

    db_session.expire_all()
    assert {p.id: registry.row_snapshot(p) for p in pair} == before
    assert {m: _owners(db_session, m) for m in owners} == owners
    assert {m: len(db_session.scalars(select(m)).all()) for m in counts} == counts


def test_merge_refuses_bad_input_with_the_field_to_fix(db_session: Any, pair: tuple[Patient, Patient]) -> None:
    old, new = pair
    third = factories.patient(db_session, "Third", "Person")
    cases = [
        (dict(reason="same"), "reason"),
        (dict(values_from={"phone": third.id}), "value_phone"),
        (dict(values_from={"mrn": new.id}), "values"),
        (dict(values_from={"favourite_colour": new.id}), "values"),
    ]
    for kwargs, field in cases:
        with pytest.raises(DomainError) as caught:
            _merge(db_session, old, new, **kwargs)
        assert caught.value.field == field and caught.value.status_code == 422
    with pytest.raises(DomainError) as same:
        registry.merge_patients(db_session, SUPERVISOR, old.id, old.id, values_from={}, reason=REASON)
    assert same.value.field == "survivor"
    assert db_session.scalar(select(PatientMerge)) is None


def test_merge_refuses_a_record_changed_since_the_page_was_opened(db_session: Any, pair: tuple[Patient, Patient]) -> None:
    old, new = pair
    seen = {old.id: old.version, new.id: new.version}
    new.city = "York"
    db_session.flush()
    with pytest.raises(Conflict, match="changed after you opened"):
        _merge(db_session, old, new, expected_versions=seen)


def test_a_merged_record_cannot_be_merged_again(db_session: Any, pair: tuple[Patient, Patient]) -> None:
    old, new = pair
    _merge(db_session, old, new)
    with pytest.raises(Conflict, match=f"already been merged into .*{old.mrn}"):
        _merge(db_session, new, old, values_from={})
    third = factories.patient(db_session, "Okonkwo", "Ada")
    with pytest.raises(Conflict, match="already been merged"):
        _merge(db_session, third, new, values_from={})


def test_only_a_registry_supervisor_may_merge(db_session: Any, pair: tuple[Patient, Patient],
                                              make_user: Any) -> None:
    old, new = pair
    clerk, supervisor = make_user("reception"), make_user("registry_supervisor")
    with pytest.raises(Forbidden):
        _merge(db_session, old, new, actor=clerk)
    with pytest.raises(Forbidden):
        registry.open_pairs(db_session, clerk)
    assert _merge(db_session, old, new, actor=supervisor).merged_by_id == supervisor.id


def test_unmerge_is_refused_when_it_cannot_be_exact(db_session: Any, pair: tuple[Patient, Patient]) -> None:
    old, new = pair
    merge = _merge(db_session, old, new)
    # The survivor was itself merged into a third record afterwards.
    third = factories.patient(db_session, "Okonkwo", "Adaeze N.")
    later = _merge(db_session, third, old, values_from={})
    with pytest.raises(Conflict, match="undo that merge first"):
        registry.unmerge_patients(db_session, SUPERVISOR, merge.id, "Two different people")
    registry.unmerge_patients(db_session, SUPERVISOR, later.id, "Two different people")
    # An allergy moved by the merge now belongs to someone else.
    moved_allergy = next(r["pk"]["id"] for r in merge.moved_rows if r["table"] == "allergy")
    db_session.get(Allergy, moved_allergy).patient_id = third.id
    db_session.flush()
    with pytest.raises(Conflict, match="belong to another patient"):
        registry.unmerge_patients(db_session, SUPERVISOR, merge.id, "Two different people")
    db_session.get(Allergy, moved_allergy).patient_id = old.id
    db_session.flush()
    registry.unmerge_patients(db_session, SUPERVISOR, merge.id, "Two different people")
    with pytest.raises(Conflict, match="already undone"):
        registry.unmerge_patients(db_session, SUPERVISOR, merge.id, "Two different people")
    with pytest.raises(DomainError) as short:
        registry.unmerge_patients(db_session, SUPERVISOR, later.id, "oops")
    assert short.value.field == "reason"


def test_unmerge_goes_ahead_when_a_moved_row_was_deleted_since(db_session: Any, pair: tuple[Patient, Patient]) -> None:
    old, new = pair
    merge = _merge(db_session, old, new)
    grant_id = next(r["pk"]["id"] for r in merge.moved_rows if r["table"] == "break_glass_grant")
    db_session.delete(db_session.get(BreakGlassGrant, grant_id))
    db_session.flush()
    registry.unmerge_patients(db_session, SUPERVISOR, merge.id, "Merged the wrong pair")
    db_session.expire_all()
    assert new.status == "active" and _owners(db_session, Allergy) == sorted([old.id, new.id])
    missing = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.unmerge_rows_missing"))
    assert json.loads(missing.after)["rows_deleted_since"] == 1


def test_changes_after_the_merge_are_named_before_an_unmerge(db_session: Any, pair: tuple[Patient, Patient]) -> None:
    old, new = pair
    merge = _merge(db_session, old, new)
    old.city = "Bradford"
    db_session.flush()
    assert registry.changed_since_merge(merge) == ["City"]


def test_the_unmerge_audit_names_the_values_it_overwrote(db_session: Any, pair: tuple[Patient, Patient]) -> None:
    old, new = pair
    merge = _merge(db_session, old, new)
    old.city = "Bradford"  # an edit after the merge, which the unmerge puts back
    db_session.flush()
    registry.unmerge_patients(db_session, SUPERVISOR, merge.id, "Not the same person after all")
    row = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.unmerged"))
    assert row is not None
    before, after = json.loads(row.before or "{}"), json.loads(row.after or "{}")
    assert before["city"] == "Bradford" and after["city"] == "Leeds"
    assert before["phone"] == "07700 900321" and after["phone"] is None


def test_worklist_lists_open_pairs_and_records_the_supervisors_judgement(
        db_session: Any, pair: tuple[Patient, Patient]) -> None:
    old, new = pair
    [listed] = registry.open_pairs(db_session, SUPERVISOR)
    assert {listed.a.id, listed.b.id} == {old.id, new.id}
    rows = {r.name: r for r in listed.rows}
    assert rows["family_name"].level == "close" and rows["family_name"].differs
    assert rows["birth_date"].level == "same" and not rows["birth_date"].differs
    with pytest.raises(DomainError) as no_note:
        registry.dismiss_candidate(db_session, SUPERVISOR, listed.candidate.id, " ")
    assert no_note.value.field == "note"
    registry.dismiss_candidate(db_session, SUPERVISOR, listed.candidate.id, "Twins: checked with GP")
    assert registry.open_pairs(db_session, SUPERVISOR) == [] and registry.count_open(db_session) == 0
    with pytest.raises(Conflict, match="already reviewed"):
        registry.dismiss_candidate(db_session, SUPERVISOR, listed.candidate.id, "again")


def test_a_scan_puts_likely_pairs_on_the_worklist(db_session: Any) -> None:
    a = factories.patient(db_session, "Haddad", "Omar", birth_date=date(1966, 8, 30), sex="male")
    b = factories.patient(db_session, "Omar", "Haddad", birth_date=date(1966, 8, 30), sex="male")
    factories.patient(db_session, "Haddad", "Leila", birth_date=date(1994, 1, 5))
    assert registry.scan_patients(db_session, SUPERVISOR, [a.id]) == 1
    [candidate] = db_session.scalars(select(DuplicateCandidate)).all()
    assert (candidate.patient_a_id, candidate.patient_b_id, candidate.source) == (a.id, b.id, "scan")
    assert "given and family names swapped" in candidate.reasons


def test_every_foreign_key_to_a_patient_is_either_moved_or_deliberately_kept() -> None:
    moved = {(t.name, c.name) for t, c in registry.patient_references()}
    assert {("allergy", "patient_id"), ("encounter", "patient_id"), ("break_glass_grant", "patient_id")} <= moved
    assert not {name for name, _ in moved} & {"patient", "patient_version", "duplicate_candidate", "patient_merge"}

