"""Admission, transfer and discharge, and undoing each: what the bed, the stay's location
periods, the audit trail and the ADT events (HL7 and billing listen) show after every step."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.core import audit as audit_mod
from app.core import clock, events
from app.core.audit import AuditEvent
from app.core.errors import Conflict, DomainError, Forbidden
from app.domain.admissions import adt
from app.domain.admissions.models import Encounter, EncounterLocation
from app.domain.admissions.services import admit_to_bed, current_ward_ids
from app.domain.facilities import beds
from app.domain.facilities.models import Bed
from tests import factories

ADT_SIGNALS = ("admitted", "transferred", "discharged", "admission_cancelled", "transfer_cancelled",
               "discharge_cancelled", "bed_changed")


@pytest.fixture()
def sent() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every ADT and bed event sent during the test, with its kwargs."""
    log: list[tuple[str, dict[str, Any]]] = []
    receivers = []
    for name in ADT_SIGNALS:
        def receiver(sender: Any, _name: str = name, **kwargs: Any) -> None:
            log.append((_name, kwargs))
        getattr(events, name).connect(receiver, weak=False)
        receivers.append((name, receiver))
    yield log
    for name, receiver in receivers:
        getattr(events, name).disconnect(receiver)


def _only(sent: list[tuple[str, dict[str, Any]]], name: str) -> list[dict[str, Any]]:
    return [kw for n, kw in sent if n == name]


def _bed(session: Any, bed_id: int) -> str:
    return session.scalar(select(Bed.state).where(Bed.id == bed_id))


def _periods(session: Any, encounter_id: int) -> list[tuple[int | None, str]]:
    return [(p.bed_id, p.status) for p in session.scalars(
        select(EncounterLocation).where(EncounterLocation.encounter_id == encounter_id)
        .order_by(EncounterLocation.id))]


