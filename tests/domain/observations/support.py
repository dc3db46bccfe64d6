"""Shared set-up for the vital signs and escalation tests: a ward with its staff and an
admitted patient, and running due escalation rows the way the worker does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.core import clock, jobs
from app.domain.admissions.models import Encounter
from app.domain.admissions.services import current_encounters
from app.domain.notifications.models import Notification
from tests import factories

NORMAL = {"respiratory_rate": "16", "spo2": "97", "air_or_oxygen": "air", "o2_flow": "",
          "systolic": "125", "diastolic": "80", "pulse": "72", "consciousness": "A",
          "temperature": "36.8"}
# RR 22 (2) + pulse 115 (2) + temperature 38.5 (1) = 5: medium.
MEDIUM = {**NORMAL, "respiratory_rate": "22", "pulse": "115", "temperature": "38.5"}
# + oxygen (2) = 7: high.
HIGH = {**MEDIUM, "air_or_oxygen": "oxygen", "o2_flow": "2"}


@dataclass
class Ward:
    ward: Any
    nurse: Any
    charge: Any
    doctor: Any
    other_doctor: Any
    encounter: Encounter


def ward_with_patient(session: Any) -> Ward:
    w = factories.ward(session, beds=3)
    nurse = factories.staff(session, "nurse", [w.id])
    charge = factories.staff(session, "charge_nurse", [w.id])
    doctor = factories.staff(session, "doctor")
    other = factories.staff(session, "doctor")
    p = factories.admitted(session, w)
    encounter = current_encounters(session, [p.id])[p.id]
    encounter.attending_id = doctor.id
    # Admitted this morning, so sets may be entered for the last few hours.
    encounter.started_at = clock.now() - timedelta(hours=12)
    session.flush()
    return Ward(w, nurse, charge, doctor, other, encounter)


def run_escalations(session: Any) -> int:
    """Deliver every due `alert.escalate` row (as the worker would, inline)."""
    n = 0
    for row in jobs.claim_due(session, clock.now(), 100):
        if row.kind == "alert.escalate":
            jobs.deliver(session, row.id, inline=True)
            n += 1
    return n


def notified(session: Any, user_id: int, kind_prefix: str = "alert.") -> list[Notification]:
    return list(session.scalars(select(Notification).where(
        Notification.recipient_id == user_id, Notification.kind.startswith(kind_prefix))
        .order_by(Notification.id)))
