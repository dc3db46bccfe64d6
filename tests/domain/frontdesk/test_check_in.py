"""Checking in appointments and walk-ins: tickets, windows, signals, audit, queue moves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.core import clock, events
from app.core.audit import AuditEvent
from app.core.errors import Conflict, DomainError, Forbidden
from app.core.security import SYSTEM, SystemActor
from app.domain.frontdesk import services as frontdesk
from app.domain.frontdesk.models import QueueTicket
from tests import factories
from tests.domain.frontdesk import support
from tests.domain.frontdesk.support import MONDAY_9AM


@pytest.fixture()
def monday() -> Iterator[Any]:
    with clock.freeze(MONDAY_9AM) as traveller:
        yield traveller


def _actions(session: Any, entity_type: str, entity_id: int) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id)).order_by(AuditEvent.seq)))


def test_check_in_issues_the_next_ticket_and_marks_the_appointment(db_session: Any, monday: Any, app: Any) -> None:
    clinic = support.clinic(db_session, department="cardiology", code="CARD")
    first = support.appointment(db_session, MONDAY_9AM + timedelta(minutes=30), c=clinic)
    second = support.appointment(db_session, MONDAY_9AM + timedelta(minutes=45), c=clinic)
    heard: list[dict[str, Any]] = []

    def listener(sender: Any, **kw: Any) -> None:
        heard.append(kw)

    events.checked_in.connect(listener)
    try:
        t1 = frontdesk.check_in(db_session, SYSTEM, first.id)
        t2 = frontdesk.check_in(db_session, SYSTEM, second.id)
    finally:
        events.checked_in.disconnect(listener)
    assert (t1.code, t2.code) == ("C-001", "C-002")
    assert (t1.status, t1.department, t1.walk_in) == ("waiting", "cardiology", False)
    assert first.status == "checked-in" and first.checked_in_at == MONDAY_9AM
    assert heard == [
        {"ticket_id": t1.id, "patient_id": first.patient_id, "clinic_id": clinic.id, "appointment_id": first.id},
        {"ticket_id": t2.id, "patient_id": second.patient_id, "clinic_id": clinic.id, "appointment_id": second.id},
    ]
    assert _actions(db_session, "appointment", first.id) == ["appointment.checked_in"]
    assert _actions(db_session, "queue_ticket", t1.id) == ["queue.ticket_issued"]


def test_numbers_run_per_department_per_day_with_configured_prefixes(
    db_session: Any, monday: Any, app: Any, monkeypatch: Any
) -> None:
    monkeypatch.setitem(app.config, "QUEUE_PREFIXES", {"DERM": "D"})
    eyes = support.clinic(db_session, department="ophthalmology", code="EYE")
    derm = support.clinic(db_session, department="outpatients", code="DERM")
    gen = support.clinic(db_session, department="outpatients", code="GEN")
    codes = [frontdesk.register_walk_in(db_session, SYSTEM, factories.patient(db_session).id, c.id).code
             for c in (eyes, derm, gen, eyes)]
    # One series per department, whatever the clinic's prefix.
    assert codes == ["O-001", "D-001", "O-002", "O-002"]
    monday.advance(days=1)
    assert frontdesk.register_walk_in(db_session, SYSTEM, factories.patient(db_session).id, gen.id).code == "O-001"


def test_check_in_refuses_other_days_windows_and_states(db_session: Any, monday: Any, app: Any) -> None:
    clinic = support.clinic(db_session)
    tomorrow = support.appointment(db_session, MONDAY_9AM + timedelta(days=1), c=clinic)
    too_early = support.appointment(db_session, MONDAY_9AM + timedelta(hours=3), c=clinic)
    too_late = support.appointment(db_session, MONDAY_9AM - timedelta(minutes=31), c=clinic)
    cancelled = support.appointment(db_session, MONDAY_9AM, c=clinic, status="cancelled")
    no_show = support.appointment(db_session, MONDAY_9AM, c=clinic, status="no-show")
    for appt, message in ((tomorrow, "not today"), (too_early, "opens at 10:00"),
                          (too_late, "Too late"), (cancelled, "cancelled"), (no_show, "no-show")):
        with pytest.raises(DomainError, match=message):
            frontdesk.check_in(db_session, SYSTEM, appt.id)
    assert db_session.scalar(select(QueueTicket)) is None
    on_time = support.appointment(db_session, MONDAY_9AM - timedelta(minutes=30), c=clinic)
    ticket = frontdesk.check_in(db_session, SYSTEM, on_time.id)
    with pytest.raises(Conflict, match=f"Already checked in \\(ticket {ticket.code}\\)"):
        frontdesk.check_in(db_session, SYSTEM, on_time.id)


def test_check_in_needs_the_permission(db_session: Any, monday: Any, make_user: Any) -> None:
    appt = support.appointment(db_session, MONDAY_9AM)
    with pytest.raises(Forbidden):
        frontdesk.check_in(db_session, make_user("nurse"), appt.id)
    with pytest.raises(Forbidden):
        frontdesk.check_in(db_session, SystemActor("hl7", frozenset()), appt.id)


def test_a_walk_in_cannot_queue_twice_in_one_department(db_session: Any, monday: Any) -> None:
    clinic = support.clinic(db_session)
    patient = factories.patient(db_session)
    ticket = frontdesk.register_walk_in(db_session, SYSTEM, patient.id, clinic.id)
    assert ticket.walk_in and ticket.appointment_id is None
    with pytest.raises(DomainError, match=f"already in this queue \\(ticket {ticket.code}\\)") as caught:
        frontdesk.register_walk_in(db_session, SYSTEM, patient.id, clinic.id)
    assert caught.value.field == "patient"
    with pytest.raises(DomainError) as bad_clinic:
        frontdesk.register_walk_in(db_session, SYSTEM, patient.id, 999_999)
    assert bad_clinic.value.field == "clinic_id"
    frontdesk.move_ticket(db_session, SYSTEM, ticket.id, "left")
    assert frontdesk.register_walk_in(db_session, SYSTEM, patient.id, clinic.id).code != ticket.code


def test_a_ticket_goes_called_in_consultation_done_and_completes_its_appointment(
    db_session: Any, monday: Any, make_user: Any
) -> None:
    doctor = make_user("doctor")
    appt = support.appointment(db_session, MONDAY_9AM)
    ticket = frontdesk.check_in(db_session, SYSTEM, appt.id)
    with pytest.raises(DomainError) as no_room:
        frontdesk.move_ticket(db_session, doctor, ticket.id, "call", room="  ")
    assert no_room.value.field == "room"
    frontdesk.move_ticket(db_session, doctor, ticket.id, "call", room="Room 3")
    assert (ticket.status, ticket.called_to, ticket.called_by_id) == ("called", "Room 3", doctor.id)
    frontdesk.move_ticket(db_session, doctor, ticket.id, "start")
    with pytest.raises(Conflict, match="in consultation"):
        frontdesk.move_ticket(db_session, doctor, ticket.id, "call", room="Room 4")
    frontdesk.move_ticket(db_session, doctor, ticket.id, "finish")
    assert ticket.status == "done" and ticket.finished_at is not None
    assert appt.status == "completed"
    assert _actions(db_session, "queue_ticket", ticket.id) == [
        "queue.ticket_issued", "queue.call", "queue.start", "queue.finish"]
    assert _actions(db_session, "appointment", appt.id) == ["appointment.checked_in", "appointment.completed"]
    events_by_doctor = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "queue.call")).all()
    assert events_by_doctor[-1].actor_id == doctor.id and "Room 3" in (events_by_doctor[-1].after or "")


def test_left_without_being_seen_keeps_the_appointment_checked_in(db_session: Any, monday: Any) -> None:
    appt = support.appointment(db_session, MONDAY_9AM)
    ticket = frontdesk.check_in(db_session, SYSTEM, appt.id)
    frontdesk.move_ticket(db_session, SYSTEM, ticket.id, "call", room="Desk 1")
    frontdesk.move_ticket(db_session, SYSTEM, ticket.id, "requeue")
    assert (ticket.status, ticket.called_to) == ("waiting", None)
    frontdesk.move_ticket(db_session, SYSTEM, ticket.id, "left")
    assert ticket.status == "left" and appt.status == "checked-in"
    with pytest.raises(Conflict):
        frontdesk.move_ticket(db_session, SYSTEM, ticket.id, "start")


def test_call_next_takes_the_lowest_waiting_number(db_session: Any, monday: Any) -> None:
    clinic = support.clinic(db_session, department="fracture")
    other = support.clinic(db_session, department="fracture")
    tickets = [frontdesk.register_walk_in(db_session, SYSTEM, factories.patient(db_session).id, c.id)
               for c in (clinic, other, clinic)]
    called = frontdesk.call_next(db_session, SYSTEM, "fracture", "Room 1")
    assert called is not None and called.id == tickets[0].id
    only_clinic = frontdesk.call_next(db_session, SYSTEM, "fracture", "Room 2", clinic_id=clinic.id)
    assert only_clinic is not None and only_clinic.id == tickets[2].id
    assert frontdesk.call_next(db_session, SYSTEM, "fracture", "Room 1").id == tickets[1].id  # type: ignore[union-attr]
    assert frontdesk.call_next(db_session, SYSTEM, "fracture", "Room 1") is None
    assert frontdesk.last_room(db_session, SYSTEM, "fracture") == ""  # the system is nobody


def test_board_shows_codes_rooms_and_counts_but_no_names(db_session: Any, monday: Any, app: Any, monkeypatch: Any) -> None:
    clinic = support.clinic(db_session, department="ent")
    people = [factories.patient(db_session, family="Zhang", given="Wei"),
              factories.patient(db_session, family="Okafor", given="Ada"),
              factories.patient(db_session, family="Smith", given="Jo")]
    tickets = [frontdesk.register_walk_in(db_session, SYSTEM, p.id, clinic.id) for p in people]
    frontdesk.move_ticket(db_session, SYSTEM, tickets[0].id, "call", room="Room 3")
    frontdesk.move_ticket(db_session, SYSTEM, tickets[1].id, "call", room="Room 5")
    frontdesk.move_ticket(db_session, SYSTEM, tickets[1].id, "start")
    board = frontdesk.board(db_session, SYSTEM, "ent")
    assert [(e.code, e.room, e.label) for e in board.calling] == [("E-001", "Room 3", "")]
    assert [e.code for e in board.waiting] == ["E-003"]
    assert (board.waiting_count, board.in_consultation) == (1, 1)
    monkeypatch.setitem(app.config, "QUEUE_BOARD_SHOW_INITIALS", True)
    assert [e.label for e in frontdesk.board(db_session, SYSTEM, "ent").waiting] == ["J. S."]
