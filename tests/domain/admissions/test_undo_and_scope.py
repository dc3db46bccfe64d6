"""A cancelled step puts back exactly what it changed; a transfer needs the receiving ward's
consent; a finished stay stays open to the ward only for DISCHARGE_UNDO_HOURS; the discharge
summary keeps its history; the admission search says where a patient is only within scope."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import current_app
from sqlalchemy import select

from app.core import clock, jobs
from app.core.audit import AuditEvent
from app.core.errors import Conflict, DomainError, Forbidden
from app.domain.admissions import adt
from app.domain.admissions.models import Encounter
from app.domain.facilities import beds
from app.domain.facilities.models import Bed, BedReservation
from tests import factories
from tests.domain.admissions.test_adt import _admit


def _state(session: Any, encounter_id: int) -> dict[str, Any]:
    """Everything a step may change: the stay, every bed, every reservation and its due row."""
    session.flush()
    session.expire_all()
    e = session.get(Encounter, encounter_id)
    return {
        "encounter": {c: getattr(e, c) for c in (
            "status", "ward_id", "bed_id", "nurse_id", "ended_at", "discharge_ordered_at",
            "discharge_ordered_by_id", "discharge_disposition", "expected_discharge_on")},
        "periods": [(p.ward_id, p.bed_id, p.status) for p in e.locations if p.status != "cancelled"],
        "beds": dict(session.execute(select(Bed.id, Bed.state)).all()),
        "reservations": dict(session.execute(select(BedReservation.id, BedReservation.status)).all()),
        "due": dict(session.execute(select(jobs.DueJob.dedupe_key, jobs.DueJob.status)
                                    .where(jobs.DueJob.dedupe_key.like("bed-reservation:%"))).all()),
    }


def _audit(session: Any, action: str) -> AuditEvent:
    return session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                           .order_by(AuditEvent.seq.desc())).first()


# --- 1. a transfer needs the receiving ward's consent -------------------------------------

def test_a_nurse_transfers_to_a_bed_the_other_ward_reserved_for_this_patient(
        db_session: Any, world: dict[str, Any]) -> None:
    e = _admit(db_session, world)
    target = world["other_beds"][0]
    r = beds.reserve_bed(db_session, world["charge"], target, patient_id=world["patient"].id)
    adt.transfer(db_session, world["nurse"], e.id, target)  # her ward is only the sending one
    assert (e.ward_id, e.bed_id) == (world["other"].id, target)
    assert db_session.get(BedReservation, r.id).status == "used"


def test_a_nurse_cannot_send_a_patient_into_a_free_bed_on_a_ward_not_hers(
        db_session: Any, world: dict[str, Any]) -> None:
    e = _admit(db_session, world)
    before = _state(db_session, e.id)
    with pytest.raises(Forbidden):
        adt.transfer(db_session, world["nurse"], e.id, world["other_beds"][0])
    assert _state(db_session, e.id) == before
    # A bed reserved there for someone else is no consent either.
    beds.reserve_bed(db_session, world["charge"], world["other_beds"][1],
                     patient_id=factories.patient(db_session, family="Other").id)
    with pytest.raises(Forbidden):
        adt.transfer(db_session, world["nurse"], e.id, world["other_beds"][1])
    # Within both wards' scope the charge nurse moves the patient anywhere free.
    adt.transfer(db_session, world["charge"], e.id, world["other_beds"][0])
    assert e.ward_id == world["other"].id


def test_the_transfer_picker_offers_only_beds_the_actor_may_send_to(
        db_session: Any, world: dict[str, Any]) -> None:
    e = _admit(db_session, world)
    offered = {b.id for b in adt.transfer_beds(db_session, world["nurse"], e)}
    assert offered == set(world["beds"][1:])
    beds.reserve_bed(db_session, world["charge"], world["other_beds"][0], patient_id=world["patient"].id)
    offered = {b.id for b in adt.transfer_beds(db_session, world["nurse"], e)}
    assert offered == set(world["beds"][1:]) | {world["other_beds"][0]}


# --- 2. the discharge summary keeps its history -----------------------------------------

def test_the_summary_is_audited_and_an_earlier_one_survives_a_cancelled_discharge(
        db_session: Any, world: dict[str, Any]) -> None:
    e = _admit(db_session, world)
    adt.discharge(db_session, world["doctor"], e.id, summary="First text.", disposition="home")
    first = _audit(db_session, "encounter.discharged")
    assert json.loads(first.after)["summary"] == "First text."
    adt.cancel_discharge(db_session, world["nurse"], e.id, "Still here")
    adt.discharge(db_session, world["doctor"], e.id, summary="Second text.", disposition="home")
    second = _audit(db_session, "encounter.discharged")
    assert json.loads(second.before)["summary"] == "First text."
    assert json.loads(second.after)["summary"] == "Second text."
    assert [v.text for v in adt.summary_history(db_session, e)] == ["First text.", "Second text."]
    assert e.discharge_summary == "Second text."


# --- 3. cancels restore the state before the step -----------------------------------------

def test_cancel_admission_gives_back_the_reservation_it_used(db_session: Any, world: dict[str, Any]) -> None:
    bed = world["beds"][1]
    r = beds.reserve_bed(db_session, world["nurse"], bed, patient_id=world["patient"].id, note="ED 4")
    e = adt.admit(db_session, world["nurse"], patient_id=world["patient"].id, bed_id=bed, source="emergency")
    before = _state(db_session, e.id)
    before.pop("encounter"), before.pop("periods")
    adt.cancel_admission(db_session, world["nurse"], e.id, "Wrong patient")
    after = _state(db_session, e.id)
    after.pop("encounter"), after.pop("periods")
    assert before != after  # the admission had used the reservation...
    assert after["reservations"][r.id] == "active" and after["beds"][bed] == "reserved"
    assert after["due"][f"bed-reservation:{r.id}"] == "pending"  # ...and it lapses again on time
    # ...so the admission can be made again on the same reservation.
    again = adt.admit(db_session, world["nurse"], patient_id=world["patient"].id, bed_id=bed,
                      source="emergency", reservation_id=r.id)
    assert again.bed_id == bed


def test_cancel_admission_after_the_reservation_lapsed_frees_the_bed(db_session: Any, world: dict[str, Any]) -> None:
    bed = world["beds"][1]
    with clock.freeze(clock.now()) as traveller:
        r = beds.reserve_bed(db_session, world["nurse"], bed, patient_id=world["patient"].id, minutes=30)
        e = adt.admit(db_session, world["nurse"], patient_id=world["patient"].id, bed_id=bed, source="direct")
        traveller.advance(minutes=45)
        adt.cancel_admission(db_session, world["nurse"], e.id, "Wrong patient")
    state = _state(db_session, e.id)
    assert state["beds"][bed] == "available" and state["reservations"][r.id] == "expired"


def test_cancel_transfer_restores_nurse_and_reservation_exactly(db_session: Any, world: dict[str, Any]) -> None:
    e = _admit(db_session, world, nurse_id=world["nurse"].id)
    target = world["other_beds"][0]
    beds.reserve_bed(db_session, world["charge"], target, patient_id=world["patient"].id)
    before = _state(db_session, e.id)
    adt.transfer(db_session, world["nurse"], e.id, target)
    assert e.nurse_id is None  # the receiving ward names its own nurse
    adt.cancel_transfer(db_session, world["charge"], e.id, "Wrong ward")
    after = _state(db_session, e.id)
    # The bed left behind went through cleaning? No: cancelling takes it straight back.
    assert after == before


def test_cancel_discharge_takes_back_the_order_the_doctors_discharge_wrote(
        db_session: Any, world: dict[str, Any]) -> None:
    e = _admit(db_session, world)
    before = _state(db_session, e.id)
    adt.discharge(db_session, world["doctor"], e.id, summary="Fine.", disposition="home")
    adt.cancel_discharge(db_session, world["nurse"], e.id, "Still here")
    assert _state(db_session, e.id) == before
    # Without a doctor's order a nurse may not now discharge the patient home.
    with pytest.raises(DomainError):
        adt.discharge(db_session, world["nurse"], e.id, summary="Going.", disposition="home")


def test_cancel_discharge_keeps_an_order_made_before_the_discharge(db_session: Any, world: dict[str, Any]) -> None:
    e = _admit(db_session, world)
    adt.order_discharge(db_session, world["doctor"], e.id)
    before = _state(db_session, e.id)
    adt.discharge(db_session, world["nurse"], e.id, summary="Fine.", disposition="home")
    adt.cancel_discharge(db_session, world["nurse"], e.id, "Still here")
    assert _state(db_session, e.id) == before


# --- 4. a finished stay is the ward's only for a while --------------------------------------

def test_after_the_undo_window_the_ward_no_longer_reaches_the_stay(db_session: Any, world: dict[str, Any]) -> None:
    hours = current_app.config["DISCHARGE_UNDO_HOURS"]
    assert hours == 24
    with clock.freeze(clock.now()) as traveller:
        e = _admit(db_session, world)
        adt.discharge(db_session, world["doctor"], e.id, summary="Fine.", disposition="home")
        traveller.advance(hours=hours - 1)
        assert adt.get_recent_encounter(db_session, world["nurse"], e.id, adt.Perm.DISCHARGE) is e
        traveller.advance(hours=2)
        with pytest.raises(Forbidden):
            adt.get_recent_encounter(db_session, world["nurse"], e.id, adt.Perm.DISCHARGE)
        # A doctor (hospital-wide) still opens it, but the discharge stands.
        with pytest.raises(Conflict) as refused:
            adt.cancel_discharge(db_session, world["doctor"], e.id, "Months later")
    assert f"more than {hours} hours ago" in refused.value.message
    assert e.status == "finished"


def test_the_window_is_configurable(app: Any, db_session: Any, world: dict[str, Any]) -> None:
    e = _admit(db_session, world)
    adt.discharge(db_session, world["doctor"], e.id, summary="Fine.", disposition="home")
    app.config["DISCHARGE_UNDO_HOURS"] = 0
    try:
        with pytest.raises(Conflict):
            adt.cancel_discharge(db_session, world["doctor"], e.id, "Mistake")
    finally:
        app.config["DISCHARGE_UNDO_HOURS"] = 24


# --- 5. the admission search ------------------------------------------------------------------

def test_the_search_names_the_ward_only_within_scope_and_is_audited(db_session: Any, world: dict[str, Any]) -> None:
    elsewhere = factories.patient(db_session, family="Okonkwo", given="Chidi")
    adt.admit(db_session, world["charge"], patient_id=elsewhere.id, bed_id=world["other_beds"][0])
    found, where = adt.admission_candidates(db_session, world["nurse"], "Okonkwo")
    assert [p.id for p in found] == [elsewhere.id]
    assert where == {elsewhere.id: "another ward"}
    row = _audit(db_session, "patient.admission_search")
    assert row.actor_id == world["nurse"].id
    assert json.loads(row.after) == {"query": "Okonkwo", "found": [elsewhere.id]}
    _, where = adt.admission_candidates(db_session, world["charge"], "Okonkwo")
    assert where[elsewhere.id].startswith("Renal · ")
    # Admitting them again says the same, no more.
    with pytest.raises(DomainError) as refused:
        adt.admit(db_session, world["nurse"], patient_id=elsewhere.id, bed_id=world["beds"][0])
    assert "another ward" in refused.value.message and "Renal" not in refused.value.message
    looked = adt.admission_patient(db_session, world["nurse"], elsewhere.id)
    assert looked is not None and looked.admitted == "another ward"
    assert _audit(db_session, "patient.admission_lookup").patient_id == elsewhere.id
