"""Due work as database rows, a dispatcher that claims them, and the runners that deliver them.

The database is the source of truth for anything due. The dispatcher claims due rows
(`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's single writer elsewhere) and enqueues one RQ
job per row with a job id derived from the row, so a row is never enqueued twice. Delivery locks
the row and does the work and marks it done in one transaction, so a job that runs twice (a
retry, a re-dispatch after a lost worker) delivers once. With no Redis (the embedded default)
the same dispatcher runs in-process and executes the rows inline.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Index, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from app.core import audit, clock
from app.core.db import Base, DbSession, UTCDateTime

log = logging.getLogger("infirmary.jobs")

QUEUES = ("default", "reminders", "pdf")
# Seconds to wait before each retry; after the last, the row is failed (and RQ's job lands in
# its failed registry).
BACKOFF = (10, 60, 300)

Handler = Callable[[DbSession, dict[str, Any]], None]
HANDLERS: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that delivers due rows of `kind`."""

    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


class DueJob(Base):
    __tablename__ = "due_job"
    __table_args__ = (Index("ix_due_job_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(80))
    payload: Mapped[str] = mapped_column(Text, default="{}")
    queue: Mapped[str] = mapped_column(String(20), default="default")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # pending -> enqueued -> done | failed; cancelled by the domain when no longer wanted
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=len(BACKOFF) + 1)
    last_error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def job_id(self) -> str:
        return f"due-{self.id}"


class PeriodicJobState(Base):
    """When each periodic job last ran and how it went (shown on the admin Jobs page)."""

    __tablename__ = "periodic_job_state"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_outcome: Mapped[str | None] = mapped_column(String(12))  # ok | failed | running
    last_error: Mapped[str | None] = mapped_column(Text)


def schedule(
    session: DbSession,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    due_at: datetime | None = None,
    queue: str = "default",
    dedupe_key: str | None = None,
) -> DueJob:
    """Record work to be done at `due_at` (now by default), in the caller's transaction."""
    if kind not in HANDLERS:
        raise ValueError(f"no handler registered for {kind!r}")
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    if dedupe_key is not None:
        existing = session.scalar(select(DueJob).where(DueJob.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    row = DueJob(kind=kind, payload=audit.dumps(payload or {}), queue=queue,
                 due_at=due_at or clock.now(), dedupe_key=dedupe_key)
    session.add(row)
    session.flush()
    return row


def _is_postgres(session: DbSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def claim_due(session: DbSession, now: datetime, limit: int) -> list[DueJob]:
    """Due pending rows, locked so a second dispatcher skips them rather than waits."""
    stmt = (
        select(DueJob)
        .where(DueJob.status == "pending", DueJob.due_at <= now)
        .order_by(DueJob.due_at, DueJob.id)
        .limit(limit)
    )
    if _is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.scalars(stmt))


# --- Redis / RQ --------------------------------------------------------------------------

def redis_connection(app: Flask | None = None) -> Any:
    import redis

    app = app or current_app
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    conn = app.extensions.get("infirmary_redis")
    if conn is None:
        conn = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        app.extensions["infirmary_redis"] = conn
    return conn


def rq_queue(name: str, connection: Any) -> Any:
    from rq import Queue

    return Queue(name, connection=connection)


def _rq_retry(row: DueJob) -> Any:
    from rq import Retry

    remaining = max(row.max_attempts - row.attempts - 1, 0)
    return Retry(max=remaining, interval=list(BACKOFF[:remaining])) if remaining else None


def enqueue_rows(rows: list[DueJob], connection: Any) -> int:
    """Put every claimed row's job on its queue in two Redis round trips, however many rows.

    A row whose job still exists (a re-dispatch after a lost
    commit) is left alone. Checking first and pushing after is safe because the caller holds the
    rows' locks from the claim: nothing else enqueues them in between. Returns how many jobs
    were pushed."""
    from rq import Queue
    from rq.job import Job

    if not rows:
        return 0
    check = connection.pipeline(transaction=False)
    for row in rows:
        check.exists(Job.key_for(row.job_id))
    exists = check.execute()
    timeout = int(current_app.config.get("JOB_TIMEOUT_SECONDS", 120))
    batches: dict[str, list[Any]] = {}
    for row, found in zip(rows, exists, strict=True):
        if found:
            continue
        batches.setdefault(row.queue, []).append(Queue.prepare_data(
            "app.jobs.runner.run_due", args=(row.id,), job_id=row.job_id, retry=_rq_retry(row),
            timeout=timeout, result_ttl=3600, failure_ttl=7 * 86400, description=f"{row.kind} #{row.id}",
        ))
    if batches:
        push = connection.pipeline()
        for name, datas in batches.items():
            rq_queue(name, connection).enqueue_many(datas, pipeline=push)
        push.execute()
    return sum(len(datas) for datas in batches.values())


def dispatch(session: DbSession, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Claim due rows and hand each to RQ (or, with no Redis, return them for inline runs).

    Enqueue happens before the commit: if the commit is lost the row is still pending, gets
    dispatched again under the same job id, and delivery is idempotent. If Redis is down the
    exception rolls the claim back and the rows wait for the next pass."""
    now = now or clock.now()
    rows = claim_due(session, now, limit)
    connection = redis_connection()
    if connection is not None:
        enqueue_rows(rows, connection)
    for row in rows:
        row.status = "enqueued"
        row.enqueued_at = now
    session.flush()
    return [r.id for r in rows]


def sweep_stale(session: DbSession, now: datetime | None = None) -> int:
    """Re-dispatch rows whose job was lost (a worker killed mid-job, Redis flushed).

    A row still 'enqueued' well past the job timeout has no live job working on it; its old job
    (if any) is deleted and the row goes back to pending. A row a worker is delivering right now
    is locked by that worker and skipped; the status change is also conditional, so a row that
    became 'done' after we read it is never put back to 'pending' (that would deliver it twice)."""
    now = now or clock.now()
    stale_after = timedelta(seconds=int(current_app.config.get("JOB_STALE_SECONDS", 600)))
    stmt = select(DueJob).where(DueJob.status == "enqueued", DueJob.enqueued_at < now - stale_after)
    if _is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    rows = list(session.scalars(stmt))
    connection = redis_connection()
    swept = 0
    for row in rows:
        reset = session.execute(
            update(DueJob)
            .where(DueJob.id == row.id, DueJob.status == "enqueued")
            .values(status="pending")
            .execution_options(synchronize_session=False)
        )
        if not getattr(reset, "rowcount", 0):
            continue
        if connection is not None:
            _delete_rq_job(row.job_id, connection)
        swept += 1
        log.warning("re-dispatching stale due row", extra={"due_id": row.id, "kind": row.kind})
    session.expire_all()
    return swept


def _delete_rq_job(job_id: str, connection: Any) -> None:
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        Job.fetch(job_id, connection=connection).delete()
    except NoSuchJobError:
        pass


def retry_failed(session: DbSession, actor: Any, row_id: int) -> DueJob:
    """An administrator sends a failed row round again (audited)."""
    from app.core.errors import Conflict, NotFound
    from app.core.security import Perm, authorize

    authorize(actor, Perm.ADMIN_JOBS)
    row = session.get(DueJob, row_id)
    if row is None:
        raise NotFound("No such job.")
    if row.status != "failed":
        raise Conflict("Only a failed job can be retried.")
    connection = redis_connection()
    if connection is not None:
        _delete_rq_job(row.job_id, connection)
    before = {"status": row.status, "attempts": row.attempts, "last_error": row.last_error}
    row.status, row.attempts, row.due_at = "pending", 0, clock.now()
    audit.record(session, actor, "job.retried", row, before=before,
                 after={"status": "pending", "attempts": 0})
    return row


# --- delivery ----------------------------------------------------------------------------

@contextmanager
def job_context(label: str) -> Iterator[None]:
    token = audit.current_context.set(audit.RequestContext(request_id=label, ip=None))
    try:
        yield
    finally:
        audit.current_context.reset(token)


def _lock_row(session: DbSession, row_id: int) -> DueJob | None:
    """The row if it is still owed, locked until this transaction ends; else None (rolled back)."""
    stmt = select(DueJob).where(DueJob.id == row_id)
    if _is_postgres(session):
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None or row.status not in {"pending", "enqueued"}:
        session.rollback()
        return None
    return row


def deliver(session: DbSession, row_id: int, inline: bool) -> str:
    """Run one due row's handler, exactly once. Commits; raises after recording a failure.

    The handler's writes and the row's 'done' commit together, under the row lock. On failure
    the whole transaction is rolled back (the handler's writes and its after-commit work go
    with it) and the attempt is recorded in a new one. No savepoint on the way: the common,
    successful delivery costs two statements fewer."""
    row = _lock_row(session, row_id)
    if row is None:
        return "skipped"
    fn = HANDLERS.get(row.kind)
    try:
        if fn is None:
            raise LookupError(f"no handler registered for {row.kind!r}")
        fn(session, json.loads(row.payload))
        session.flush()  # a write the database refuses is the handler's failure, not ours
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        session.rollback()
        row = _lock_row(session, row_id)
        if row is None:  # delivered by another run meanwhile: nothing left to record
            return "skipped"
        row.attempts += 1
        row.last_error = error
        if row.attempts >= row.max_attempts:
            row.status = "failed"
        elif inline:
            row.status = "pending"
            row.due_at = clock.now() + timedelta(seconds=BACKOFF[min(row.attempts, len(BACKOFF)) - 1])
        session.commit()
        raise
    row.attempts += 1
    row.status = "done"
    row.finished_at = clock.now()
    session.commit()
    return "done"


@dataclass(frozen=True)
class QueueStats:
    name: str
    queued: int
    started: int
    scheduled: int
    failed: int


def queue_stats(connection: Any) -> list[QueueStats]:
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    stats = []
    for name in QUEUES:
        q = rq_queue(name, connection)
        stats.append(QueueStats(
            name, q.count,
            StartedJobRegistry(queue=q).count,
            ScheduledJobRegistry(queue=q).count,
            FailedJobRegistry(queue=q).count,
        ))
    return stats
