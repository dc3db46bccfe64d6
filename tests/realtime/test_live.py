"""The /live namespace: who may connect, which rooms they join, what they receive."""

from __future__ import annotations

from typing import Any

import pytest
from flask import g

from app.core.security import SYSTEM
from app.domain.identity import services as identity
from app.domain.notifications.services import notify
from app.extensions import socketio
from app.realtime.live import rooms_for
from tests import factories
from tests.conftest import live_events, login

pytestmark = pytest.mark.usefixtures("socket_server")


def _connect(app: Any, client: Any) -> Any:
    return socketio.test_client(app, namespace="/live", flask_test_client=client)


def test_anonymous_connection_is_refused(app: Any, client: Any) -> None:
    sio = _connect(app, client)
    assert not sio.is_connected("/live")


def test_forged_session_cookie_is_refused(app: Any, client: Any, make_user: Any) -> None:
    user = make_user("doctor")
    with client.session_transaction() as sess:
        sess["_user_id"] = str(user.id)  # a cookie claiming to be the user, with no server session
        sess["sid"] = "guessed-token"
    sio = _connect(app, client)
    assert not sio.is_connected("/live")


def test_user_joins_only_the_rooms_their_scope_allows(db_session: Any, make_user: Any) -> None:
    ward = factories.ward(db_session)
    nurse = make_user("nurse", ward_ids=[ward.id])
    rooms = rooms_for(nurse)
    assert f"user:{nurse.id}" in rooms and "role:nurse" in rooms and f"ward:{ward.id}" in rooms
    assert "dept:wards" in rooms and "role:doctor" not in rooms and "dept:pharmacy" not in rooms


def test_notification_is_pushed_after_commit_and_not_on_rollback(
    app: Any, client: Any, db_session: Any, make_user: Any
) -> None:
    nurse = make_user("nurse")
    other = make_user("pharmacist")
    login(client, nurse.username)
    sio = _connect(app, client)
    assert sio.is_connected("/live")
    sio.get_received("/live")

    notify(db_session, kind="test", text="rolled back", user_ids=[nurse.id])
    db_session.rollback()
    assert live_events(sio, wait=0.5) == []

    notify(db_session, kind="test", text="not for you", user_ids=[other.id])
    notify(db_session, kind="test", text="Bed 4 needs you", role="nurse")
    db_session.commit()
    events = live_events(sio)
    assert [e["text"] for e in events if e["type"] == "notification"] == ["Bed 4 needs you"]
    sio.disconnect("/live")


def test_catch_up_returns_what_was_missed(app: Any, client: Any, db_session: Any, make_user: Any) -> None:
    doctor = make_user("doctor")
    seen = notify(db_session, kind="t", text="seen", user_ids=[doctor.id])[0].id
    notify(db_session, kind="t", text="missed while offline", user_ids=[doctor.id])
    db_session.commit()
    login(client, doctor.username)
    sio = _connect(app, client)
    reply = sio.emit("catch_up", {"since": seen}, namespace="/live", callback=True)
    assert [n["text"] for n in reply["notifications"]] == ["missed while offline"]
    assert reply["unread"] == 2
    bad = sio.emit("catch_up", {"since": "drop table"}, namespace="/live", callback=True)
    assert len(bad["notifications"]) == 2
    sio.disconnect("/live")


def test_watch_ward_is_limited_to_scope(app: Any, client: Any, db_session: Any, make_user: Any) -> None:
    mine, other = factories.ward(db_session), factories.ward(db_session)
    nurse = make_user("nurse", ward_ids=[mine.id])
    login(client, nurse.username)
    sio = _connect(app, client)
    assert sio.emit("watch_ward", {"ward_id": mine.id}, namespace="/live", callback=True) == {"ok": True}
    assert sio.emit("watch_ward", {"ward_id": other.id}, namespace="/live", callback=True) == {"error": "forbidden"}
    assert "error" in sio.emit("watch_ward", {"ward_id": "x"}, namespace="/live", callback=True)
    sio.disconnect("/live")


def test_a_revoked_session_is_refused_at_its_next_event(
    app: Any, client: Any, db_session: Any, make_user: Any
) -> None:
    doctor = make_user("doctor")
    login(client, doctor.username)
    sio = _connect(app, client)
    assert sio.is_connected("/live")
    identity.end_all_sessions(db_session, SYSTEM, doctor.id, "stolen laptop")
    db_session.commit()
    g.__dict__.clear()  # each socket event gets a fresh app context in production
    reply = sio.emit("catch_up", {"since": 0}, namespace="/live", callback=True)
    assert reply == {"error": "forbidden"}
    assert not sio.is_connected("/live")


def test_an_admission_pushes_bed_updated_to_the_ward_room(
    app: Any, client: Any, db_session: Any, make_user: Any
) -> None:
    ward = factories.ward(db_session, beds=2)
    nurse = make_user("nurse", ward_ids=[ward.id])
    db_session.commit()
    login(client, nurse.username)
    sio = _connect(app, client)
    sio.get_received("/live")
    factories.admitted(db_session, ward)
    db_session.commit()
    events = [e for e in live_events(sio) if e["type"] == "bed.updated"]
    assert events and events[0]["ward_id"] == ward.id
    # The ward page answers the re-fetch with just the bed grid.
    grid = client.get_htmx(f"/wards/{ward.id}").get_data(as_text=True)
    assert grid.lstrip().startswith(f'<div class="bed-grid" id="ward-{ward.id}-beds"') and "occupied" in grid
    sio.disconnect("/live")
