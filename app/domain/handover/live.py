"""Pushes to the /handover Socket.IO namespace, after commit.

The handover's rooms, through app.core.realtime's push. It works like /live (DESIGN §4): a
field save pushes {entry_id, field, version, by}, never the text, and each page fetches the
field over HTTP, where the view checks access again. Room membership is
checked only at join, so a socket whose user has since lost the ward (or whose session was
revoked) hears that a field moved, and nothing of what it says.
"""

from __future__ import annotations

from typing import Any

from app.core import realtime
from app.core.db import DbSession

NAMESPACE = "/handover"


def room(session_id: int) -> str:
    return f"handover:{session_id}"


def push_now(session_id: int, event: dict[str, Any], skip_sid: str | None = None) -> None:
    """Emit at once to the session's room (through the Redis message queue when configured)."""
    realtime.push_now(room(session_id), event, namespace=NAMESPACE, skip_sid=skip_sid)


def push(session: DbSession, session_id: int, event: dict[str, Any]) -> None:
    """Emit once `session`'s transaction commits; nothing if it rolls back."""
    realtime.push(session, room(session_id), event, namespace=NAMESPACE)
