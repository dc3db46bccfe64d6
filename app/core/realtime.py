"""Pushing small events to rooms of connected browsers, from the web process or a worker.

Pages re-fetch their fragments over HTTP when an event arrives, so rendering and access checks
stay in the views: an event says only *what* changed (`{"type": "bed.updated", "id": 12}`).
Every push goes through after-commit, so a rolled-back change notifies nobody.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, has_app_context

from app.core.after_commit import after_commit
from app.core.db import DbSession
from app.extensions import socketio

log = logging.getLogger("infirmary.realtime")
NAMESPACE = "/live"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def role_room(role: str) -> str:
    return f"role:{role}"


def ward_room(ward_id: int) -> str:
    return f"ward:{ward_id}"


def dept_room(dept: str) -> str:
    return f"dept:{dept}"


def push_now(room: str, event: dict[str, Any], *, namespace: str = NAMESPACE,
             skip_sid: str | None = None) -> None:
    """Emit immediately (through the Redis message queue when configured) to a room of
    `namespace` (/live unless told), leaving out the socket `skip_sid` when given."""
    server = current_app.extensions.get("infirmary_socketio_server") if has_app_context() else None
    (server or socketio.server).emit("event", event, namespace=namespace, to=room, skip_sid=skip_sid)


def push(session: DbSession, room: str, event: dict[str, Any], *, namespace: str = NAMESPACE) -> None:
    """Emit once the session's transaction commits."""
    after_commit(session, push_now, room, event, namespace=namespace)
