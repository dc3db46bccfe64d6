"""notify() is the one way to tell staff something. Rows first, then a push after commit."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, insert, select, update

from app.core import audit, clock, realtime
from app.core.db import DbSession
from app.core.errors import DomainError, Forbidden, NotFound
from app.core.security import DEPARTMENTS, ROLES, Actor
from app.domain.identity.models import User, UserRole, WardAssignment
from app.domain.notifications.models import Notification

PRIORITIES = ("normal", "high")


def _recipients(
    session: DbSession, user_ids: Iterable[int], role: str | None, ward_id: int | None, dept: str | None
) -> list[int]:
    ids = set(user_ids)
    roles: set[str] = set()
    if role is not None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        roles.add(role)
    if dept is not None:
        if dept not in DEPARTMENTS:
            raise ValueError(f"unknown department {dept!r}")
        roles |= DEPARTMENTS[dept]
    if roles:
        ids |= set(session.scalars(
            select(UserRole.user_id).join(User, User.id == UserRole.user_id)
            .where(UserRole.role_key.in_(roles), User.active.is_(True))
        ))
    if ward_id is not None:
        ids |= set(session.scalars(
            select(WardAssignment.user_id).join(User, User.id == WardAssignment.user_id)
            .where(WardAssignment.ward_id == ward_id, User.active.is_(True))
        ))
    return sorted(ids)


def notify(
    session: DbSession,
    *,
    kind: str,
    text: str,
    user_ids: Iterable[int] = (),
    role: str | None = None,
    ward_id: int | None = None,
    dept: str | None = None,
    link: str | None = None,
    priority: str = "normal",
) -> list[Notification]:
    """Notify a user, a role, a ward's staff or a department. Each recipient gets a row (their
    own read and acknowledgement state); connected browsers get a push once this commits."""
    if priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {PRIORITIES}")
    recipients = _recipients(session, user_ids, role, ward_id, dept)
    now = clock.now()
    # One multi-row INSERT ... RETURNING: a ward-wide or role-wide notice is hundreds of rows, and
    # the push waits for them.
    rows = list(session.scalars(
        insert(Notification).returning(Notification, sort_by_parameter_order=True),
        [{"recipient_id": uid, "kind": kind, "text": text, "link": link, "priority": priority,
          "created_at": now} for uid in recipients],
    )) if recipients else []
    event = {"type": "notification", "kind": kind, "text": text, "priority": priority, "link": link}
    rooms: list[str] = []
    if role is not None:
        rooms.append(realtime.role_room(role))
    if dept is not None:
        rooms.append(realtime.dept_room(dept))
    if ward_id is not None:
        rooms.append(realtime.ward_room(ward_id))
    if not rooms or user_ids:
        # Individually addressed recipients; a user in several target rooms may hear it twice,
        # which the browser folds into one toast by its text and time.
        rooms.extend(realtime.user_room(uid) for uid in set(user_ids) or recipients)
    for room in rooms:
        realtime.push(session, room, event)
    return rows


def bell(session: DbSession, user_id: int) -> tuple[int, int]:
    """(unread count, newest id) for the header bell, in one query."""
    unread, latest = session.execute(
        select(func.count().filter(Notification.read_at.is_(None)), func.max(Notification.id))
        .where(Notification.recipient_id == user_id)
    ).one()
    return int(unread or 0), int(latest or 0)


def unread_count(session: DbSession, user_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(Notification)
        .where(Notification.recipient_id == user_id, Notification.read_at.is_(None))
    ) or 0


def for_user(session: DbSession, user_id: int, limit: int = 50, before_id: int | None = None) -> list[Notification]:
    stmt = select(Notification).where(Notification.recipient_id == user_id)
    if before_id is not None:
        stmt = stmt.where(Notification.id < before_id)
    return list(session.scalars(stmt.order_by(Notification.id.desc()).limit(limit)))


def unread_since(session: DbSession, user_id: int, since_id: int, limit: int = 20) -> list[Notification]:
    """What a browser missed while disconnected."""
    return list(session.scalars(
        select(Notification)
        .where(Notification.recipient_id == user_id, Notification.id > since_id, Notification.read_at.is_(None))
        .order_by(Notification.id).limit(limit)
    ))


def mark_all_read(session: DbSession, user_id: int) -> int:
    """Reading clears the count; high-priority items stay on the list until acknowledged."""
    result = session.execute(
        update(Notification)
        .where(Notification.recipient_id == user_id, Notification.read_at.is_(None))
        .values(read_at=clock.now())
    )
    realtime.push(session, realtime.user_room(user_id), {"type": "notifications.read"})
    return int(getattr(result, "rowcount", 0) or 0)


def acknowledge(session: DbSession, actor: Actor, notification_id: int) -> Notification:
    """The recipient acknowledges a high-priority notification. Audited: who, when, what."""
    row = session.get(Notification, notification_id)
    if row is None:
        raise NotFound("No such notification.")
    if row.recipient_id != actor.id:
        raise Forbidden("This notification is addressed to someone else.")
    if row.priority != "high":
        raise DomainError("Only urgent notifications need acknowledging.")
    if row.acknowledged_at is None:
        now = clock.now()
        row.acknowledged_at = now
        row.read_at = row.read_at or now
        audit.record(session, actor, "notification.acknowledged", row,
                     after={"kind": row.kind, "text": row.text, "acknowledged_at": now})
        realtime.push(session, realtime.user_room(row.recipient_id), {"type": "notifications.read"})
    return row


def acknowledge_for(session: DbSession, actor: Actor, link: str) -> int:
    """Acknowledge the actor's urgent notifications that point at `link` (the thing they have
    just taken on, e.g. an alert's page): each one audited as `acknowledge` does. Returns how
    many were acknowledged."""
    if actor.id is None:
        return 0
    pending = list(session.scalars(select(Notification.id).where(
        Notification.recipient_id == actor.id, Notification.link == link,
        Notification.priority == "high", Notification.acknowledged_at.is_(None))))
    for nid in pending:
        acknowledge(session, actor, nid)
    return len(pending)


def sent_before(session: DbSession, kind: str, link: str) -> bool:
    """Whether anyone was ever notified of `kind` about `link` (a once-only notice: the same
    hole in the on-call rota is reported once, however many alerts fall into it)."""
    return session.scalar(select(Notification.id).where(
        Notification.kind == kind, Notification.link == link).limit(1)) is not None
