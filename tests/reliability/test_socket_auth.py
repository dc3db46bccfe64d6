"""An anonymous or forged socket connection is refused; a signed-in one hears its notifications.

A real server (werkzeug, threaded, serving Socket.IO over WebSocket) and a real python-socketio
client over a loopback socket. Sign-in goes through the real login form over HTTP.
"""

from __future__ import annotations

import queue
import re
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
from flask import Flask
from werkzeug.serving import make_server

from app.core import realtime
from app.domain.notifications.services import notify
from app.extensions import db
from tests.conftest import PASSWORD, database_url
from tests.reliability.servers import add_user, build_app, dispose_app, isolated_extensions

COOKIE = "infirmary_session"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


class Live:
    def __init__(self, app: Flask, base: str) -> None:
        self.app = app
        self.base = base


@pytest.fixture()
def live(tmp_path: Path) -> Iterator[Live]:
    with isolated_extensions():
        # No Redis: pushes go straight from this process's Socket.IO server to its clients.
        app = build_app(tmp_path, database_url(tmp_path, "reliability_socket"))
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Live(app, f"http://127.0.0.1:{server.server_port}")
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
            dispose_app(app)


def _csrf(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1) or found.group(2)


def sign_in(base: str, username: str) -> requests.Session:
    http = requests.Session()
    page = http.get(f"{base}/login", timeout=10)
    response = http.post(f"{base}/login", data={"username": username, "password": PASSWORD,
                                                "csrf_token": _csrf(page.text), "next": ""},
                         allow_redirects=False, timeout=10)
    assert response.status_code == 303, response.text[:2000]
    assert http.cookies.get(COOKIE)
    return http


class LiveClient:
    """A python-socketio client that records the /live events it hears."""

    def __init__(self) -> None:
        self.http = requests.Session()
        self.sio = socketio.Client(reconnection=False, http_session=self.http)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.dropped = threading.Event()
        self.sio.on("event", self.events.put, namespace=realtime.NAMESPACE)
        self.sio.on("disconnect", lambda *_: self.dropped.set(), namespace=realtime.NAMESPACE)

    def connect(self, base: str, cookie: str | None, transport: str = "websocket") -> None:
        headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie is not None else {}
        self.sio.connect(base, namespaces=[realtime.NAMESPACE], headers=headers,
                         transports=[transport], wait_timeout=10)

    def next_event(self, timeout: float = 10) -> dict[str, Any]:
        return self.events.get(timeout=timeout)

    def close(self) -> None:
        try:
            self.sio.disconnect()
        finally:
            self.http.close()


def refused(base: str, cookie: str | None, transport: str = "polling") -> bool:
    """Whether /live refuses the cookie. (A refused WebSocket client waits 3 s for a close frame
    the development server never sends, so most checks use the long-polling handshake: the
    cookie is checked the same way whichever transport carries it.)"""
    client = LiveClient()
    try:
        client.connect(base, cookie, transport)
    except socketio.exceptions.ConnectionError:
        return True
    finally:
        client.close()
    return False


def sign_cookie(secret: str, data: dict[str, Any]) -> str:
    """A session cookie as Flask would make it, signed with `secret`."""
    forger = Flask("forger")
    forger.secret_key = secret
    serializer = forger.session_interface.get_signing_serializer(forger)  # type: ignore[attr-defined]
    assert serializer is not None
    return str(serializer.dumps(data))


def read_cookie(app: Flask, cookie: str) -> dict[str, Any]:
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return dict(serializer.loads(cookie))


def _notify(app: Flask, user_id: int, text: str, commit: bool) -> None:
    with app.app_context():
        try:
            notify(db.session, kind="reliability.ping", text=text, user_ids=[user_id])
            if commit:
                db.session.commit()
            else:
                db.session.rollback()
        finally:
            db.session.remove()


def test_anonymous_and_forged_connections_are_refused(live: Live) -> None:
    add_user(live.app, "dr.socket")
    http = sign_in(live.base, "dr.socket")
    try:
        cookie = http.cookies[COOKIE]
        real = read_cookie(live.app, cookie)
        assert real.get("sid") and real.get("_user_id")

        assert refused(live.base, None), "anonymous connect accepted"
        assert refused(live.base, None, "websocket"), "anonymous WebSocket connect accepted"
        assert refused(live.base, secrets.token_urlsafe(48)), "random cookie accepted"
        # The real session's token and user id, signed with a key other than the server's.
        wrong_key = sign_cookie("not-the-server-key-" + "z" * 32, real)
        assert refused(live.base, wrong_key), "cookie signed with the wrong key accepted"
        # Properly signed, but naming a server-side session that does not exist.
        made_up = sign_cookie(live.app.secret_key, {**real, "sid": secrets.token_urlsafe(32)})  # type: ignore[arg-type]
        assert refused(live.base, made_up), "cookie with an invented session token accepted"
        # The genuine cookie is accepted (so the refusals above are about the cookie).
        assert not refused(live.base, cookie)
        assert not refused(live.base, cookie, "websocket")
    finally:
        http.close()


def test_signed_in_socket_hears_committed_notifications_only_until_signed_out(live: Live) -> None:
    user_id = add_user(live.app, "dr.listener")
    http = sign_in(live.base, "dr.listener")
    client = LiveClient()
    try:
        cookie = http.cookies[COOKIE]
        client.connect(live.base, cookie)
        assert client.sio.connected

        _notify(live.app, user_id, "committed one", commit=True)
        event = client.next_event()
        assert event["type"] == "notification" and event["text"] == "committed one"

        _notify(live.app, user_id, "rolled back", commit=False)
        _notify(live.app, user_id, "committed two", commit=True)
        # Pushes arrive in order, so had the rolled-back one been sent it would come first.
        assert client.next_event()["text"] == "committed two"
        assert client.events.empty()

        missed = client.sio.call("catch_up", {"since": 0}, namespace=realtime.NAMESPACE, timeout=10)
        assert [n["text"] for n in missed["notifications"]] == ["committed one", "committed two"]

        # Signing out ends the server-side session: the open socket is served no more, and the
        # old cookie no longer connects.
        page = http.get(f"{live.base}/", timeout=10)
        response = http.post(f"{live.base}/logout", data={"csrf_token": _csrf(page.text)},
                             allow_redirects=False, timeout=10)
        assert response.status_code == 303
        answers: list[Any] = []
        client.sio.emit("catch_up", {"since": 0}, namespace=realtime.NAMESPACE, callback=answers.append)
        assert client.dropped.wait(timeout=10), "the server kept serving a signed-out socket"
        assert all("notifications" not in a for a in answers if isinstance(a, dict)), answers
        assert refused(live.base, cookie), "revoked session's cookie accepted"
        assert refused(live.base, cookie, "websocket"), "revoked session's cookie accepted"
    finally:
        client.close()
        http.close()

