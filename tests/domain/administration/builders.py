"""A ward with an admitted patient, a nurse and verified prescriptions, for the MAR tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.domain.administration import planning
from app.domain.admissions.models import Encounter
from app.domain.admissions.services import current_encounters
from tests import factories

ADMITTED = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass
class Stay:
    ward: Any
    patient: Any
    encounter: Encounter
    nurse: Any
    drug: Any


def stay(session: Any, nurse_is_responsible: bool = True, **drug_kw: Any) -> Stay:
    w = factories.ward(session, beds=3)
    p = factories.admitted(session, w)
    encounter = current_encounters(session, [p.id])[p.id]
    # The tests freeze the clock at their own dates: admitted well before any of them (a dose
    # may not be charted before the admission).
    encounter.started_at = ADMITTED
    nurse = factories.staff(session, "nurse", [w.id])
    if nurse_is_responsible:
        encounter.nurse_id = nurse.id
    d = factories.drug(session, **drug_kw)
    session.flush()
    return Stay(w, p, encounter, nurse, d)


def prescription(session: Any, s: Stay, now: datetime, plan: bool = True, **kw: Any) -> Any:
    kw.setdefault("start_at", now)
    kw.setdefault("duration_days", None)
    rx = factories.inpatient_prescription(session, s.patient, kw.pop("drug", s.drug), **kw)
    if plan:
        planning.plan_prescription(session, rx.id, now)
    return rx
