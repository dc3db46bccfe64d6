"""A ward with two admitted patients, their nurses, and helpers for the handover tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from app.domain.admissions.services import current_encounters
from tests import factories


@dataclass
class WardSetup:
    ward: Any
    patients: list[Any]
    encounters: list[Any]
    outgoing: Any  # the nurse of the shift ending
    incoming: Any  # the nurse taking over
    charge: Any


def ward_setup(session: Any, beds: int = 3, admitted: int = 2) -> WardSetup:
    ward = factories.ward(session, beds=beds)
    people = [factories.admitted(session, ward, factories.patient(session, family=f"Handover{i}"))
              for i in range(admitted)]
    encounters = [current_encounters(session, [p.id])[p.id] for p in people]
    outgoing = factories.staff(session, "nurse", [ward.id], name="Nora Outgoing")
    incoming = factories.staff(session, "nurse", [ward.id], name="Ines Incoming")
    charge = factories.staff(session, "charge_nurse", [ward.id], name="Carl Charge")
    for e in encounters:
        e.nurse_id = outgoing.id
        e.diagnosis = f"Community-acquired pneumonia ({e.patient.family_name})"
    session.flush()
    return WardSetup(ward, people, encounters, outgoing, incoming, charge)


@pytest.fixture()
def setup(db_session: Any) -> WardSetup:
    return ward_setup(db_session)
