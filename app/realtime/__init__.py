"""Socket.IO namespaces. Every event handler names its permission (socket_event)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask_login import current_user
from flask_socketio import disconnect

from app.core.security import Perm
from app.extensions import socketio

# (namespace, event, permission) for every handler: the route-map test walks this too.
SOCKET_EVENTS: list[tuple[str, str, Perm]] = []


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
        socketio.on_event(event, guarded, namespace=namespace)
        return guarded

    return decorator


def register_namespaces() -> None:
    from app.realtime import live  # noqa: F401
