"""No double booking, with real parallel sessions and committed data.

PostgreSQL: the exclusion constraint decides a race the check could not see. SQLite (a file
database): BEGIN IMMEDIATE serialises the writers, so the check-then-insert is atomic. The same
races run on both; the PostgreSQL ones run in the PostgreSQL pass (TEST_DATABASE_URL).
"""

from __future__ import annotations

import threading
import time as walltime
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.core import clock
from app.core.security import Perm, SystemActor
from app.domain.scheduling import services as scheduling
from app.domain.scheduling.models import Appointment, Booking
from app.extensions import db
from tests import factories
from tests.domain.scheduling.builders import clinic_setup, local, weekday_after

CLERK_PERMS = frozenset({Perm.APPOINTMENT_BOOK, Perm.PATIENT_READ, Perm.SCHEDULE_VIEW})


def clerk(n: int) -> SystemActor:
    return SystemActor(f"clerk {n}", CLERK_PERMS)


@dataclass
class Ids:
    doctor: int
    room: int
    room2: int
    machine: int
    new: int
    follow_up: int
    ecg: int
    patients: list[int]


@pytest.fixture()
def ids(race_app: Flask) -> Ids:
    """A fresh clinic (its own doctor and rooms) for each test, committed."""
    with race_app.app_context():
        s = clinic_setup(db.session)
        people = [factories.patient(db.session, family=f"Race{i}").id for i in range(10)]
        result = Ids(s.doctor.id, s.room.id, s.room2.id, s.ecg_machine.id, s.new.id, s.follow_up.id,
                     s.ecg.id, people)
        db.session.commit()
        db.session.remove()
    return result


DAY = weekday_after(clock.today_local("Europe/London"), 0, min_days=7)  # a Monday ahead


Attempt = Callable[[Any, SystemActor], Appointment]


def attempt(ids: Ids, patient: int, type_id: int, start: datetime, *resources: int) -> Attempt:
    def run(session: Any, actor: SystemActor) -> Appointment:
        return scheduling.book_appointment(session, actor, patient_id=ids.patients[patient],
                                           appointment_type_id=type_id, start_at=start,
                                           resource_ids=list(resources))
    return run


def race(app: Flask, attempts: list[Attempt]) -> list[int | BaseException]:
    """Run every attempt at the same moment, each in its own thread and session."""
    results: list[int | BaseException] = [RuntimeError("did not finish")] * len(attempts)
    barrier = threading.Barrier(len(attempts))

    def run(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                appt = attempts[i](db.session, clerk(i))
                db.session.commit()
                results[i] = appt.id
            except BaseException as exc:  # noqa: BLE001 - examined by the test
                db.session.rollback()
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(attempts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def winners(results: list[int | BaseException]) -> list[int]:
    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, scheduling.SlotTaken)]
    assert unexpected == []
    return [r for r in results if isinstance(r, int)]


def active_bookings(app: Flask, resource_id: int) -> list[tuple[datetime, datetime]]:
    with app.app_context():
        rows = db.session.execute(
            select(Booking.start_at, Booking.end_at)
            .where(Booking.resource_id == resource_id, Booking.active.is_(True))
            .order_by(Booking.start_at)
        ).all()
        db.session.remove()
    return [(a, b) for a, b in rows]


def no_overlaps(spans: list[tuple[datetime, datetime]]) -> bool:
    return all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1))


def test_eight_clerks_book_the_same_slot_and_exactly_one_succeeds(race_app: Flask, ids: Ids) -> None:
    start = local(DAY, 9)
    results = race(race_app, [attempt(ids, i, ids.new, start, ids.doctor, ids.room) for i in range(8)])
    assert len(winners(results)) == 1
    losers = [r for r in results if isinstance(r, scheduling.SlotTaken)]
    assert len(losers) == 7
    for exc in losers:
        assert exc.status_code == 409 and "just taken" in exc.message
        assert exc.offer is not None and exc.offer.start == local(DAY, 9, 30), exc.message
        assert exc.offer.resource_ids[0] == ids.doctor
    assert active_bookings(race_app, ids.doctor) == [(start, local(DAY, 9, 30))]
    with race_app.app_context():
        booked = db.session.scalar(select(func.count()).select_from(Appointment).where(
            Appointment.start_at == start, Appointment.status == "booked"))
        db.session.remove()
    assert booked == 1


