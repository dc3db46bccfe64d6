"""Identity operations. Each takes an explicit actor, flushes, and writes the audit trail."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

import pyotp
from flask import current_app
from sqlalchemy import func, select, update

from app.core import audit, clock
from app.core.db import DbSession
from app.core.errors import DomainError, NotFound
from app.core.security import ROLES, Actor, Perm, authorize
from app.domain.facilities.models import Ward
from app.domain.identity import passwords, throttle
from app.domain.identity.models import User, UserRole, UserSession, WardAssignment

USERNAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{1,63}$")


class LoginRefused(DomainError):
    """Sign-in failed. The message never says whether the username exists."""

    def __init__(self, message: str, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _idle() -> timedelta:
    return timedelta(minutes=int(current_app.config["SESSION_IDLE_MINUTES"]))


def _maximum() -> timedelta:
    return timedelta(hours=int(current_app.config["SESSION_MAX_HOURS"]))


def get_user(session: DbSession, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def find_user(session: DbSession, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username.strip().lower()))


# --- sign-in ---------------------------------------------------------------------------


def check_credentials(session: DbSession, username: str, password: str, ip: str) -> User:
    """Return the user if the password is right and neither the account nor the address is
    throttled; otherwise raise LoginRefused saying when to retry."""
    username = username.strip().lower()
    retry = throttle.retry_at(username, ip)
    if retry is not None:
        raise LoginRefused("Too many failed sign-in attempts.", retry_at=retry)
    user = find_user(session, username)
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        throttle.record_failure(username, ip)
        audit.record(
            session,
            None,
            "auth.login_failed",
            ("user_account", user.id if user else None),
            after={"username": username, "why": "disabled" if ok and user else "bad credentials"},
            label=f"anonymous ({username})",
        )
        retry = throttle.retry_at(username, ip)
        if retry is not None:
            raise LoginRefused("Too many failed sign-in attempts.", retry_at=retry)
        raise LoginRefused("Unknown username or wrong password.")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def verify_witness(session: DbSession, actor: Actor, username: str, password: str, ip: str) -> User:
    """The second person who countersigns a controlled-drug entry, proven by their own password
    at the actor's workstation. Throttled and audited like a sign-in; the witness must be active,
    hold `controlled_drug.witness`, and not be the actor. Raises DomainError on `witness`."""
    if not username.strip() or not password:
        raise DomainError("A witness must enter their username and password.", field="witness")
    try:
        witness = check_credentials(session, username, password, ip)
    except LoginRefused as exc:
        raise DomainError(f"Witness not confirmed: {exc.message}", field="witness") from exc
    if actor.id is not None and witness.id == actor.id:
        raise DomainError("The witness must be someone other than you.", field="witness")
    if not witness.has_perm(Perm.CD_WITNESS):
        raise DomainError(f"{witness.full_name} may not witness controlled drugs.", field="witness")
    return witness


def verify_totp(user: User, code: str) -> bool:
    if user.totp_secret is None:
        return True
    return pyotp.TOTP(user.totp_secret).verify(code.strip().replace(" ", ""), valid_window=1)


def start_session(
    session: DbSession, user: User, ip: str | None, user_agent: str | None, username: str
) -> str:
    """Open a server-side session and return its token (for the cookie only)."""
    throttle.clear_account(username)
    token = secrets.token_urlsafe(32)
    now = clock.now()
    row = UserSession(
        token_hash=_token_hash(token),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        ip=ip,
        user_agent=(user_agent or "")[:255],
    )
    session.add(row)
    # A plain UPDATE, not an ORM change: it must not bump the account's optimistic version, or
    # two workstations signing in to one account at the same moment would fail each other.
    session.execute(update(User).where(User.id == user.id).values(last_login_at=now))
    audit.record(session, user, "auth.login", row)
    return token


def resume_session(session: DbSession, token: str | None, user_id: int) -> tuple[User | None, str | None]:
    """The user behind a cookie token, or (None, why) if the session is over.

    Updates last-seen at most every 30 s so a busy page does not write on every request.
    """
    if not token:
        return None, None
    row = session.scalar(select(UserSession).where(UserSession.token_hash == _token_hash(token)))
    if row is None or row.user_id != user_id:
        return None, "ended"
    now = clock.now()
    why = row.expiry_reason(now, _idle(), _maximum())
    if why is None and not row.user.active:
        why = "disabled"
    if why is not None:
        if row.ended_at is None:
            row.ended_at = now
            row.end_reason = why
            audit.record(session, row.user, "auth.session_expired", row, after={"why": why})
        return None, why
    if now - row.last_seen_at >= timedelta(seconds=30):
        row.last_seen_at = now
    return row.user, None


def end_session_by_token(session: DbSession, token: str | None, why: str = "logout") -> None:
    if not token:
        return
    row = session.scalar(select(UserSession).where(UserSession.token_hash == _token_hash(token)))
    if row is not None and row.ended_at is None:
        row.ended_at = clock.now()
        row.end_reason = why
        audit.record(session, row.user, "auth.logout", row)


def active_sessions(session: DbSession, user_id: int | None = None) -> list[UserSession]:
    now = clock.now()
    stmt = (
        select(UserSession)
        .where(UserSession.ended_at.is_(None))
        .where(UserSession.last_seen_at > now - _idle())
        .where(UserSession.created_at > now - _maximum())
        .order_by(UserSession.last_seen_at.desc())
    )
    if user_id is not None:
        stmt = stmt.where(UserSession.user_id == user_id)
    return list(session.scalars(stmt))


def end_session(session: DbSession, actor: Actor, session_id: int, reason: str) -> UserSession:
    """An administrator ends one session; it stops working on its next request."""
    authorize(actor, Perm.ADMIN_SESSIONS)
    row = session.get(UserSession, session_id)
    if row is None:
        raise NotFound("No such session.")
    if row.ended_at is None:
        row.ended_at = clock.now()
        row.end_reason = "revoked"
        audit.record(session, actor, "auth.session_revoked", row, reason=reason,
                     after={"user": row.user.username})
    return row


def _end_all(session: DbSession, actor: Actor, user: User, why: str, reason: str | None) -> int:
    rows = list(
        session.scalars(
            select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        )
    )
    now = clock.now()
    for row in rows:
        row.ended_at = now
        row.end_reason = why
    if rows:
        audit.record(session, actor, "auth.sessions_revoked", user, reason=reason,
                     after={"sessions": len(rows), "why": why})
    return len(rows)


def end_all_sessions(session: DbSession, actor: Actor, user_id: int, reason: str) -> int:
    authorize(actor, Perm.ADMIN_SESSIONS)
    return _end_all(session, actor, get_user(session, user_id), "revoked", reason)


# --- user administration ---------------------------------------------------------------

_USER_FIELDS = ("username", "full_name", "active", "must_change_password")


def _access_snapshot(user: User) -> dict[str, object]:
    return {"roles": sorted(user.role_keys), "wards": sorted(user.ward_ids)}


def _validate_access(session: DbSession, roles: Iterable[str], ward_ids: Iterable[int]) -> tuple[list[str], list[int]]:
    role_list = sorted(set(roles))
    unknown = [r for r in role_list if r not in ROLES]
    if unknown:
        raise DomainError(f"Unknown role: {', '.join(unknown)}", field="roles")
    if not role_list:
        raise DomainError("Choose at least one role.", field="roles")
    ward_list = sorted(set(ward_ids))
    if ward_list:
        found = set(session.scalars(select(Ward.id).where(Ward.id.in_(ward_list))))
        if found != set(ward_list):
            raise DomainError("Unknown ward.", field="wards")
    return role_list, ward_list


def _set_access(user: User, roles: list[str], ward_ids: list[int]) -> None:
    user.roles = [UserRole(role_key=r) for r in roles]
    user.ward_assignments = [WardAssignment(ward_id=w) for w in ward_ids]
    user.__dict__.pop("permissions", None)


def create_user(
    session: DbSession,
    actor: Actor,
    *,
    username: str,
    full_name: str,
    roles: Iterable[str],
    ward_ids: Iterable[int] = (),
    password: str | None = None,
) -> tuple[User, str]:
    """Create a user with a temporary password that must be changed at first sign-in.

    Returns the user and the temporary password, which is shown once and never stored."""
    authorize(actor, Perm.ADMIN_USERS)
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise DomainError(
            "Use 2–64 lower-case letters, digits, dots, dashes or underscores, starting with a letter.",
            field="username",
        )
    if find_user(session, username) is not None:
        raise DomainError("That username is taken.", field="username")
    full_name = full_name.strip()
    if not full_name:
        raise DomainError("Enter the person's full name.", field="full_name")
    role_list, ward_list = _validate_access(session, roles, ward_ids)
    temp = password or passwords.temporary_password()
    user = User(
        username=username,
        full_name=full_name,
        password_hash=passwords.hash_password(temp),
        active=True,
        must_change_password=password is None,
    )
    _set_access(user, role_list, ward_list)
    session.add(user)
    session.flush()
    audit.record(
        session, actor, "user.created", user,
        after={**audit.snapshot(user, _USER_FIELDS), **_access_snapshot(user)},
    )
    return user, temp


def update_user(
    session: DbSession,
    actor: Actor,
    user_id: int,
    *,
    full_name: str,
    roles: Iterable[str],
    ward_ids: Iterable[int],
    expected_version: int | None = None,
) -> User:
    authorize(actor, Perm.ADMIN_USERS)
    user = get_user(session, user_id)
    if expected_version is not None and user.version != expected_version:
        raise DomainError("Someone else changed this user while you were editing. Reload and try again.")
    if not full_name.strip():
        raise DomainError("Enter the person's full name.", field="full_name")
    role_list, ward_list = _validate_access(session, roles, ward_ids)
    if actor.id == user.id and "admin" in user.role_keys and "admin" not in role_list:
        raise DomainError("You cannot remove your own administrator role.", field="roles")
    before = {"full_name": user.full_name, **_access_snapshot(user)}
    user.full_name = full_name.strip()
    _set_access(user, role_list, ward_list)
    after = {"full_name": user.full_name, "roles": role_list, "wards": ward_list}
    b, a = audit.diff(before, after)
    if a:
        session.flush()
        audit.record(session, actor, "user.updated", user, before=b, after=a)
    return user


def set_user_active(session: DbSession, actor: Actor, user_id: int, active: bool, reason: str) -> User:
    """Disable or re-enable an account. Disabling ends every open session at once."""
    authorize(actor, Perm.ADMIN_USERS)
    user = get_user(session, user_id)
    if not reason.strip():
        raise DomainError("Give a reason.", field="reason")
    if actor.id == user.id and not active:
        raise DomainError("You cannot disable your own account.")
    if user.active == active:
        return user
    user.active = active
    session.flush()
    audit.record(session, actor, "user.enabled" if active else "user.disabled", user,
                 before={"active": not active}, after={"active": active}, reason=reason)
    if not active:
        _end_all(session, actor, user, "disabled", reason)
    return user


def reset_password(session: DbSession, actor: Actor, user_id: int, reason: str) -> str:
    """Issue a temporary password (changed at next sign-in) and end the user's sessions."""
    authorize(actor, Perm.ADMIN_USERS)
    user = get_user(session, user_id)
    temp = passwords.temporary_password()
    user.password_hash = passwords.hash_password(temp)
    user.must_change_password = True
    session.flush()
    audit.record(session, actor, "user.password_reset", user, reason=reason or None)
    _end_all(session, actor, user, "password_reset", reason or None)
    return temp


