"""Pushes to the /handover Socket.IO namespace, after commit.

app.core.realtime.push speaks only to /live, where pages re-fetch fragments. The handover works
the same way (DESIGN §4): a field save pushes {entry_id, field, version, by}, never the text, and
each page fetches the field over HTTP, where the view checks access again. Room membership is
checked only at join, so a socket whose user has since lost the ward (or whose session was
revoked) hears that a field moved, and nothing of what it says.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, has_app_context

from app.core.after_commit import after_commit
from app.core.db import DbSession
from app.extensions import socketio

NAMESPACE = "/handover"


def room(session_id: int) -> str:
    return f"handover:{session_id}"


def push_now(session_id: int, event: dict[str, Any], skip_sid: str | None = None) -> None:
    """Emit at once to the session's room (through the Redis message queue when configured)."""
    server = current_app.extensions.get("infirmary_socketio_server") if has_app_context() else None
    (server or socketio.server).emit("event", event, namespace=NAMESPACE, to=room(session_id),
                                     skip_sid=skip_sid)


def push(session: DbSession, session_id: int, event: dict[str, Any]) -> None:
    """Emit once `session`'s transaction commits; nothing if it rolls back."""
    after_commit(session, push_now, session_id, event)
