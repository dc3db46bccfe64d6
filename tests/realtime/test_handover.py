"""The /handover namespace: who may connect and join, what members receive, presence."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import g

from app.core.security import SYSTEM
from app.domain.handover import services as handover
from app.domain.identity import services as identity
from app.extensions import socketio
from tests.conftest import login
from tests.domain.handover.conftest import ward_setup

NS = "/handover"


@pytest.fixture(autouse=True)
def _this_apps_server(app: Any) -> Iterator[None]:
    """Other tests create apps too; point the shared SocketIO object at this app's server."""
    previous = socketio.server
    socketio.server = app.extensions["infirmary_socketio_server"]
    yield
    socketio.server = previous


def _events(sio: Any, kind: str, wait: float = 2.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + wait
    got: list[dict[str, Any]] = []
    while True:
        got += [m["args"][0] for m in sio.get_received(NS)
                if m["name"] == "event" and m["args"][0].get("type") == kind]
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def _emit(sio: Any, event: str, data: Any) -> Any:
    """Emit and wait for the answer. Each socket event gets a fresh app context in production;
    the test's one shared context would otherwise keep the last signed-in user in `g`."""
    g.__dict__.clear()
    return sio.emit(event, data, namespace=NS, callback=True)


def _socket_for(app: Any, user: Any) -> Any:
    """A signed-in browser (its own HTTP client and cookie) with a /handover socket."""
    http = app.test_client()
    login(http, user.username)
    g.__dict__.clear()
    return socketio.test_client(app, namespace=NS, flask_test_client=http)


@pytest.fixture()
def started(db_session: Any) -> Any:
    s = ward_setup(db_session)
    s.session = handover.start_handover(db_session, s.outgoing, s.ward.id, "day → night")
    db_session.commit()
    return s


def test_connect_needs_sign_in_and_the_handover_permission(app: Any, client: Any, make_user: Any) -> None:
    anonymous = socketio.test_client(app, namespace=NS, flask_test_client=client)
    assert not anonymous.is_connected(NS)
    doctor = make_user("doctor")  # sees wards, does not hand over
    assert not _socket_for(app, doctor).is_connected(NS)
    nurse = make_user("nurse")
    sio = _socket_for(app, nurse)
    assert sio.is_connected(NS)
    sio.disconnect(NS)


def test_join_only_within_ward_scope(app: Any, client: Any, started: Any, make_user: Any, db_session: Any) -> None:
    from tests import factories

    elsewhere = make_user("nurse", ward_ids=[factories.ward(db_session).id])
    db_session.commit()
    outsider = _socket_for(app, elsewhere)
    assert _emit(outsider, "join", {"session_id": started.session.id}) == {"error": "forbidden"}
    assert "error" in _emit(outsider, "join", {"session_id": "1; drop"})
    assert _emit(outsider, "join", {"session_id": 999999}) == {"error": "forbidden"}
    # Not a member: cannot announce presence in the session either.
    assert _emit(outsider, "focus", {"session_id": started.session.id, "entry_id": 1, "field": "situation"}) == {"error": "forbidden"}
    member = _socket_for(app, started.incoming)
    reply = _emit(member, "join", {"session_id": started.session.id})
    assert reply == {"ok": True, "presence": []}
    # A save reaches the member, not the outsider.
    entry = started.session.entries[0]
    handover.edit_field(db_session, started.outgoing, entry.id, "situation", "Comfortable.", 0)
    db_session.commit()
    assert _events(outsider, "field.saved", wait=0.5) == []
    outsider.disconnect(NS)
    member.disconnect(NS)


def test_a_save_reaches_every_member_after_commit_without_its_text(
        app: Any, started: Any, db_session: Any) -> None:
    a, b = _socket_for(app, started.outgoing), _socket_for(app, started.incoming)
    for sio in (a, b):
        assert _emit(sio, "join", {"session_id": started.session.id})["ok"]
    entry = started.session.entries[0]
    handover.edit_field(db_session, started.outgoing, entry.id, "recommendation", "rolled back", 0)
    db_session.rollback()
    assert _events(b, "field.saved", wait=0.5) == []
    handover.edit_field(db_session, started.outgoing, entry.id, "recommendation", "Repeat lactate at 06:00.", 0)
    db_session.commit()
    got = _events(b, "field.saved")
    assert len(got) == 1
    ev = got[0]
    # DESIGN §4: which field moved, to which version, by whom; the text is fetched over HTTP.
    assert ev == {"type": "field.saved", "session_id": started.session.id, "entry_id": entry.id,
                  "field": "recommendation", "version": 1, "by": "Nora Outgoing"}
    assert "Repeat lactate" not in json.dumps(got)
    assert _events(a, "field.saved")[0]["version"] == 1  # the saver's other tabs follow too
    handover.accept_entry(db_session, started.incoming, entry.id)
    db_session.commit()
    accepted = _events(a, "entry.accepted")
    assert accepted and accepted[0]["entry_id"] == entry.id and accepted[0]["by"] == "Ines Incoming"
    a.disconnect(NS)
    b.disconnect(NS)


def test_presence_is_shared_and_cleared_on_blur_and_disconnect(app: Any, started: Any) -> None:
    sid = started.session.id
    entry = started.session.entries[1]
    a, b = _socket_for(app, started.outgoing), _socket_for(app, started.incoming)
    assert _emit(a, "join", {"session_id": sid})["ok"]
    assert _emit(b, "join", {"session_id": sid})["ok"]
    assert _emit(a, "focus", {"session_id": sid, "entry_id": entry.id, "field": "assessment"}) == {"ok": True}
    seen = _events(b, "presence")
    assert seen and (seen[0]["name"], seen[0]["entry_id"], seen[0]["field"]) == (
        "Nora Outgoing", entry.id, "assessment")
    assert _events(a, "presence", wait=0.3) == []  # not echoed to the editor
    # Someone joining later is told who is editing what.
    c = _socket_for(app, started.charge)
    snapshot = _emit(c, "join", {"session_id": sid})["presence"]
    assert [(p["name"], p["field"]) for p in snapshot] == [("Nora Outgoing", "assessment")]
    assert "error" in _emit(a, "focus", {"session_id": sid, "entry_id": entry.id, "field": "plan"})
    _emit(b, "focus", {"session_id": sid, "entry_id": entry.id, "field": "situation"})
    assert _emit(b, "blur", {"session_id": sid}) == {"ok": True}
    cleared = [e for e in _events(c, "presence") if e["entry_id"] is None]
    assert cleared
    g.__dict__.clear()
    a.disconnect(NS)
    gone = [e for e in _events(c, "presence") if e["entry_id"] is None and e["sid"] == seen[0]["sid"]]
    assert gone
    final = _emit(c, "join", {"session_id": sid})["presence"]
    assert final == []
    b.disconnect(NS)
    c.disconnect(NS)


def test_every_event_rechecks_the_session(app: Any, started: Any, db_session: Any) -> None:
    sio = _socket_for(app, started.incoming)
    assert _emit(sio, "join", {"session_id": started.session.id})["ok"]
    identity.end_all_sessions(db_session, SYSTEM, started.incoming.id, "left the ward")
    db_session.commit()
    g.__dict__.clear()  # each socket event gets a fresh app context in production
    reply = _emit(sio, "focus", {"session_id": started.session.id, "entry_id": 1, "field": "situation"})
    assert reply == {"error": "forbidden"}
    assert not sio.is_connected(NS)
