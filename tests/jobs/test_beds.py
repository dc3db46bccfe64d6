"""The bed reservation job: its due row lapses an unused reservation once, and a reservation
used or cancelled first leaves nothing for the job to do."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.core import clock, jobs
from app.domain.admissions import adt
from app.domain.facilities import beds
from app.domain.facilities.models import Bed, BedReservation
from app.jobs.beds import expire_bed_reservation
from tests import factories


def _row(session: Any, reservation_id: int) -> jobs.DueJob:
    row = session.scalar(select(jobs.DueJob).where(jobs.DueJob.dedupe_key == f"bed-reservation:{reservation_id}"))
    assert row is not None
    return row


def test_the_handler_is_registered_for_the_reservation_kind() -> None:
    assert jobs.HANDLERS[beds.RESERVATION_EXPIRY_JOB] is expire_bed_reservation


def test_the_due_row_lapses_the_reservation_once(db_session: Any) -> None:
    ward = factories.ward(db_session, beds=1)
    nurse = factories.staff(db_session, "nurse", [ward.id])
    bed_id = ward.rooms[0].beds[0].id
    with clock.freeze(clock.now()) as traveller:
        r = beds.reserve_bed(db_session, nurse, bed_id, note="ED 2", minutes=30)
        row_id, reservation_id = _row(db_session, r.id).id, r.id
        db_session.commit()
        traveller.advance(minutes=31)
        assert row_id in jobs.dispatch(db_session)
        db_session.commit()
        assert jobs.deliver(db_session, row_id, inline=True) == "done"
        assert jobs.deliver(db_session, row_id, inline=True) == "skipped"  # delivered once
    assert db_session.scalar(select(BedReservation.status).where(BedReservation.id == reservation_id)) == "expired"
    assert db_session.scalar(select(Bed.state).where(Bed.id == bed_id)) == "available"


def test_a_used_reservation_cancels_its_due_row(db_session: Any) -> None:
    ward = factories.ward(db_session, beds=1)
    nurse = factories.staff(db_session, "nurse", [ward.id])
    patient = factories.patient(db_session)
    bed_id = ward.rooms[0].beds[0].id
    with clock.freeze(clock.now()) as traveller:
        r = beds.reserve_bed(db_session, nurse, bed_id, patient_id=patient.id)
        adt.admit(db_session, nurse, patient_id=patient.id, bed_id=bed_id)
        row = _row(db_session, r.id)
        db_session.commit()
        traveller.advance(minutes=500)
        assert row.status == "cancelled"
        assert row.id not in jobs.dispatch(db_session)
    assert db_session.scalar(select(Bed.state).where(Bed.id == bed_id)) == "occupied"


def test_the_reservation_lasts_the_configured_minutes(db_session: Any, app: Any) -> None:
    ward = factories.ward(db_session, beds=1)
    nurse = factories.staff(db_session, "nurse", [ward.id])
    start = clock.now()
    with clock.freeze(start):
        r = beds.reserve_bed(db_session, nurse, ward.rooms[0].beds[0].id)
    minutes = app.config["BED_RESERVATION_MINUTES"]
    assert r.expires_at == start + timedelta(minutes=minutes)
    assert _row(db_session, r.id).due_at == r.expires_at