def test_overlapping_but_different_slots_never_both_succeed(race_app: Flask, ids: Ids) -> None:
    for hour in (9, 10, 11):
        results = race(race_app, [
            attempt(ids, 0, ids.new, local(DAY, hour), ids.doctor, ids.room),  # hh:00-hh:30
            attempt(ids, 1, ids.follow_up, local(DAY, hour, 15), ids.doctor),  # hh:15-hh:30
            attempt(ids, 2, ids.follow_up, local(DAY, hour, 20), ids.doctor),  # hh:20-hh:35
        ])
        assert len(winners(results)) == 1, results
    assert no_overlaps(active_bookings(race_app, ids.doctor))
    assert len(active_bookings(race_app, ids.doctor)) == 3


def test_a_two_resource_booking_racing_a_room_booking(race_app: Flask, ids: Ids) -> None:
    for hour in (9, 10, 11):
        results = race(race_app, [
            attempt(ids, 0, ids.new, local(DAY, hour), ids.doctor, ids.room),  # doctor + room 1
            attempt(ids, 1, ids.ecg, local(DAY, hour, 10), ids.room, ids.machine),  # room 1 + ECG
        ])
        assert len(winners(results)) == 1, results
    # Each loser holds nothing: neither the doctor, nor the room, nor the machine.
    doctor, room, machine = (active_bookings(race_app, r) for r in (ids.doctor, ids.room, ids.machine))
    assert no_overlaps(room) and len(room) == 3
    assert len(doctor) + len(machine) == 3


def test_a_booking_the_check_could_not_see_is_stopped_by_the_database(race_app: Flask, ids: Ids) -> None:
    """One clerk's booking is written but not yet committed when another books the same slot.
    The second waits (on the exclusion constraint on PostgreSQL, on the write lock on SQLite),
    then is told the slot was just taken and offered the next one."""
    start = local(DAY, 10)
    outcome: list[int | BaseException] = []

    with race_app.app_context():
        first = attempt(ids, 0, ids.new, start, ids.doctor, ids.room)(db.session, clerk(0))
        assert first.id is not None

        def second() -> None:
            with race_app.app_context():
                try:
                    outcome.append(attempt(ids, 1, ids.new, start, ids.doctor, ids.room2)(db.session, clerk(1)).id)
                    db.session.commit()
                except BaseException as exc:  # noqa: BLE001 - examined below
                    db.session.rollback()
                    outcome.append(exc)
                finally:
                    db.session.remove()

        thread = threading.Thread(target=second)
        thread.start()
        walltime.sleep(1.0)
        assert thread.is_alive(), f"the second booking did not wait: {outcome}"
        db.session.commit()
        db.session.remove()
    thread.join(timeout=60)
    assert len(outcome) == 1 and isinstance(outcome[0], scheduling.SlotTaken), outcome
    assert outcome[0].offer is not None and outcome[0].offer.start == local(DAY, 10, 30)
    with race_app.app_context():
        on_postgres = db.engine.dialect.name == "postgresql"
    # PostgreSQL: the check passed and the exclusion constraint refused the insert. SQLite: the
    # second transaction could not begin until the first committed, so its check saw the booking.
    assert outcome[0].by_database is on_postgres
    assert active_bookings(race_app, ids.doctor) == [(start, local(DAY, 10, 30))]


def test_the_database_itself_refuses_overlapping_bookings(race_app: Flask, ids: Ids) -> None:
    """Below the service: two overlapping active bookings of one resource cannot be stored
    (PostgreSQL: every overlap; SQLite's backstop: the same start)."""
    from sqlalchemy.exc import IntegrityError

    with race_app.app_context():
        a = attempt(ids, 0, ids.follow_up, local(DAY, 11), ids.doctor)(db.session, clerk(0))
        db.session.commit()
        later = local(DAY, 11, 5) if db.engine.dialect.name == "postgresql" else local(DAY, 11)
        db.session.add(Booking(appointment_id=a.id, resource_id=ids.doctor, start_at=later,
                               end_at=local(DAY, 11, 20), active=True))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
        # A released booking no longer counts.
        db.session.add(Booking(appointment_id=a.id, resource_id=ids.doctor, start_at=later,
                               end_at=local(DAY, 11, 20), active=False))
        db.session.flush()
        db.session.rollback()
        db.session.remove()

