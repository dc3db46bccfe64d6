"""Encounter operations used by the foundation: admitting to a bed and finding who is where.
The admission, transfer and discharge steps live in `adt`; the bed board in `board`."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.core.db import DbSession
from app.core.errors import NotFound
from app.core.security import Actor, Perm, authorize
from app.domain.admissions.models import Encounter
from app.domain.facilities.models import Bed


def admit_to_bed(session: DbSession, actor: Actor, patient_id: int, bed_id: int) -> Encounter:
    """Start an inpatient encounter in an available bed (a direct admission; see
    `adt.admit` for the full form: source, attending, diagnosis, reservation)."""
    from app.domain.admissions import adt

    return adt.admit(session, actor, patient_id=patient_id, bed_id=bed_id, source="direct")


def current_ward_ids(session: DbSession, patient_id: int) -> set[int]:
    return set(
        session.scalars(
            select(Encounter.ward_id).where(
                Encounter.patient_id == patient_id,
                Encounter.status == "in-progress",
                Encounter.ward_id.is_not(None),
            )
        )
    )


def current_encounters(session: DbSession, patient_ids: Iterable[int]) -> dict[int, Encounter]:
    rows = session.scalars(
        select(Encounter)
        .where(Encounter.patient_id.in_(list(patient_ids)), Encounter.status == "in-progress")
        .options(selectinload(Encounter.bed).selectinload(Bed.room), selectinload(Encounter.ward))
    )
    return {e.patient_id: e for e in rows}


def inpatients_on_wards(session: DbSession, ward_ids: Iterable[int]) -> list[Encounter]:
    return list(
        session.scalars(
            select(Encounter)
            .where(Encounter.ward_id.in_(list(ward_ids)), Encounter.status == "in-progress")
            .options(
                selectinload(Encounter.patient),
                selectinload(Encounter.bed).selectinload(Bed.room),
                selectinload(Encounter.ward),
            )
        )
    )


def get_encounter(session: DbSession, actor: Actor, encounter_id: int, perm: Perm = Perm.WARD_VIEW) -> Encounter:
    """An encounter the actor may act on with `perm`: the patient's ward scope applies (a nurse
    sees the patients on her wards). NotFound or Forbidden otherwise."""
    encounter = session.get(Encounter, encounter_id)
    if encounter is None:
        raise NotFound("No such admission.")
    authorize(actor, perm, encounter.patient)
    return encounter
