"""Shift handover services: facts, versioned edits with conflicts, acceptance, closing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from app.core import audit
from app.core.errors import Conflict, DomainError, Forbidden
from app.core.security import SYSTEM
from app.domain.admissions.models import Encounter
from app.domain.handover import facts
from app.domain.handover import services as handover
from app.domain.handover.models import HandoverSession
from app.domain.observations.services import record_vitals
from app.domain.patients.services import record_allergy
from tests import factories
from tests.domain.handover.conftest import WardSetup

HIGH_SET = {"respiratory_rate": 25, "spo2": 96, "air_or_oxygen": "air", "systolic": 120,
            "diastolic": 80, "pulse": 80, "consciousness": "A", "temperature": "37.0"}


def _audit(session: Any, action: str) -> list[audit.AuditEvent]:
    return list(session.scalars(select(audit.AuditEvent).where(audit.AuditEvent.action == action)
                                .order_by(audit.AuditEvent.seq)))


def _field(entry: Any, name: str) -> Any:
    return next(f for f in entry.fields if f.field == name)


def test_start_prefills_one_entry_per_inpatient_with_the_facts(db_session: Any, setup: WardSetup) -> None:
    first = setup.encounters[0]
    record_allergy(db_session, SYSTEM, setup.patients[0].id, "Penicillin", "rash", "severe")
    record_vitals(db_session, SYSTEM, first.id, HIGH_SET)
    hs = handover.start_handover(db_session, setup.outgoing, setup.ward.id, "day → night")
    entries = {e.encounter_id: e for e in hs.entries}
    assert set(entries) == {e.id for e in setup.encounters}
    fx = entries[first.id].facts
    assert fx["diagnosis"] == "Community-acquired pneumonia (Handover0)"
    assert fx["allergies"] == [{"substance": "Penicillin", "reaction": "rash", "severity": "severe"}]
    assert fx["news2"]["total"] == 3 and fx["news2"]["band"] and fx["news2"]["single_three"] is True
    assert [a["kind"] for a in fx["alerts"]] == ["news2"] and fx["alerts"][0]["status"] == "open"
    assert fx["doses"]["due_now"] == 0 and fx["doses"]["overdue"] == 0
    # The laboratory does not exist yet: no provider, so no claim that nothing is pending.
    assert "pending_results" not in fx and "pending_results" in facts.MISSING
    other = entries[setup.encounters[1].id].facts
    assert other["news2"] is None and other["alerts"] == [] and other["allergies"] == []
    for entry in hs.entries:
        assert sorted(f.field for f in entry.fields) == sorted(handover.SBAR_FIELDS)
        assert all(f.version == 0 and f.text == "" for f in entry.fields)
        assert entry.outgoing_nurse_id == setup.outgoing.id
    assert len(_audit(db_session, "handover.started")) == 1


def test_facts_registry_takes_a_new_provider(db_session: Any, setup: WardSetup) -> None:
    @facts.provider("pending_results", "Pending lab results", order=60)
    def _lab(session: Any, encounters: list[Any], now: Any) -> dict[int, Any]:
        return {e.id: [{"test": "Full blood count", "ordered_at": now}] for e in encounters}

    try:
        hs = handover.start_handover(db_session, setup.outgoing, setup.ward.id, "day → night")
        results = hs.entries[0].facts["pending_results"]
        assert results[0]["test"] == "Full blood count" and isinstance(results[0]["ordered_at"], str)
    finally:
        facts._PROVIDERS.pop("pending_results")


def test_a_second_start_joins_the_open_session(db_session: Any, setup: WardSetup) -> None:
    hs = handover.start_handover(db_session, setup.outgoing, setup.ward.id, "day → night")
    again = handover.start_handover(db_session, setup.incoming, setup.ward.id, "night → day")
    assert again.id == hs.id and again.shift == "day → night"
    assert db_session.scalar(select(HandoverSession.id).where(
        HandoverSession.ward_id == setup.ward.id).where(HandoverSession.id != hs.id)) is None


def test_start_is_refused_outside_the_nurses_wards_and_for_bad_shift(db_session: Any, setup: WardSetup) -> None:
    elsewhere = factories.staff(db_session, "nurse", [factories.ward(db_session).id])
    with pytest.raises(Forbidden):
        handover.start_handover(db_session, elsewhere, setup.ward.id, "day → night")
    doctor = factories.staff(db_session, "doctor")
    with pytest.raises(Forbidden):
        handover.start_handover(db_session, doctor, setup.ward.id, "day → night")
    with pytest.raises(DomainError) as exc:
        handover.start_handover(db_session, setup.outgoing, setup.ward.id, "  ")
    assert exc.value.field == "shift"


def test_edits_are_versioned_and_audited(db_session: Any, setup: WardSetup) -> None:
    hs = handover.start_handover(db_session, setup.outgoing, setup.ward.id, "day → night")
    entry = hs.entries[0]
    row = handover.edit_field(db_session, setup.outgoing, entry.id, "situation", "Stable overnight.", 0)
    assert (row.version, row.text, row.updated_by_id) == (1, "Stable overnight.", setup.outgoing.id)
    row = handover.edit_field(db_session, setup.incoming, entry.id, "situation", "Stable; for review.", 1)
    assert row.version == 2
    saves = _audit(db_session, "handover.field_saved")
    assert [json.loads(s.before or "{}")["text"] for s in saves] == ["", "Stable overnight."]
    assert [json.loads(s.after or "{}")["text"] for s in saves] == ["Stable overnight.", "Stable; for review."]
    assert saves[0].patient_id == entry.patient_id
    # Other fields are versioned on their own.
    assert handover.edit_field(db_session, setup.incoming, entry.id, "assessment", "NEWS2 3.", 0).version == 1


def test_a_stale_save_is_told_and_shown_the_other_edit(db_session: Any, setup: WardSetup) -> None:
    hs = handover.start_handover(db_session, setup.outgoing, setup.ward.id, "day → night")
    entry = hs.entries[0]
    handover.edit_field(db_session, setup.outgoing, entry.id, "background", "Admitted Monday.", 0)
    with pytest.raises(handover.HandoverConflict) as exc:
        handover.edit_field(db_session, setup.incoming, entry.id, "background", "COPD.", 0)
    conflict = exc.value
    assert conflict.status_code == 409
    assert conflict.message == "Nora Outgoing saved this while you were typing."
    assert (conflict.current_text, conflict.current_version) == ("Admitted Monday.", 1)
    assert conflict.attempted_text == "COPD."
    assert _field(entry, "background").text == "Admitted Monday."  # nothing overwritten
    # Merged and saved on the current version: accepted.
    row = handover.edit_field(db_session, setup.incoming, entry.id, "background",
                              "Admitted Monday. COPD.", conflict.current_version)
    assert row.version == 2


def test_bad_edits_are_refused(db_session: Any, setup: WardSetup) -> None:
    hs = handover.start_handover(db_session, setup.outgoing, setup.ward.id, "day → night")
    entry = hs.entries[0]
    with pytest.raises(DomainError, match="Situation, Background"):
        handover.edit_field(db_session, setup.outgoing, entry.id, "plan", "x", 0)
    with pytest.raises(DomainError, match="4000"):
        handover.edit_field(db_session, setup.outgoing, entry.id, "situation", "x" * 4001, 0)
    elsewhere = factories.staff(db_session, "nurse", [factories.ward(db_session).id])
    with pytest.raises(Forbidden):
        handover.edit_field(db_session, elsewhere, entry.id, "situation", "x", 0)


def test_incoming_nurse_accepts_and_becomes_responsible(db_session: Any, setup: WardSetup) -> None:
    hs = handover.start_handover(db_session, setup.outgoing, setup.ward.id, "day → night")
    entry = hs.entries[0]
    with pytest.raises(DomainError, match="incoming nurse"):
        handover.accept_entry(db_session, setup.outgoing, entry.id)
    accepted = handover.accept_entry(db_session, setup.incoming, entry.id)
    assert accepted.accepted_by_id == setup.incoming.id and accepted.accepted_at is not None
    assert db_session.get(Encounter, entry.encounter_id).nurse_id == setup.incoming.id
    rows = _audit(db_session, "handover.accepted")
    assert len(rows) == 1 and rows[0].actor_id == setup.incoming.id and rows[0].patient_id == entry.patient_id
    with pytest.raises(Conflict, match="already"):
        handover.accept_entry(db_session, setup.charge, entry.id)


def test_close_lists_unaccepted_patients_unless_told(db_session: Any, setup: WardSetup) -> None:
    hs = handover.start_handover(db_session, setup.outgoing, setup.ward.id, "day → night")
    first, second = hs.entries
    handover.accept_entry(db_session, setup.incoming, first.id)
    with pytest.raises(DomainError) as exc:
        handover.close_handover(db_session, setup.charge, hs.id)
    assert second.patient.name in exc.value.message and first.patient.name not in exc.value.message
    closed = handover.close_handover(db_session, setup.charge, hs.id, with_unaccepted=True)
    assert closed.status == "closed" and closed.closed_at is not None
    row = _audit(db_session, "handover.closed")[0]
    assert second.patient.name in (row.after or "") and row.reason
    with pytest.raises(Conflict):
        handover.edit_field(db_session, setup.incoming, first.id, "situation", "late", 0)
    # The ward may start its next handover.
    assert handover.start_handover(db_session, setup.incoming, setup.ward.id, "night → day").id != hs.id


def test_close_when_all_accepted(db_session: Any, setup: WardSetup) -> None:
    hs = handover.start_handover(db_session, setup.outgoing, setup.ward.id, "day → night")
    for e in hs.entries:
        handover.accept_entry(db_session, setup.incoming, e.id)
    assert handover.close_handover(db_session, setup.incoming, hs.id).status == "closed"


def test_patients_admitted_later_are_added_and_facts_refreshed(db_session: Any, setup: WardSetup) -> None:
    hs = handover.start_handover(db_session, setup.outgoing, setup.ward.id, "day → night")
    late = factories.admitted(db_session, setup.ward, factories.patient(db_session, family="Latecomer"))
    record_vitals(db_session, SYSTEM, setup.encounters[1].id, HIGH_SET)
    added = handover.add_admitted(db_session, setup.outgoing, hs.id)
    assert [e.patient_id for e in added] == [late.id]
    assert handover.add_admitted(db_session, setup.outgoing, hs.id) == []
    assert handover.refresh_facts(db_session, setup.outgoing, hs.id) == 3
    refreshed = next(e for e in hs.entries if e.encounter_id == setup.encounters[1].id)
    assert refreshed.facts["news2"]["total"] == 3
    assert _audit(db_session, "handover.patients_added") and _audit(db_session, "handover.facts_refreshed")
