"""The /handover namespace: live shift handover.

Saves travel over HTTP (htmx POST with the base version and CSRF, so validation, the 409 and
the audit live in one place, the view); the server then pushes `field.saved` (which field,
its new version, who saved; no text) to the session's room after commit, and each page fetches
the field over HTTP (app.domain.handover.live). The socket carries only what is
not a write: joining a session's room (within ward scope), and presence ("Nora is editing Bed 3
/ Assessment"), which is kept in Redis when configured (every web process sees the same list)
and in this process otherwise, and is cleared when the socket goes.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from flask import request
from flask_login import current_user
from flask_socketio import rooms

from app.core import jobs
from app.core.security import Perm, can
from app.domain.handover.live import NAMESPACE, push_now, room
from app.domain.handover.models import SBAR_FIELDS, HandoverSession
from app.extensions import db
from app.realtime import _HANDLERS, SOCKET_EVENTS, join, socket_event

PRESENCE_TTL_SECONDS = 12 * 3600  # a Redis hash outlives no shift, even if a process dies


class _MemoryPresence:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_session: dict[int, dict[str, dict[str, Any]]] = {}

    def set(self, session_id: int, sid: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._by_session.setdefault(session_id, {})[sid] = value

    def clear(self, session_id: int, sid: str) -> None:
        with self._lock:
            self._by_session.get(session_id, {}).pop(sid, None)

    def list(self, session_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._by_session.get(session_id, {}).values())


class _RedisPresence:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    @staticmethod
    def _key(session_id: int) -> str:
        return f"infirmary:handover:presence:{session_id}"

    def set(self, session_id: int, sid: str, value: dict[str, Any]) -> None:
        pipe = self._conn.pipeline()
        pipe.hset(self._key(session_id), sid, json.dumps(value))
        pipe.expire(self._key(session_id), PRESENCE_TTL_SECONDS)
        pipe.execute()

    def clear(self, session_id: int, sid: str) -> None:
        self._conn.hdel(self._key(session_id), sid)

    def list(self, session_id: int) -> list[dict[str, Any]]:
        return [json.loads(v) for v in self._conn.hvals(self._key(session_id))]


_memory = _MemoryPresence()
# The sessions each socket of this process has joined, so a disconnect can clear its presence.
_joined: dict[str, set[int]] = {}
_joined_lock = threading.Lock()


def presence_store() -> _MemoryPresence | _RedisPresence:
    conn = jobs.redis_connection()
    return _RedisPresence(conn) if conn is not None else _memory


def _session_id(data: Any) -> int | None:
    raw = data.get("session_id") if isinstance(data, dict) else None
    try:
        value = int(str(raw))
    except ValueError:
        return None
    return value if 0 < value < 10**9 else None


def _in_scope(session_id: int) -> HandoverSession | None:
    hs = db.session.get(HandoverSession, session_id)
    if hs is None or not can(current_user, Perm.HANDOVER, hs):
        return None
    return hs


def _member(session_id: int) -> bool:
    return room(session_id) in rooms(namespace=NAMESPACE)


@socket_event("connect", NAMESPACE, Perm.HANDOVER)
def on_connect(auth: Any = None) -> None:
    """Signed in with the handover permission; rooms are joined per session (join)."""


@socket_event("join", NAMESPACE, Perm.HANDOVER)
def on_join(data: Any = None) -> dict[str, Any]:
    """Follow one handover session: only a session on a ward in the user's scope. Answers with
    who is editing what right now."""
    session_id = _session_id(data)
    if session_id is None:
        return {"error": "session_id must be a number"}
    if _in_scope(session_id) is None:
        return {"error": "forbidden"}
    if not join(room(session_id)):
        return {"error": "disconnected"}
    with _joined_lock:
        _joined.setdefault(request.sid, set()).add(session_id)  # type: ignore[attr-defined]
    return {"ok": True, "presence": presence_store().list(session_id)}


@socket_event("focus", NAMESPACE, Perm.HANDOVER)
def on_focus(data: Any = None) -> dict[str, Any]:
    """The user is editing one field: everyone else in the room is told, with their name."""
    session_id = _session_id(data)
    if session_id is None or not _member(session_id) or _in_scope(session_id) is None:
        return {"error": "forbidden"}
    field = data.get("field")
    try:
        entry_id = int(str(data.get("entry_id")))
    except ValueError:
        entry_id = 0
    if field not in SBAR_FIELDS or entry_id <= 0:
        return {"error": "entry_id and field are required"}
    sid: str = request.sid  # type: ignore[attr-defined]
    value = {"type": "presence", "session_id": session_id, "sid": sid, "user_id": current_user.id,
             "name": current_user.full_name, "entry_id": entry_id, "field": field}
    presence_store().set(session_id, sid, value)
    push_now(session_id, value, skip_sid=sid)
    return {"ok": True}


@socket_event("blur", NAMESPACE, Perm.HANDOVER)
def on_blur(data: Any = None) -> dict[str, Any]:
    """The user left the field."""
    session_id = _session_id(data)
    if session_id is None or not _member(session_id):
        return {"error": "forbidden"}
    _clear(session_id, request.sid)  # type: ignore[attr-defined]
    return {"ok": True}


def _clear(session_id: int, sid: str) -> None:
    presence_store().clear(session_id, sid)
    push_now(session_id, {"type": "presence", "session_id": session_id, "sid": sid,
                          "entry_id": None, "field": None}, skip_sid=sid)


def on_disconnect(*_args: Any) -> None:
    """Clear the socket's presence in every session it joined. Not guarded like the others: a
    socket dropped because its session was revoked must still stop showing "is editing"."""
    sid: str = request.sid  # type: ignore[attr-defined]
    with _joined_lock:
        joined = _joined.pop(sid, set())
    for session_id in joined:
        _clear(session_id, sid)


# Listed for the route walker like every handler; it sends nothing to the leaving user.
SOCKET_EVENTS.append((NAMESPACE, "disconnect", Perm.HANDOVER))
_HANDLERS.append(("disconnect", on_disconnect, NAMESPACE))
