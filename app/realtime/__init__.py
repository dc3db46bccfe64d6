"""Socket.IO namespaces. Every event handler names its permission (socket_event)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask_login import current_user
from flask_socketio import disconnect, join_room

from app.core.security import Perm
from app.extensions import socketio

# (namespace, event, permission) for every handler: the route-map test walks this too.
SOCKET_EVENTS: list[tuple[str, str, Perm]] = []
# (event, guarded handler, namespace), attached to each app's Socket.IO server by
# register_namespaces(): every create_app() makes a new server, and each needs every handler.
_HANDLERS: list[tuple[str, Callable[..., Any], str]] = []


def socket_event(event: str, namespace: str, perm: Perm) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a Socket.IO handler that re-checks sign-in and `perm` on every event, not only
    at connect: a session revoked mid-connection stops being served at its next event."""

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated or not current_user.has_perm(perm):
                if event == "connect":
                    return False  # refused at connect
                disconnect()
                return {"error": "forbidden"}
            return fn(*args, **kwargs)

        SOCKET_EVENTS.append((namespace, event, perm))
        _HANDLERS.append((event, guarded, namespace))
        return guarded

    return decorator


def join(room: str) -> bool:
    """Put the current socket in `room`; False when the socket has already gone (the page
    navigated away while its request to follow a room was in flight), which is not an error."""
    try:
        join_room(room)
    except ValueError:
        return False
    return True


def register_namespaces() -> None:
    """Attach every handler to the Socket.IO server that create_app() has just made."""
    from app.realtime import bridges, handover, live  # noqa: F401

    bridges.connect()  # blinker keeps one connection per receiver, however often this runs
    for event, fn, namespace in _HANDLERS:
        socketio.on_event(event, fn, namespace=namespace)
