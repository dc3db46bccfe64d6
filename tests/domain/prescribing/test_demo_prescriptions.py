"""The demo seed writes a few prescriptions the pharmacist can work on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.demo import seed
from app.domain.prescribing.models import Prescription


def test_demo_has_pending_urgent_and_verified_prescriptions(app: Any, db_session: Any) -> None:
    seed(db_session, patients_wanted=40)
    rows = list(db_session.scalars(select(Prescription)))
    assert {r.verification for r in rows} == {"pending", "verified"}
    assert any(r.priority == "urgent" and r.verification == "pending" for r in rows)
    assert {r.setting for r in rows} == {"inpatient", "outpatient"}
    seed(db_session, patients_wanted=40)
    assert len(list(db_session.scalars(select(Prescription)))) == len(rows)
