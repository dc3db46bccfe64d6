"""The /live namespace: notifications, bed board and queue updates."""

from __future__ import annotations

from typing import Any

from flask_login import current_user

from app.core import realtime
from app.core.security import DEPARTMENTS, Perm, in_ward_scope
from app.domain.frontdesk.services import queue_room
from app.domain.notifications import services as notifications
from app.extensions import db
from app.realtime import join, socket_event


def rooms_for(user: Any) -> list[str]:
    """The rooms a user's scope allows: their own, their roles', their wards', their departments'."""
    rooms = [realtime.user_room(user.id)]
    rooms += [realtime.role_room(r) for r in sorted(user.role_keys)]
    rooms += [realtime.ward_room(w) for w in sorted(user.ward_ids)]
    rooms += [realtime.dept_room(d) for d, roles in sorted(DEPARTMENTS.items()) if roles & user.role_keys]
    return rooms


@socket_event("connect", realtime.NAMESPACE, Perm.LIVE_UPDATES)
def on_connect(auth: Any = None) -> None:
    for room in rooms_for(current_user):
        join(room)


@socket_event("catch_up", realtime.NAMESPACE, Perm.NOTIFICATIONS)
def on_catch_up(data: Any = None) -> dict[str, Any]:
    """After a reconnect the browser asks for what it missed since the last id it saw."""
    since = 0
    if isinstance(data, dict):
        try:
            since = max(0, int(data.get("since", 0)))
        except (TypeError, ValueError):
            since = 0
    missed = notifications.unread_since(db.session, current_user.id, since)
    return {"notifications": [
        {"id": n.id, "kind": n.kind, "text": n.text, "priority": n.priority, "link": n.link}
        for n in missed
    ], "unread": notifications.unread_count(db.session, current_user.id)}


@socket_event("watch_ward", realtime.NAMESPACE, Perm.WARD_VIEW)
def on_watch_ward(data: Any = None) -> dict[str, Any]:
    """Follow a ward's live updates (bed board); only wards in the user's scope."""
    raw = data.get("ward_id") if isinstance(data, dict) else None
    try:
        ward_id = int(str(raw))
    except ValueError:
        return {"error": "ward_id must be a number"}
    if not in_ward_scope(current_user, Perm.WARD_VIEW, ward_id):
        return {"error": "forbidden"}
    if not join(realtime.ward_room(ward_id)):
        return {"error": "disconnected"}
    return {"ok": True}


@socket_event("watch_queue", realtime.NAMESPACE, Perm.QUEUE_BOARD)
def on_watch_queue(data: Any = None) -> dict[str, Any]:
    """Follow a department's queue (the waiting-room screen, the queue page). The events carry
    no patient data, only that the queue changed; the page re-fetches what it may see."""
    department = data.get("department") if isinstance(data, dict) else None
    if not isinstance(department, str) or not department.strip() or len(department) > 40:
        return {"error": "department is required"}
    if not join(queue_room(department)):
        return {"error": "disconnected"}
    return {"ok": True}
