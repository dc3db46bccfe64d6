"""Running due rows and periodic jobs: as RQ jobs in `flask worker`, from `flask scheduler`,
or in-process in the embedded default (no Redis)."""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import select

from app.core import clock, jobs
from app.core.db import DbSession
from app.extensions import db
from app.jobs.schedule import BY_NAME, PERIODIC, Periodic

DISPATCHER = "dispatch-due"

log = logging.getLogger("infirmary.jobs")
_process_app: Flask | None = None


def _app() -> Flask:
    global _process_app
    if has_app_context():
        return current_app._get_current_object()  # type: ignore[attr-defined]
    if _process_app is None:
        from app import create_app

        _process_app = create_app()
    return _process_app


def _import(path: str) -> Callable[..., Any]:
    module, _, name = path.rpartition(".")
    fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return fn


# --- RQ entry points (ids and plain values only) -------------------------------------------

def run_due(row_id: int) -> str:
    """Deliver one due row. Raises on failure so RQ retries it with backoff."""
    app = _app()
    with app.app_context(), jobs.job_context(f"job:due-{row_id}"):
        try:
            return jobs.deliver(db.session, row_id, inline=not app.config.get("REDIS_URL"))
        finally:
            db.session.remove()


def run_periodic(name: str) -> str:
    """Run one periodic job and record its outcome for the Jobs page."""
    app = _app()
    spec = BY_NAME[name]
    with app.app_context(), jobs.job_context(f"job:periodic-{name}"):
        session = db.session
        try:
            _mark(session, name, started=True)
            session.commit()
            try:
                with session.begin_nested():
                    problem = _import(spec.func)(session)
            except Exception as exc:  # the outcome is recorded, then RQ records the failure too
                session.rollback()
                _mark(session, name, outcome="failed", error=f"{type(exc).__name__}: {exc}")
                session.commit()
                raise
            _mark(session, name, outcome="failed" if problem else "ok", error=problem)
            session.commit()
            return problem or "ok"
        finally:
            session.remove()


def _mark(session: DbSession, name: str, *, started: bool = False, outcome: str | None = None,
          error: str | None = None) -> None:
    state = session.get(jobs.PeriodicJobState, name)
    if state is None:
        state = jobs.PeriodicJobState(name=name, next_run_at=clock.now())
        session.add(state)
    if started:
        state.last_started_at = clock.now()
        state.last_outcome = "running"
    if outcome is not None:
        state.last_finished_at = clock.now()
        state.last_outcome = outcome
        state.last_error = error[:4000] if error else None


# --- functions the schedule names ---------------------------------------------------------

def dispatch_due_rows(session: DbSession) -> str | None:
    jobs.dispatch(session)
    return None


def sweep_stale_rows(session: DbSession) -> str | None:
    jobs.sweep_stale(session)
    return None


# --- the scheduler's tick -----------------------------------------------------------------

def claim_periodic(session: DbSession, now: datetime, tz: str) -> list[Periodic]:
    """Periodic jobs due now. Each slot is claimed by advancing next_run_at under a row lock,
    so two schedulers never start the same run."""
    for spec in PERIODIC:
        if session.get(jobs.PeriodicJobState, spec.name) is None:
            session.add(jobs.PeriodicJobState(name=spec.name, next_run_at=now))
    session.flush()
    stmt = select(jobs.PeriodicJobState).where(jobs.PeriodicJobState.next_run_at <= now)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    due = []
    for state in session.scalars(stmt):
        found = BY_NAME.get(state.name)
        if found is None:
            continue
        state.next_run_at = found.next_after(now, tz)
        due.append(found)
    session.flush()
    return due


def tick(app: Flask, now: datetime | None = None) -> dict[str, int]:
    """One scheduler pass: start due periodic jobs, dispatch due rows, and (embedded) run them."""
    now = now or clock.now()
    counts = {"periodic": 0, "dispatched": 0, "delivered": 0}
    with app.app_context(), jobs.job_context("scheduler"):
        session = db.session
        try:
            connection = jobs.redis_connection(app)
            specs = claim_periodic(session, now, app.config["HOSPITAL_TIMEZONE"])
            for spec in specs:
                if not spec.in_scheduler and connection is not None:
                    jobs.rq_queue(spec.queue, connection).enqueue_call(
                        "app.jobs.runner.run_periodic", args=(spec.name,),
                        job_id=f"periodic-{spec.name}-{int(now.timestamp())}", result_ttl=86400,
                        failure_ttl=7 * 86400, description=f"periodic {spec.name}",
                    )
            session.commit()
            # The dispatcher runs on every pass, whatever its row says; its row records it ran.
            ids = jobs.dispatch(session)
            if any(spec.name == DISPATCHER for spec in specs):
                _mark(session, DISPATCHER, started=True)
                _mark(session, DISPATCHER, outcome="ok")
            session.commit()
            counts["dispatched"] = len(ids)
            for spec in specs:
                if spec.name != DISPATCHER and (spec.in_scheduler or connection is None):
                    counts["periodic"] += 1
                    try:
                        run_periodic(spec.name)
                    except Exception:
                        log.exception("periodic job failed", extra={"job": spec.name})
            if connection is None:
                for row_id in ids:
                    try:
                        run_due(row_id)
                        counts["delivered"] += 1
                    except Exception:
                        log.exception("due job failed", extra={"due_id": row_id})
        finally:
            session.remove()
    return counts


class EmbeddedRunner(threading.Thread):
    """The embedded default's in-process scheduler and worker (no Redis)."""

    def __init__(self, app: Flask, interval: float = 1.0) -> None:
        super().__init__(name="infirmary-jobs", daemon=True)
        self.app = app
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                tick(self.app)
            except Exception:
                log.exception("embedded job runner pass failed")

    def stop(self) -> None:
        self.stopping.set()
