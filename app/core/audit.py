"""The audit trail: append-only, HMAC hash-chained, verified end to end.

Each row carries `hash = HMAC(key, prev_hash || canonical(row))` and a gapless `seq`. The key
lives in config (AUDIT_KEY), never in the database, so someone with write access to the
database cannot forge a row that verifies. Appends are serialised (an advisory lock on
PostgreSQL, BEGIN IMMEDIATE on SQLite) so two transactions never fork the chain.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import BigInteger, Index, Integer, String, Text, select, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core import clock
from app.core.db import Base, DbSession, UTCDateTime
from app.core.security import Actor

GENESIS = "0" * 64
_ADVISORY_LOCK_ID = 0x1AFD17  # any constant; shared by every process appending audit rows

APPEND_ONLY_SQL = {
    "postgresql": [
        """
        CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP;
        END;
        $$ LANGUAGE plpgsql
        """,
        """
        CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event
        FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()
        """,
        """
        CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
        FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()
        """,
    ],
    "sqlite": [
        """
        CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
        BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: UPDATE refused'); END
        """,
        """
        CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
        BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: DELETE refused'); END
        """,
    ],
}


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_patient_seq", "patient_id", "seq"),
        Index("ix_audit_event_actor_seq", "actor_id", "seq"),
        Index("ix_audit_event_occurred_at", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_label: Mapped[str] = mapped_column(String(120), nullable=False)
    action: Mapped[str] = mapped_column(String(80), nullable=False, index=True)
    entity_type: Mapped[str | None] = mapped_column(String(60))
    entity_id: Mapped[str | None] = mapped_column(String(60))
    patient_id: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)

    def canonical(self) -> bytes:
        return canonical_bytes(
            {
                "seq": self.seq,
                "occurred_at": self.occurred_at.isoformat(),
                "actor_id": self.actor_id,
                "actor_label": self.actor_label,
                "action": self.action,
                "entity_type": self.entity_type,
                "entity_id": self.entity_id,
                "patient_id": self.patient_id,
                "before": self.before,
                "after": self.after,
                "reason": self.reason,
                "request_id": self.request_id,
                "ip": self.ip,
            }
        )

    def changes(self) -> list[tuple[str, Any, Any]]:
        """(field, before, after) triples for display."""
        before = json.loads(self.before) if self.before else {}
        after = json.loads(self.after) if self.after else {}
        keys = sorted(set(before) | set(after))
        return [(k, before.get(k), after.get(k)) for k in keys]


@dataclass(frozen=True)
class RequestContext:
    request_id: str | None = None
    ip: str | None = None


# Set per request by the web layer and per job by the job runner.
current_context: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "audit_context", default=RequestContext()  # noqa: B039 - frozen dataclass, immutable
)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return clock.to_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def dumps(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json_default
    )


def canonical_bytes(value: Mapping[str, Any]) -> bytes:
    return dumps(value).encode("utf-8")


def compute_hash(key: bytes, prev_hash: str, row: AuditEvent) -> str:
    return hmac.new(key, prev_hash.encode("ascii") + row.canonical(), hashlib.sha256).hexdigest()


def _key() -> bytes:
    return str(current_app.config["AUDIT_KEY"]).encode("utf-8")


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {f: getattr(obj, f) for f in fields}


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that changed, from both sides."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def _entity_ref(entity: Any) -> tuple[str | None, str | None]:
    if entity is None:
        return None, None
    if isinstance(entity, tuple):
        kind, ident = entity
        return str(kind), None if ident is None else str(ident)
    return str(entity.__tablename__), str(entity.id)


def _lock_chain(session: DbSession) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ADVISORY_LOCK_ID})


def record(
    session: DbSession,
    actor: Actor | None,
    action: str,
    entity: Any = None,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    reason: str | None = None,
    patient_id: int | None = None,
    label: str | None = None,
) -> AuditEvent:
    """Append one audit row in the caller's transaction (flushed, not committed)."""
    ctx = current_context.get()
    _lock_chain(session)
    session.flush()  # the entity's id must exist before we reference it
    entity_type, entity_id = _entity_ref(entity)
    tail = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev = (tail[0] + 1, tail[1]) if tail else (1, GENESIS)
    row = AuditEvent(
        seq=seq,
        occurred_at=clock.now(),
        actor_id=actor.id if actor is not None else None,
        actor_label=label or (actor.label if actor is not None else "anonymous"),
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        patient_id=patient_id,
        before=dumps(before) if before else None,
        after=dumps(after) if after else None,
        reason=reason,
        request_id=ctx.request_id,
        ip=ctx.ip,
        prev_hash=prev,
    )
    row.hash = compute_hash(_key(), prev, row)
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    bad_seq: int | None = None
    bad_id: int | None = None
    problem: str | None = None

    def describe(self) -> str:
        if self.ok:
            return f"Audit trail intact: {self.checked} rows verified."
        return (
            f"Audit trail broken at row id={self.bad_id} seq={self.bad_seq}: {self.problem} "
            f"({self.checked} rows verified before it)."
        )


def verify(session: DbSession, key: bytes | None = None, batch: int = 2000) -> VerifyResult:
    """Walk the chain in order; report the first row that was edited, deleted, inserted or
    reordered."""
    key = key or _key()
    prev_hash = GENESIS
    expected_seq = 1
    checked = 0
    last_id = 0
    stmt = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch)
    result = session.scalars(stmt)
    try:
        for row in result:
            problem = _check_row(row, expected_seq, last_id, prev_hash, key)
            if problem:
                return VerifyResult(False, checked, row.seq, row.id, problem)
            prev_hash = row.hash
            expected_seq += 1
            last_id = row.id
            checked += 1
            session.expunge(row)  # keep memory flat over millions of rows
    finally:
        result.close()  # PostgreSQL streams through a server-side cursor
    return VerifyResult(True, checked)


def _check_row(row: AuditEvent, expected_seq: int, last_id: int, prev_hash: str, key: bytes) -> str | None:
    if row.seq > expected_seq:
        return f"expected seq {expected_seq}: a row before it is missing"
    if row.seq < expected_seq or row.id <= last_id:
        return "row order does not match insertion order: a row was inserted or reordered"
    if row.prev_hash != prev_hash:
        return "link to the previous row is broken"
    if not hmac.compare_digest(row.hash, compute_hash(key, prev_hash, row)):
        return "row content does not match its seal"
    return None
