"""The medication round: the open doses due now (overdue first) for the nurse's own patients, or
for the whole ward."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.core.db import DbSession
from app.core.security import Actor, Perm, authorize_ward
from app.domain.administration import rules
from app.domain.administration.models import ScheduledDose
from app.domain.admissions.models import Encounter
from app.domain.facilities.models import Bed
from app.domain.patients.models import Patient
from app.domain.prescribing.models import Prescription


@dataclass(frozen=True)
class RoundDose:
    dose: ScheduledDose
    prescription: Prescription
    encounter: Encounter
    patient: Patient
    state: str  # due | overdue

    @property
    def bed(self) -> str:
        return self.encounter.bed.label if self.encounter.bed is not None else ""


def may_round(actor: Actor, ward_id: int) -> None:
    authorize_ward(actor, Perm.ADMINISTER, ward_id)


def round_doses(session: DbSession, actor: Actor, ward_id: int, now: datetime,
                mine_only: bool = True) -> list[RoundDose]:
    """Open doses of the ward's current stays within the due window or overdue (within a day),
    of prescriptions still active: overdue first, then by time and bed. `mine_only` keeps the
    stays whose responsible nurse is the actor."""
    may_round(actor, ward_id)
    window = timedelta(minutes=int(current_app.config["DOSE_OVERDUE_MINUTES"]))
    stmt = (select(ScheduledDose, Encounter)
            .join(Encounter, Encounter.id == ScheduledDose.encounter_id)
            .join(Prescription, Prescription.id == ScheduledDose.prescription_id)
            .where(Encounter.ward_id == ward_id, Encounter.status == "in-progress",
                   ScheduledDose.status == "due", Prescription.status == "active",
                   ScheduledDose.due_at >= now - rules.OVERDUE_LOOKBACK,
                   ScheduledDose.due_at <= now + window)
            .options(selectinload(Encounter.patient).selectinload(Patient.allergies),
                     selectinload(Encounter.bed).selectinload(Bed.room)))
    if mine_only:
        stmt = stmt.where(Encounter.nurse_id == actor.id)
    pairs = [(d, e) for d, e in session.execute(stmt)]
    prescriptions = {rx.id: rx for rx in session.scalars(
        select(Prescription).where(Prescription.id.in_({d.prescription_id for d, _ in pairs}))
        .options(selectinload(Prescription.drug)))} if pairs else {}
    out = [RoundDose(d, prescriptions[d.prescription_id], e, e.patient,
                     "overdue" if rules.dose_state(d.due_at, now, int(window.total_seconds() // 60))
                     == "overdue" else "due") for d, e in pairs]
    out.sort(key=lambda r: (r.state != "overdue", r.dose.due_at, r.bed, r.dose.id))
    return out
