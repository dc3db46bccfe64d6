"""Bed states: housekeeping, out of service, reservations (used, cancelled, timed out by their
due row), and the moves the rules allow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from app.core import clock, jobs
from app.core.audit import AuditEvent
from app.core.errors import Conflict, DomainError, Forbidden
from app.core.security import SYSTEM
from app.domain.admissions import adt
from app.domain.facilities import beds, rules
from app.domain.facilities.models import BED_STATES, Bed, BedReservation
from app.domain.notifications.models import Notification
from tests import factories


@pytest.fixture()
def world(db_session: Any) -> dict[str, Any]:
    ward = factories.ward(db_session, beds=3)
    other = factories.ward(db_session, beds=1)
    return {
        "ward": ward, "other": other, "beds": [b.id for r in ward.rooms for b in r.beds],
        "nurse": factories.staff(db_session, "nurse", [ward.id]),
        "charge": factories.staff(db_session, "charge_nurse", [ward.id]),
        "cleaner": factories.staff(db_session, "housekeeping"),
        "other_bed": other.rooms[0].beds[0].id,
    }


def _state(session: Any, bed_id: int) -> str:
    return session.scalar(select(Bed.state).where(Bed.id == bed_id))


def _admitted_then_discharged(session: Any, w: dict[str, Any], bed_id: int) -> None:
    doctor = factories.staff(session, "doctor")
    e = adt.admit(session, w["nurse"], patient_id=factories.patient(session).id, bed_id=bed_id)
    adt.discharge(session, doctor, e.id, summary="Home.", disposition="home")


def test_housekeeping_cleans_a_bed_and_the_list_shows_no_names(db_session: Any, world: dict[str, Any]) -> None:
    _admitted_then_discharged(db_session, world, world["beds"][0])
    items = beds.cleaning_list(db_session, world["cleaner"])
    assert [(i.bed_id, i.bed_label) for i in items] == [(world["beds"][0], "R1-A")]
    assert not hasattr(items[0], "patient") and not hasattr(items[0], "patient_name")
    beds.mark_clean(db_session, world["cleaner"], world["beds"][0])
    assert _state(db_session, world["beds"][0]) == "available"
    assert beds.cleaning_list(db_session, world["cleaner"]) == []
    with pytest.raises(Conflict) as again:
        beds.mark_clean(db_session, world["cleaner"], world["beds"][0])
    assert "not waiting for cleaning" in again.value.message


def test_a_nurse_cleans_only_on_her_wards(db_session: Any, world: dict[str, Any]) -> None:
    outsider = factories.staff(db_session, "nurse", [world["other"].id])
    _admitted_then_discharged(db_session, world, world["beds"][0])
    with pytest.raises(Forbidden):
        beds.mark_clean(db_session, outsider, world["beds"][0])
    assert beds.cleaning_list(db_session, outsider) == []


def test_out_of_service_needs_a_reason_and_a_charge_nurse(db_session: Any, world: dict[str, Any]) -> None:
    bed = world["beds"][1]
    with pytest.raises(Forbidden):
        beds.take_out_of_service(db_session, world["nurse"], bed, "Broken rail")
    with pytest.raises(DomainError) as no_reason:
        beds.take_out_of_service(db_session, world["charge"], bed, "")
    assert no_reason.value.field == "reason"
    beds.take_out_of_service(db_session, world["charge"], bed, "Broken rail")
    b = db_session.get(Bed, bed)
    assert (b.state, b.state_note) == ("out_of_service", "Broken rail")
    with pytest.raises(Conflict):
        adt.admit(db_session, world["nurse"], patient_id=factories.patient(db_session).id, bed_id=bed)
    beds.return_to_service(db_session, world["charge"], bed)
    assert _state(db_session, bed) == "available"
    actions = set(db_session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "bed")))
    assert {"bed.out_of_service", "bed.in_service"} <= actions


def test_an_occupied_bed_cannot_be_closed(db_session: Any, world: dict[str, Any]) -> None:
    adt.admit(db_session, world["nurse"], patient_id=factories.patient(db_session).id, bed_id=world["beds"][0])
    with pytest.raises(Conflict) as refused:
        beds.take_out_of_service(db_session, world["charge"], world["beds"][0], "Leak")
    assert "only a free bed" in refused.value.message


def test_a_reservation_is_used_by_the_admission_of_its_patient(db_session: Any, world: dict[str, Any]) -> None:
    patient = factories.patient(db_session)
    r = beds.reserve_bed(db_session, world["nurse"], world["beds"][0], patient_id=patient.id, note="From ED 4")
    assert _state(db_session, world["beds"][0]) == "reserved"
    someone = factories.patient(db_session, family="Else")
    with pytest.raises(Conflict) as held:
        adt.admit(db_session, world["nurse"], patient_id=someone.id, bed_id=world["beds"][0])
    assert f"is reserved for {patient.name}." in held.value.message
    adt.admit(db_session, world["nurse"], patient_id=patient.id, bed_id=world["beds"][0])
    db_session.refresh(r)
    assert r.status == "used" and _state(db_session, world["beds"][0]) == "occupied"
    due = db_session.scalar(select(jobs.DueJob).where(jobs.DueJob.dedupe_key == f"bed-reservation:{r.id}"))
    assert due is not None and due.status == "cancelled"


def test_an_anonymous_reservation_is_used_only_on_purpose(db_session: Any, world: dict[str, Any]) -> None:
    r = beds.reserve_bed(db_session, world["nurse"], world["beds"][0], note="Elective list")
    patient = factories.patient(db_session)
    with pytest.raises(Conflict) as held:
        adt.admit(db_session, world["nurse"], patient_id=patient.id, bed_id=world["beds"][0])
    assert "is reserved (Elective list). Use the reservation" in held.value.message
    adt.admit(db_session, world["nurse"], patient_id=patient.id, bed_id=world["beds"][0], reservation_id=r.id)
    assert _state(db_session, world["beds"][0]) == "occupied"


def test_cancelling_a_reservation_frees_the_bed(db_session: Any, world: dict[str, Any]) -> None:
    r = beds.reserve_bed(db_session, world["nurse"], world["beds"][2])
    beds.cancel_reservation(db_session, world["nurse"], r.id, "Patient went to ICU")
    db_session.refresh(r)
    assert r.status == "cancelled" and _state(db_session, world["beds"][2]) == "available"
    with pytest.raises(Conflict):
        beds.cancel_reservation(db_session, world["nurse"], r.id)


def test_only_an_available_bed_is_reserved_and_only_on_your_ward(db_session: Any, world: dict[str, Any]) -> None:
    with pytest.raises(Forbidden):
        beds.reserve_bed(db_session, world["nurse"], world["other_bed"])
    beds.reserve_bed(db_session, world["nurse"], world["beds"][0])
    with pytest.raises(Conflict):
        beds.reserve_bed(db_session, world["nurse"], world["beds"][0])


def test_a_reservation_times_out_through_its_due_row(db_session: Any, world: dict[str, Any], app: Any) -> None:
    assert app.config["BED_RESERVATION_MINUTES"] == 120
    start = clock.now()
    with clock.freeze(start) as traveller:
        r = beds.reserve_bed(db_session, world["nurse"], world["beds"][0], note="From ED")
        reservation_id, bed_id, nurse_id = r.id, world["beds"][0], world["nurse"].id
        db_session.commit()
        row = db_session.scalar(select(jobs.DueJob).where(jobs.DueJob.dedupe_key == f"bed-reservation:{r.id}"))
        assert row.kind == beds.RESERVATION_EXPIRY_JOB and row.due_at == start + timedelta(minutes=120)
        assert row.id not in [d.id for d in jobs.claim_due(db_session, clock.now(), 100)]  # not yet
        traveller.advance(minutes=121)
        assert jobs.deliver(db_session, row.id, inline=True) == "done"
    r = db_session.get(BedReservation, reservation_id)
    db_session.refresh(r)
    assert r.status == "expired" and _state(db_session, bed_id) == "available"
    note = db_session.scalar(select(Notification).where(Notification.recipient_id == nurse_id,
                                                        Notification.kind == "bed.reservation_expired"))
    assert note is not None and "lapsed" in note.text
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "bed.reservation_expired")) is not None


def test_an_expiry_after_the_reservation_was_used_does_nothing(db_session: Any, world: dict[str, Any]) -> None:
    patient = factories.patient(db_session)
    with clock.freeze(clock.now()) as traveller:
        r = beds.reserve_bed(db_session, world["nurse"], world["beds"][0], patient_id=patient.id)
        adt.admit(db_session, world["nurse"], patient_id=patient.id, bed_id=world["beds"][0])
        traveller.advance(minutes=200)
        assert beds.expire_reservation(db_session, SYSTEM, r.id) is False
    assert _state(db_session, world["beds"][0]) == "occupied"


# --- rules ----------------------------------------------------------------------------------

def test_the_transition_table_covers_every_state_and_never_jumps_to_occupied_from_closed() -> None:
    assert set(rules.TRANSITIONS) == set(BED_STATES)
    assert not rules.may_move("out_of_service", "occupied")
    # occupied -> reserved only undoes a step that had used a reservation (cancelled admission
    # or transfer-in); nothing else moves a held bed to reserved.
    assert rules.may_move("occupied", "reserved")
    assert not rules.may_move("cleaning", "reserved") and not rules.may_move("out_of_service", "reserved")
    assert rules.sources_for("occupied") == {"available", "reserved", "cleaning"}
    assert rules.FREE_STATES <= rules.sources_for("occupied")


@given(st.lists(st.sampled_from(BED_STATES), max_size=60))
def test_state_counts_add_up(states: list[str]) -> None:
    counts = rules.state_counts(states)
    assert sum(counts.values()) == len(states) and set(counts) == set(BED_STATES)


@given(st.integers(0, 200), st.integers(0, 200), st.integers(0, 200))
def test_occupancy_is_a_share_of_usable_beds(occupied: int, beds_: int, closed: int) -> None:
    share = rules.occupancy_percent(min(occupied, max(beds_ - closed, 0)), beds_, closed)
    if beds_ - closed <= 0:
        assert share is None
    else:
        assert share is not None and 0.0 <= share <= 100.0
