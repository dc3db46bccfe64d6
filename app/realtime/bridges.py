"""Domain events become small live events in the right rooms, after commit."""

from __future__ import annotations

from typing import Any

from app.core import events, realtime


def _bed_changed(session: Any, *, ward_id: int, bed_id: int, **_: Any) -> None:
    realtime.push(session, realtime.ward_room(ward_id), {"type": "bed.updated", "id": bed_id, "ward_id": ward_id})


def _cleaning_changed(session: Any, *, ward_id: int, bed_id: int, **_: Any) -> None:
    # Housekeeping has no ward rooms (no patient access): its cleaning list follows its
    # department room. The event names a bed, never a patient.
    realtime.push(session, realtime.dept_room("housekeeping"), {"type": "cleaning.updated", "id": bed_id})


def _patient_bed_changed(session: Any, *, encounter_id: int | None = None, **_: Any) -> None:
    """A set of vitals or a dose changed what the patient's bed card shows (NEWS2, overdue
    counts): re-fetch that bed on the ward's boards."""
    if encounter_id is None:
        return
    from sqlalchemy import select

    from app.domain.admissions.models import Encounter

    row = session.execute(select(Encounter.ward_id, Encounter.bed_id).where(Encounter.id == encounter_id)).first()
    if row is not None and row.ward_id is not None and row.bed_id is not None:
        _bed_changed(session, ward_id=row.ward_id, bed_id=row.bed_id)


def connect() -> None:
    events.bed_changed.connect(_bed_changed, weak=False)
    events.bed_changed.connect(_cleaning_changed, weak=False)
    events.vitals_recorded.connect(_patient_bed_changed, weak=False)
    events.administered.connect(_patient_bed_changed, weak=False)
    events.administration_voided.connect(_patient_bed_changed, weak=False)
    events.doses_replanned.connect(_patient_bed_changed, weak=False)