def _audits(session: Any, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _admit(session: Any, w: dict[str, Any], bed: int | None = None, **kw: Any) -> Encounter:
    kw.setdefault("source", "emergency")
    kw.setdefault("attending_id", w["doctor"].id)
    kw.setdefault("diagnosis", "Community-acquired pneumonia")
    return adt.admit(session, w["nurse"], patient_id=w["patient"].id, bed_id=bed or w["beds"][0], **kw)


def test_admission_occupies_the_bed_opens_a_period_audits_and_sends_admitted(
        db_session: Any, world: dict[str, Any], sent: Any) -> None:
    tomorrow = clock.hospital_today() + timedelta(days=3)
    e = _admit(db_session, world, expected_discharge_on=tomorrow, nurse_id=world["nurse"].id)
    assert (e.status, e.class_code, e.admit_source, e.attending_id) == ("in-progress", "IMP", "emergency",
                                                                       world["doctor"].id)
    assert e.diagnosis == "Community-acquired pneumonia" and e.expected_discharge_on == tomorrow
    assert e.nurse_id == world["nurse"].id
    assert _bed(db_session, world["beds"][0]) == "occupied"
    assert _periods(db_session, e.id) == [(world["beds"][0], "active")]
    assert _only(sent, "admitted") == [{"encounter_id": e.id, "patient_id": world["patient"].id,
                                        "ward_id": world["ward"].id, "bed_id": world["beds"][0]}]
    assert _only(sent, "bed_changed") == [{"ward_id": world["ward"].id, "bed_id": world["beds"][0]}]
    [row] = _audits(db_session, "encounter.admitted")
    assert row.actor_id == world["nurse"].id and row.patient_id == world["patient"].id
    assert audit_mod.verify(db_session).ok


def test_admission_refusals_say_what_is_wrong(db_session: Any, world: dict[str, Any]) -> None:
    with pytest.raises(DomainError) as bad_source:
        _admit(db_session, world, source="ambulance")
    assert bad_source.value.field == "source"
    with pytest.raises(DomainError) as not_doctor:
        _admit(db_session, world, attending_id=world["nurse"].id)
    assert not_doctor.value.field == "attending_id"
    with pytest.raises(DomainError) as past:
        _admit(db_session, world, expected_discharge_on=clock.hospital_today() - timedelta(days=1))
    assert past.value.field == "expected_discharge_on" and "past" in past.value.message
    with pytest.raises(DomainError) as outsider:
        _admit(db_session, world, nurse_id=factories.staff(db_session, "nurse", [world["other"].id]).id)
    assert outsider.value.field == "nurse_id" and "does not work on this ward" in outsider.value.message
    _admit(db_session, world)
    with pytest.raises(DomainError) as twice:
        _admit(db_session, world, bed=world["beds"][1])
    assert twice.value.field == "patient_id" and "already admitted" in twice.value.message
    someone = factories.patient(db_session, family="Other")
    with pytest.raises(Conflict) as taken:
        adt.admit(db_session, world["nurse"], patient_id=someone.id, bed_id=world["beds"][0])
    assert "not available" in taken.value.message


def test_a_nurse_admits_only_to_her_own_wards(db_session: Any, world: dict[str, Any]) -> None:
    with pytest.raises(Forbidden):
        _admit(db_session, world, bed=world["other_beds"][0])
    assert _bed(db_session, world["other_beds"][0]) == "available"


def test_admit_to_bed_still_admits_directly(db_session: Any, world: dict[str, Any], sent: Any) -> None:
    from app.core.security import SYSTEM

    e = admit_to_bed(db_session, SYSTEM, world["patient"].id, world["beds"][1])
    assert e.admit_source == "direct" and _bed(db_session, world["beds"][1]) == "occupied"
    assert current_ward_ids(db_session, world["patient"].id) == {world["ward"].id}


def test_transfer_bed_to_bed_then_ward_to_ward(db_session: Any, world: dict[str, Any], sent: Any) -> None:
    e = _admit(db_session, world, nurse_id=world["nurse"].id)
    a, b = world["beds"][0], world["beds"][1]
    adt.transfer(db_session, world["nurse"], e.id, b, expected_version=e.version)
    assert (_bed(db_session, a), _bed(db_session, b)) == ("cleaning", "occupied")
    assert _periods(db_session, e.id) == [(a, "completed"), (b, "active")]
    assert e.nurse_id == world["nurse"].id  # same ward: the nurse stays
    x = world["other_beds"][0]
    adt.transfer(db_session, world["charge"], e.id, x)
    assert e.ward_id == world["other"].id and e.bed_id == x and e.nurse_id is None
    assert _periods(db_session, e.id) == [(a, "completed"), (b, "completed"), (x, "active")]
    moves = _only(sent, "transferred")
    assert moves[-1] == {"encounter_id": e.id, "patient_id": e.patient_id, "ward_id": world["other"].id,
                         "bed_id": x, "from_ward_id": world["ward"].id, "from_bed_id": b}
    assert {"ward_id": world["ward"].id, "bed_id": b} in _only(sent, "bed_changed")
    assert {"ward_id": world["other"].id, "bed_id": x} in _only(sent, "bed_changed")
    assert len(_audits(db_session, "encounter.transferred")) == 2


def test_a_stale_form_is_refused(db_session: Any, world: dict[str, Any]) -> None:
    e = _admit(db_session, world)
    opened_at = e.version
    adt.assign_nurse(db_session, world["charge"], e.id, world["nurse"].id)
    with pytest.raises(Conflict) as stale:
        adt.transfer(db_session, world["nurse"], e.id, world["beds"][1], expected_version=opened_at)
    assert "Someone else changed" in stale.value.message


def test_cancel_transfer_goes_back_to_the_previous_bed_while_it_is_free(
        db_session: Any, world: dict[str, Any], sent: Any) -> None:
    e = _admit(db_session, world)
    a, b = world["beds"][0], world["beds"][1]
    adt.transfer(db_session, world["nurse"], e.id, b)
    adt.cancel_transfer(db_session, world["nurse"], e.id, "Wrong patient moved")
    assert (_bed(db_session, a), _bed(db_session, b)) == ("occupied", "available")
    assert (e.ward_id, e.bed_id) == (world["ward"].id, a)
    assert _periods(db_session, e.id) == [(a, "active"), (b, "cancelled")]
    assert _only(sent, "transfer_cancelled") == [{"encounter_id": e.id, "patient_id": e.patient_id,
                                                  "ward_id": world["ward"].id, "bed_id": a,
                                                  "reason": "Wrong patient moved"}]
    [row] = _audits(db_session, "encounter.transfer_cancelled")
    assert row.reason == "Wrong patient moved"
    with pytest.raises(Conflict) as none_left:
        adt.cancel_transfer(db_session, world["nurse"], e.id, "again")
    assert "no transfer" in none_left.value.message


def test_cancel_transfer_is_refused_when_the_old_bed_was_taken(db_session: Any, world: dict[str, Any]) -> None:
    e = _admit(db_session, world)
    a, b = world["beds"][0], world["beds"][1]
    adt.transfer(db_session, world["nurse"], e.id, b)
    beds.mark_clean(db_session, world["nurse"], a)
    adt.admit(db_session, world["nurse"], patient_id=factories.patient(db_session, family="Next").id, bed_id=a)
    with pytest.raises(Conflict) as refused:
        adt.cancel_transfer(db_session, world["nurse"], e.id, "Mistake")
    assert "cannot go back" in refused.value.message and "occupied" in refused.value.message
    assert e.bed_id == b and _bed(db_session, b) == "occupied"


def test_cancel_admission_frees_the_bed_and_keeps_the_record(db_session: Any, world: dict[str, Any],
                                                             sent: Any) -> None:
    e = _admit(db_session, world)
    with pytest.raises(DomainError) as no_reason:
        adt.cancel_admission(db_session, world["nurse"], e.id, "  ")
    assert no_reason.value.field == "reason"
    adt.cancel_admission(db_session, world["nurse"], e.id, "Admitted the wrong patient")
    assert (e.status, e.cancel_reason) == ("cancelled", "Admitted the wrong patient")
    assert _bed(db_session, world["beds"][0]) == "available"
    assert _periods(db_session, e.id) == [(world["beds"][0], "cancelled")]
    assert _only(sent, "admission_cancelled") == [{"encounter_id": e.id, "patient_id": e.patient_id,
                                                   "ward_id": None, "bed_id": None,
                                                   "reason": "Admitted the wrong patient"}]


def test_cancel_admission_after_a_transfer_asks_to_cancel_the_transfer_first(
        db_session: Any, world: dict[str, Any]) -> None:
    e = _admit(db_session, world)
    adt.transfer(db_session, world["nurse"], e.id, world["beds"][1])
    with pytest.raises(Conflict) as refused:
        adt.cancel_admission(db_session, world["nurse"], e.id, "Mistake")
    assert "cancel the transfer first" in refused.value.message


def test_ordering_a_discharge_keeps_the_bed_and_only_a_doctor_orders(db_session: Any, world: dict[str, Any]) -> None:
    e = _admit(db_session, world)
    with pytest.raises(Forbidden):
        adt.order_discharge(db_session, world["nurse"], e.id)
    day = clock.hospital_today() + timedelta(days=1)
    adt.order_discharge(db_session, world["doctor"], e.id, expected_on=day)
    assert e.discharge_ordered_by_id == world["doctor"].id and e.expected_discharge_on == day
    assert e.status == "in-progress" and _bed(db_session, world["beds"][0]) == "occupied"
    with pytest.raises(Conflict):
        adt.order_discharge(db_session, world["doctor"], e.id)
    adt.withdraw_discharge_order(db_session, world["doctor"], e.id, "Temperature spiked")
    assert e.discharge_ordered_at is None


def test_discharge_needs_a_summary_then_frees_the_bed_into_cleaning(db_session: Any, world: dict[str, Any],
                                                                    sent: Any) -> None:
    e = _admit(db_session, world)
    with pytest.raises(DomainError) as unordered:
        adt.discharge(db_session, world["nurse"], e.id, summary="Well", disposition="home")
    assert "has not ordered" in unordered.value.message
    adt.order_discharge(db_session, world["doctor"], e.id)
    with pytest.raises(DomainError) as no_summary:
        adt.discharge(db_session, world["nurse"], e.id, summary=" ", disposition="home")
    assert no_summary.value.field == "summary"
    with pytest.raises(DomainError) as nowhere:
        adt.discharge(db_session, world["nurse"], e.id, summary="Recovered", disposition="moon")
    assert nowhere.value.field == "disposition"
    adt.discharge(db_session, world["nurse"], e.id, summary="Recovered on oral antibiotics.", disposition="home")
    assert (e.status, e.discharge_disposition) == ("finished", "home") and e.ended_at is not None
    assert _bed(db_session, world["beds"][0]) == "cleaning"
    assert _periods(db_session, e.id) == [(world["beds"][0], "completed")]
    assert _only(sent, "discharged") == [{"encounter_id": e.id, "patient_id": e.patient_id, "ward_id": None,
                                          "bed_id": None, "from_ward_id": world["ward"].id,
                                          "from_bed_id": world["beds"][0]}]
    assert current_ward_ids(db_session, e.patient_id) == set()


def test_a_doctor_discharging_without_an_order_orders_it_then(db_session: Any, world: dict[str, Any]) -> None:
    e = _admit(db_session, world)
    adt.discharge(db_session, world["doctor"], e.id, summary="Fine.", disposition="home")
    assert e.discharge_ordered_by_id == world["doctor"].id and e.status == "finished"


def test_cancel_discharge_reoccupies_the_bed_while_it_is_free(db_session: Any, world: dict[str, Any],
                                                              sent: Any) -> None:
    e = _admit(db_session, world)
    adt.discharge(db_session, world["doctor"], e.id, summary="Fine.", disposition="home")
    adt.cancel_discharge(db_session, world["nurse"], e.id, "Patient still on the ward")
    assert (e.status, e.ended_at, e.discharge_disposition) == ("in-progress", None, None)
    assert e.discharge_summary == "Fine."  # a written summary is kept, never erased
    assert _bed(db_session, world["beds"][0]) == "occupied"
    assert _periods(db_session, e.id) == [(world["beds"][0], "active")]
    assert _only(sent, "discharge_cancelled") == [{"encounter_id": e.id, "patient_id": e.patient_id,
                                                   "ward_id": world["ward"].id, "bed_id": world["beds"][0],
                                                   "reason": "Patient still on the ward"}]


def test_cancel_discharge_is_refused_once_the_bed_is_someone_elses(db_session: Any, world: dict[str, Any]) -> None:
    e = _admit(db_session, world)
    adt.discharge(db_session, world["doctor"], e.id, summary="Fine.", disposition="home")
    beds.mark_clean(db_session, world["nurse"], world["beds"][0])
    adt.admit(db_session, world["nurse"], patient_id=factories.patient(db_session, family="Next").id,
              bed_id=world["beds"][0])
    with pytest.raises(Conflict) as refused:
        adt.cancel_discharge(db_session, world["nurse"], e.id, "Mistake")
    assert "cannot be undone" in refused.value.message
    assert e.status == "finished"


def test_assign_nurse_and_expected_discharge(db_session: Any, world: dict[str, Any], sent: Any) -> None:
    e = _admit(db_session, world)
    adt.assign_nurse(db_session, world["charge"], e.id, world["nurse"].id)
    assert e.nurse_id == world["nurse"].id
    [row] = _audits(db_session, "encounter.nurse_assigned")
    assert row.actor_id == world["charge"].id
    with pytest.raises(DomainError) as not_nurse:
        adt.assign_nurse(db_session, world["charge"], e.id, world["doctor"].id)
    assert not_nurse.value.field == "nurse_id"
    with pytest.raises(Forbidden):  # doctors do not run the nursing allocation
        adt.assign_nurse(db_session, world["doctor"], e.id, world["nurse"].id)
    with pytest.raises(Forbidden):
        adt.set_expected_discharge(db_session, world["nurse"], e.id, clock.hospital_today())
    adt.set_expected_discharge(db_session, world["doctor"], e.id, clock.hospital_today())
    assert e.expected_discharge_on == clock.hospital_today()
    assert len(_only(sent, "bed_changed")) == 3  # admit, nurse, date: the board re-renders