def change_own_password(session: DbSession, user: User, current: str, new: str, confirm: str) -> None:
    if not passwords.verify_password(user.password_hash, current):
        raise DomainError("Your current password is wrong.", field="current_password")
    problem = password_problem(new, user)
    if problem:
        raise DomainError(problem, field="new_password")
    if new != confirm:
        raise DomainError("The two new passwords differ.", field="confirm_password")
    if passwords.verify_password(user.password_hash, new):
        raise DomainError("Choose a password different from the current one.", field="new_password")
    user.password_hash = passwords.hash_password(new)
    user.must_change_password = False
    session.flush()
    audit.record(session, user, "user.password_changed", user)


def password_problem(password: str, user: User) -> str | None:
    minimum = int(current_app.config["PASSWORD_MIN_LENGTH"])
    if len(password) < minimum:
        return f"Use at least {minimum} characters."
    lowered = password.lower()
    if user.username in lowered:
        return "Do not include your username."
    if len(set(password)) < 4:
        return "Use a less repetitive password."
    return None


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(
        name=user.username, issuer_name=str(current_app.config["HOSPITAL_NAME"])
    )


def enable_totp(session: DbSession, user: User, secret: str, code: str) -> None:
    if not user.may_use_totp(tuple(current_app.config["TOTP_ROLES"])):
        raise DomainError("Two-step sign-in is offered to administrators and auditors.")
    if not pyotp.TOTP(secret).verify(code.strip().replace(" ", ""), valid_window=1):
        raise DomainError("That code is wrong or has expired. Enter the current code.", field="code")
    user.totp_secret = secret
    session.flush()
    audit.record(session, user, "user.totp_enabled", user)


