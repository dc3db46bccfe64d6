from __future__ import annotations

from datetime import datetime, timedelta
from functools import cached_property

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, TimestampMixin, UTCDateTime, VersionedMixin
from app.core.security import ROLES, WARD_SCOPED_ROLES, Perm, permissions_for


class User(UserMixin, TimestampMixin, VersionedMixin, Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    roles: Mapped[list[UserRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="UserRole.role_key"
    )
    ward_assignments: Mapped[list[WardAssignment]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    # --- flask-login -----------------------------------------------------------------
    @property
    def is_active(self) -> bool:
        return self.active

    # --- Actor -----------------------------------------------------------------------
    @property
    def label(self) -> str:
        return f"{self.full_name} ({self.username})"

    @property
    def role_keys(self) -> frozenset[str]:
        return frozenset(r.role_key for r in self.roles if r.role_key in ROLES)

    @cached_property
    def permissions(self) -> frozenset[Perm]:
        return permissions_for(self.role_keys)

    def has_perm(self, perm: Perm) -> bool:
        return perm in self.permissions

    @property
    def ward_ids(self) -> frozenset[int]:
        return frozenset(a.ward_id for a in self.ward_assignments)

    def scoped_ward_ids(self, perm: Perm) -> frozenset[int] | None:
        """Wards that limit `perm`, or None when some role grants it hospital-wide."""
        unscoped = any(
            perm in ROLES[key] for key in self.role_keys if key not in WARD_SCOPED_ROLES
        )
        return None if unscoped else self.ward_ids

    @property
    def totp_enabled(self) -> bool:
        return self.totp_secret is not None

    def may_use_totp(self, roles: tuple[str, ...]) -> bool:
        return bool(self.role_keys & set(roles))


class UserRole(Base):
    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    role_key: Mapped[str] = mapped_column(String(32), primary_key=True)


class WardAssignment(Base):
    __tablename__ = "ward_assignment"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    ward_id: Mapped[int] = mapped_column(ForeignKey("ward.id"), primary_key=True, index=True)


class UserSession(Base):
    """A signed-in session. The cookie holds a random token; only its hash is stored, so a
    database reader cannot take over a session."""

    __tablename__ = "user_session"
    __table_args__ = (Index("ix_user_session_user_open", "user_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))

    user: Mapped[User] = relationship(lazy="joined")

    def expiry_reason(self, now: datetime, idle: timedelta, maximum: timedelta) -> str | None:
        """Why this session can no longer be used, or None while it is good."""
        if self.ended_at is not None:
            return self.end_reason or "ended"
        if now - self.created_at >= maximum:
            return "expired"
        if now - self.last_seen_at >= idle:
            return "idle"
        return None
