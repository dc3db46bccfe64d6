"""The queue page (call next, start, finish), the waiting-room screen, and its live updates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.core import clock
from app.core.security import SYSTEM
from app.domain.frontdesk import services as frontdesk
from app.domain.frontdesk.models import QueueTicket
from app.extensions import socketio
from tests import factories
from tests.conftest import live_events, login
from tests.domain.frontdesk import support
from tests.domain.frontdesk.support import MONDAY_9AM


@pytest.fixture()
def monday() -> Iterator[Any]:
    with clock.freeze(MONDAY_9AM) as traveller:
        yield traveller


@pytest.fixture()
def queue(db_session: Any, monday: Any) -> list[QueueTicket]:
    clinic = support.clinic(db_session, department="cardiology", name="Heart clinic")
    people = [factories.patient(db_session, family="Zhang", given="Wei"),
              factories.patient(db_session, family="Okafor", given="Ada")]
    tickets = [frontdesk.register_walk_in(db_session, SYSTEM, p.id, clinic.id) for p in people]
    db_session.commit()
    return tickets


def _status(db_session: Any, ticket_id: int) -> str:
    db_session.expire_all()
    return db_session.get(QueueTicket, ticket_id).status


def test_the_queue_page_lists_tickets_with_their_actions(client: Any, queue: list[QueueTicket], login_as: Any) -> None:
    login_as("doctor")
    page = client.get("/frontdesk/queues/cardiology").get_data(as_text=True)
    assert 'accesskey="n"' in page and 'data-watch-queue="cardiology"' in page
    assert "C-001" in page and "ZHANG, Wei" in page and "2 waiting" in page
    assert f'/frontdesk/tickets/{queue[0].id}/call' in page and f'/frontdesk/tickets/{queue[0].id}/finish' not in page
    assert client.get("/frontdesk/queues/nowhere").status_code == 404


def test_call_next_needs_a_room_then_calls_the_first_in_line(
    client: Any, db_session: Any, queue: list[QueueTicket], login_as: Any
) -> None:
    doctor = login_as("doctor")
    refused = client.post_form("/frontdesk/queues/cardiology/call-next", {"room": ""}, htmx=True)
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert 'id="call-room-error"' in body and "Say which room or desk" in body
    assert _status(db_session, queue[0].id) == "waiting"
    called = client.post_form("/frontdesk/queues/cardiology/call-next", {"room": "Room 3"}, htmx=True)
    assert called.status_code == 200
    assert "Calling C-001 (ZHANG, Wei) to Room 3." in called.get_data(as_text=True)
    db_session.expire_all()
    ticket = db_session.get(QueueTicket, queue[0].id)
    assert (ticket.status, ticket.called_to, ticket.called_by_id) == ("called", "Room 3", doctor.id)
    # The room is remembered for the next call.
    page = client.get("/frontdesk/queues/cardiology").get_data(as_text=True)
    assert 'value="Room 3"' in page


def test_ticket_actions_move_it_and_a_stale_click_is_a_conflict(
    client: Any, db_session: Any, queue: list[QueueTicket], login_as: Any
) -> None:
    login_as("reception")
    first = queue[0].id
    response = client.post_form(f"/frontdesk/tickets/{first}/call", {"room": "Desk 2", "status": "waiting"}, htmx=True)
    assert response.status_code == 200 and response.get_data(as_text=True).lstrip().startswith('<div id="queue-tickets"')
    assert client.post_form(f"/frontdesk/tickets/{first}/start", {"status": "called"}, htmx=True).status_code == 200
    # A second clerk's page still showed it as waiting and clicks "Left": refused, told why.
    stale = client.post_form(f"/frontdesk/tickets/{first}/left", {"status": "waiting"}, htmx=True)
    assert stale.status_code == 409 and "C-001 is in consultation" in stale.get_data(as_text=True)
    assert client.post_form(f"/frontdesk/tickets/{first}/finish", {"status": "in-consultation"}, htmx=True).status_code == 200
    assert _status(db_session, first) == "done"
    assert client.post_form(f"/frontdesk/tickets/{first}/teleport", htmx=True).status_code == 404
    assert client.post_form(f"/frontdesk/tickets/{queue[1].id}/left", {"status": "waiting"}, htmx=True).status_code == 200
    assert _status(db_session, queue[1].id) == "left"
    page = client.get("/frontdesk/queues/cardiology").get_data(as_text=True)
    assert "2 seen or gone today" in page and "left without being seen" in page


def test_the_waiting_room_screen_shows_numbers_not_names(
    app: Any, client: Any, db_session: Any, queue: list[QueueTicket], login_as: Any, monkeypatch: Any
) -> None:
    frontdesk.move_ticket(db_session, SYSTEM, queue[0].id, "call", room="Room 3")
    db_session.commit()
    login_as("nurse")
    page = client.get("/frontdesk/board/cardiology").get_data(as_text=True)
    assert 'id="call-C-001"' in page and "Room 3" in page and 'id="board-waiting">1<' in page
    assert "Zhang" not in page and "ZHANG" not in page and "Okafor" not in page and "OKAFOR" not in page
    assert "board-page" in page and "queue_board.js" in page
    monkeypatch.setitem(app.config, "QUEUE_BOARD_SHOW_INITIALS", True)
    fragment = client.get_htmx("/frontdesk/board/cardiology").get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="board"') and "W. Z." in fragment and "Zhang" not in fragment
    queues = client.get("/frontdesk/queues").get_data(as_text=True)
    assert "/frontdesk/board/cardiology" in queues and "/frontdesk/queues/cardiology\"" not in queues  # a nurse only watches


def test_the_board_needs_its_permission(client: Any, queue: list[QueueTicket], login_as: Any) -> None:
    login_as("pharmacist")
    assert client.get("/frontdesk/board/cardiology").status_code == 403


def test_the_waiting_room_display_account_sees_the_board_and_no_patient(
    client: Any, queue: list[QueueTicket], login_as: Any
) -> None:
    login_as("queue_display")
    board = client.get("/frontdesk/board/cardiology")
    assert board.status_code == 200
    assert queue[0].patient.family_name not in board.text
    for page in ("/patients/", f"/patients/{queue[0].patient_id}", "/frontdesk/queues/cardiology",
                 "/schedule/"):
        assert client.get(page).status_code == 403, page


def test_a_check_in_is_pushed_to_the_board_after_commit_only(
    app: Any, client: Any, db_session: Any, make_user: Any, monday: Any, socket_server: None
) -> None:
    clinic = support.clinic(db_session, department="radiology")
    other = support.clinic(db_session, department="dental")
    patient = factories.patient(db_session)
    screen = make_user("nurse")
    login(client, screen.username)
    sio = socketio.test_client(app, namespace="/live", flask_test_client=client)
    assert sio.emit("watch_queue", {"department": "radiology"}, namespace="/live", callback=True) == {"ok": True}
    assert "error" in sio.emit("watch_queue", {"department": ""}, namespace="/live", callback=True)
    assert "error" in sio.emit("watch_queue", "radiology", namespace="/live", callback=True)
    sio.get_received("/live")

    frontdesk.register_walk_in(db_session, SYSTEM, patient.id, clinic.id)
    db_session.rollback()
    assert live_events(sio, wait=0.5) == []

    frontdesk.register_walk_in(db_session, SYSTEM, factories.patient(db_session).id, other.id)
    ticket = frontdesk.register_walk_in(db_session, SYSTEM, patient.id, clinic.id)
    db_session.commit()
    assert live_events(sio) == [{"type": "queue.updated", "department": "radiology"}]
    frontdesk.move_ticket(db_session, SYSTEM, ticket.id, "call", room="X-ray 1")
    db_session.commit()
    assert live_events(sio) == [{"type": "queue.updated", "department": "radiology"}]
    sio.disconnect("/live")


def test_watch_queue_is_refused_without_the_permission(
    app: Any, client: Any, make_user: Any, socket_server: None
) -> None:
    login(client, make_user("pharmacist").username)
    sio = socketio.test_client(app, namespace="/live", flask_test_client=client)
    assert sio.emit("watch_queue", {"department": "radiology"}, namespace="/live", callback=True) == {"error": "forbidden"}
    assert not sio.is_connected("/live")