def disable_totp(session: DbSession, user: User, password: str) -> None:
    if not passwords.verify_password(user.password_hash, password):
        raise DomainError("Your password is wrong.", field="password")
    user.totp_secret = None
    session.flush()
    audit.record(session, user, "user.totp_disabled", user)


def list_users(session: DbSession, actor: Actor) -> list[User]:
    authorize(actor, Perm.ADMIN_USERS)
    return list(session.scalars(select(User).order_by(func.lower(User.username))))


def open_session_counts(session: DbSession) -> dict[int, int]:
    now = clock.now()
    rows = session.execute(
        select(UserSession.user_id, func.count())
        .where(UserSession.ended_at.is_(None))
        .where(UserSession.last_seen_at > now - _idle())
        .where(UserSession.created_at > now - _maximum())
        .group_by(UserSession.user_id)
    )
    return {uid: n for uid, n in rows}


def users_with_role(session: DbSession, role: str) -> list[User]:
    """Active users holding `role`, by name (the doctor pickers; a last-resort recipient list)."""
    return list(session.scalars(
        select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role_key == role, User.active.is_(True))
        .distinct().order_by(User.full_name, User.id)))


def ward_staff_ids(session: DbSession, ward_id: int, roles: Iterable[str]) -> list[int]:
    """Active users holding one of `roles` who are assigned to the ward (e.g. its charge nurses)."""
    return sorted(set(session.scalars(
        select(User.id)
        .join(UserRole, UserRole.user_id == User.id)
        .join(WardAssignment, WardAssignment.user_id == User.id)
        .where(WardAssignment.ward_id == ward_id, UserRole.role_key.in_(list(roles)),
               User.active.is_(True))
    )))
