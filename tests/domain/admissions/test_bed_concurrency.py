"""No bed ever holds two patients, with real parallel sessions and committed data.

PostgreSQL: the conditional UPDATE on the bed row decides (the loser waits on the row lock, then
finds the bed no longer available); the unique partial indexes stand behind it. SQLite: BEGIN
IMMEDIATE serialises the writers. The same races run on both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.core.errors import Conflict, DomainError
from app.domain.admissions import adt
from app.domain.admissions.models import Encounter, EncounterLocation
from app.domain.facilities import beds
from app.domain.facilities.models import Bed, BedReservation
from app.domain.identity.models import User
from app.extensions import db
from tests import factories
from tests.conftest import run_together


@pytest.fixture()
def setup(race_app: Flask) -> dict[str, Any]:
    """A fresh ward of 3 beds, 8 patients and 8 nurses, committed."""
    with race_app.app_context():
        ward = factories.ward(db.session, beds=3)
        nurses = [factories.staff(db.session, "nurse", [ward.id]).id for _ in range(8)]
        patients = [factories.patient(db.session, family=f"Race{i}").id for i in range(8)]
        out = {"ward": ward.id, "beds": [b.id for r in ward.rooms for b in r.beds],
               "nurses": nurses, "patients": patients}
        db.session.commit()
        db.session.remove()
    return out


def _as(user_id: int) -> User:
    user = db.session.get(User, user_id)
    assert user is not None
    return user


def _occupants(app: Flask, bed_id: int) -> tuple[int, int, str]:
    with app.app_context():
        stays = db.session.scalar(select(func.count()).select_from(Encounter).where(
            Encounter.bed_id == bed_id, Encounter.status == "in-progress"))
        periods = db.session.scalar(select(func.count()).select_from(EncounterLocation).where(
            EncounterLocation.bed_id == bed_id, EncounterLocation.status == "active"))
        state = db.session.scalar(select(Bed.state).where(Bed.id == bed_id))
        db.session.remove()
    return stays or 0, periods or 0, state or ""


def _only_conflicts(errors: list[BaseException]) -> None:
    assert all(isinstance(e, Conflict) for e in errors), [repr(e) for e in errors]


def test_eight_nurses_admit_eight_patients_to_one_bed_and_exactly_one_wins(race_app: Flask,
                                                                            setup: dict[str, Any]) -> None:
    bed = setup["beds"][0]

    def admit(i: int) -> Callable[[], int]:
        def run() -> int:
            return adt.admit(db.session, _as(setup["nurses"][i]), patient_id=setup["patients"][i], bed_id=bed).id
        return run

    results, errors = run_together(race_app, [admit(i) for i in range(8)])
    assert len(results) == 1 and len(errors) == 7
    _only_conflicts(errors)
    assert all("not available" in e.message or "just taken" in e.message for e in errors)  # type: ignore[attr-defined]
    assert _occupants(race_app, bed) == (1, 1, "occupied")


def test_two_transfers_into_one_bed_only_one_moves(race_app: Flask, setup: dict[str, Any]) -> None:
    a, b, target = setup["beds"]
    with race_app.app_context():
        first = adt.admit(db.session, _as(setup["nurses"][0]), patient_id=setup["patients"][0], bed_id=a).id
        second = adt.admit(db.session, _as(setup["nurses"][1]), patient_id=setup["patients"][1], bed_id=b).id
        db.session.commit()
        db.session.remove()

    def move(encounter_id: int, nurse: int) -> Callable[[], int]:
        def run() -> int:
            return adt.transfer(db.session, _as(nurse), encounter_id, target).id
        return run

    results, errors = run_together(race_app, [move(first, setup["nurses"][2]), move(second, setup["nurses"][3])])
    assert len(results) == 1 and len(errors) == 1
    _only_conflicts(errors)
    assert _occupants(race_app, target) == (1, 1, "occupied")
    # The loser is still in its own bed; the winner's old bed went to cleaning.
    states = sorted(_occupants(race_app, x)[2] for x in (a, b))
    assert states == ["cleaning", "occupied"]


def test_a_reservation_racing_an_admission_never_both(race_app: Flask, setup: dict[str, Any]) -> None:
    bed = setup["beds"][1]

    def reserve() -> int:
        return beds.reserve_bed(db.session, _as(setup["nurses"][0]), bed, note="From ED").id

    def admit() -> int:
        return adt.admit(db.session, _as(setup["nurses"][1]), patient_id=setup["patients"][5], bed_id=bed).id

    results, errors = run_together(race_app, [reserve, admit])
    assert len(results) == 1 and len(errors) == 1
    _only_conflicts(errors)
    stays, _, state = _occupants(race_app, bed)
    with race_app.app_context():
        active = db.session.scalar(select(func.count()).select_from(BedReservation).where(
            BedReservation.bed_id == bed, BedReservation.status == "active")) or 0
        db.session.remove()
    assert (state, stays, active) in {("occupied", 1, 0), ("reserved", 0, 1)}


def test_one_patient_admitted_twice_at_once_gets_one_bed(race_app: Flask, setup: dict[str, Any]) -> None:
    patient = setup["patients"][7]

    def admit(bed: int, nurse: int) -> Callable[[], int]:
        def run() -> int:
            return adt.admit(db.session, _as(nurse), patient_id=patient, bed_id=bed).id
        return run

    results, errors = run_together(race_app, [admit(setup["beds"][0], setup["nurses"][0]),
                                              admit(setup["beds"][2], setup["nurses"][1])])
    assert len(results) == 1 and len(errors) == 1
    assert isinstance(errors[0], DomainError) and "already admitted" in errors[0].message
    with race_app.app_context():
        n = db.session.scalar(select(func.count()).select_from(Encounter).where(
            Encounter.patient_id == patient, Encounter.status == "in-progress"))
        db.session.remove()
    assert n == 1
