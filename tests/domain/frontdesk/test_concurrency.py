"""Clerks and clinicians at the same moment, in real parallel sessions on committed data: no two
arrivals share a number, no ticket is called twice, an appointment is checked in once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from app.core import clock
from app.core.errors import Conflict
from app.core.security import SYSTEM
from app.domain.frontdesk import services as frontdesk
from app.domain.frontdesk.models import QueueTicket
from app.extensions import db
from tests import factories
from tests.conftest import make_app, run_together
from tests.domain.frontdesk import support
from tests.domain.frontdesk.support import MONDAY_9AM


@pytest.fixture(scope="module")
def committed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = make_app(tmp_path_factory.mktemp("frontdesk"), name="frontdesk")
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def monday() -> Iterator[None]:
    with clock.freeze(MONDAY_9AM):
        yield


def test_parallel_check_ins_and_walk_ins_never_share_a_number(committed_app: Flask) -> None:
    clerks = 8
    with committed_app.app_context():
        clinic = support.clinic(db.session, department="parallel")
        appointments = [support.appointment(db.session, MONDAY_9AM + timedelta(minutes=5 * i), c=clinic).id
                        for i in range(clerks // 2)]
        walk_ins = [factories.patient(db.session).id for _ in range(clerks // 2)]
        clinic_id = clinic.id
        db.session.commit()
        db.session.remove()

    def check_in(appointment_id: int) -> Callable[[], str]:
        return lambda: frontdesk.check_in(db.session, SYSTEM, appointment_id).code

    def walk_in(patient_id: int) -> Callable[[], str]:
        return lambda: frontdesk.register_walk_in(db.session, SYSTEM, patient_id, clinic_id).code

    codes, errors = run_together(committed_app, [check_in(i) for i in appointments] + [walk_in(p) for p in walk_ins])
    assert errors == []
    assert sorted(codes) == [f"P-{n:03d}" for n in range(1, clerks + 1)]


def test_the_same_appointment_checked_in_twice_at_once_gets_one_ticket(committed_app: Flask) -> None:
    with committed_app.app_context():
        appointment_id = support.appointment(db.session, MONDAY_9AM, c=support.clinic(db.session)).id
        db.session.commit()
        db.session.remove()
    codes, errors = run_together(committed_app, [
        lambda: frontdesk.check_in(db.session, SYSTEM, appointment_id).code for _ in range(2)])
    assert len(codes) == 1
    assert len(errors) == 1 and isinstance(errors[0], Conflict), errors
    with committed_app.app_context():
        tickets = db.session.scalars(select(QueueTicket).where(QueueTicket.appointment_id == appointment_id)).all()
        db.session.remove()
    assert [t.code for t in tickets] == codes


def test_parallel_call_next_calls_each_patient_once(committed_app: Flask) -> None:
    clinicians = 4
    with committed_app.app_context():
        clinic = support.clinic(db.session, department="callnext")
        for _ in range(clinicians + 1):
            frontdesk.register_walk_in(db.session, SYSTEM, factories.patient(db.session).id, clinic.id)
        db.session.commit()
        db.session.remove()

    def call(room: str) -> Callable[[], str | None]:
        def go() -> str | None:
            ticket = frontdesk.call_next(db.session, SYSTEM, "callnext", room)
            return None if ticket is None else ticket.code
        return go

    codes, errors = run_together(committed_app, [call(f"Room {n}") for n in range(clinicians)])
    assert errors == []
    assert len(codes) == clinicians and len(set(codes)) == clinicians and None not in codes
    with committed_app.app_context():
        waiting = db.session.scalars(select(QueueTicket.code).where(
            QueueTicket.department == "callnext", QueueTicket.status == "waiting")).all()
        db.session.remove()
    assert len(waiting) == 1 and waiting[0] not in codes


def test_one_walk_in_added_by_two_clerks_at_once_gets_one_ticket(committed_app: Flask) -> None:
    with committed_app.app_context():
        clinic = support.clinic(db.session, department="same-walk-in")
        patient_id, clinic_id = factories.patient(db.session).id, clinic.id
        db.session.commit()
        db.session.remove()

    def add() -> str:
        return frontdesk.register_walk_in(db.session, SYSTEM, patient_id, clinic_id).code

    for _ in range(3):  # the race is real: give it a few chances to interleave
        _, errors = run_together(committed_app, [add, add, add])
        with committed_app.app_context():
            tickets = list(db.session.scalars(select(QueueTicket).where(
                QueueTicket.patient_id == patient_id, QueueTicket.department == "same-walk-in")))
            db.session.remove()
        assert len(tickets) == 1
        assert all("already in this queue" in str(e) for e in errors)
