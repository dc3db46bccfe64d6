"""Two wards, their staff and a patient: the admission tests' world."""

from __future__ import annotations

from typing import Any

import pytest

from tests import factories


@pytest.fixture()
def world(db_session: Any) -> dict[str, Any]:
    ward = factories.ward(db_session, beds=3, name="Acute Medical")
    other = factories.ward(db_session, beds=2, name="Renal")
    doctor = factories.staff(db_session, "doctor", name="Dr Ada Lovelace")
    nurse = factories.staff(db_session, "nurse", [ward.id], name="Nurse Nightingale")
    charge = factories.staff(db_session, "charge_nurse", [ward.id, other.id])
    bed_ids = [b.id for r in ward.rooms for b in r.beds]
    other_beds = [b.id for r in other.rooms for b in r.beds]
    return {"ward": ward, "other": other, "doctor": doctor, "nurse": nurse, "charge": charge,
            "beds": bed_ids, "other_beds": other_beds, "patient": factories.patient(db_session)}
