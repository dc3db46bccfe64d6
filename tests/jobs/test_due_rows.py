"""Due work lives as rows; the scheduler pass delivers each exactly once, retries with backoff,
and gives up into a failed state an administrator can retry."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.core import audit, clock, jobs
from app.core.audit import AuditEvent
from app.core.security import SYSTEM
from app.jobs.runner import run_due, tick
from app.jobs.schedule import BY_NAME

calls: list[str] = []


@jobs.handler("test.record")
def _record(session: Any, payload: dict[str, Any]) -> None:
    calls.append(payload["tag"])
    audit.record(session, SYSTEM, "test.delivered", after={"tag": payload["tag"]})


@jobs.handler("test.explode")
def _explode(session: Any, payload: dict[str, Any]) -> None:
    audit.record(session, SYSTEM, "test.half_done")  # rolled back with the failure
    raise RuntimeError("printer on fire")


@pytest.fixture()
def inline(app: Any) -> Iterator[None]:
    """The embedded default: no Redis, rows delivered in-process."""
    previous = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = ""
    calls.clear()
    try:
        yield
    finally:
        app.config["REDIS_URL"] = previous


def _delivered(db_session: Any) -> int:
    return db_session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "test.delivered"))


def test_schedule_refuses_unknown_kinds_and_queues(db_session: Any) -> None:
    with pytest.raises(ValueError, match="no handler"):
        jobs.schedule(db_session, "test.nothing")
    with pytest.raises(ValueError, match="queue"):
        jobs.schedule(db_session, "test.record", {"tag": "x"}, queue="fast")


def test_dedupe_key_schedules_once(db_session: Any) -> None:
    a = jobs.schedule(db_session, "test.record", {"tag": "a"}, dedupe_key="dose:1:2026-11-22T09:00")
    b = jobs.schedule(db_session, "test.record", {"tag": "b"}, dedupe_key="dose:1:2026-11-22T09:00")
    assert a.id == b.id


def test_tick_delivers_due_rows_once_and_leaves_future_ones(app: Any, db_session: Any, inline: None) -> None:
    now = clock.now()
    due = jobs.schedule(db_session, "test.record", {"tag": "due"}, due_at=now - timedelta(seconds=1)).id
    later = jobs.schedule(db_session, "test.record", {"tag": "later"}, due_at=now + timedelta(hours=1)).id
    db_session.commit()
    tick(app)
    tick(app)
    assert calls == ["due"]
    assert db_session.get(jobs.DueJob, due).status == "done"
    assert db_session.get(jobs.DueJob, later).status == "pending"
    assert run_due(due) == "skipped"  # a duplicate delivery is a no-op
    assert _delivered(db_session) == 1


def test_a_rolled_back_schedule_leaves_nothing_to_run(app: Any, db_session: Any, inline: None) -> None:
    jobs.schedule(db_session, "test.record", {"tag": "ghost"})
    db_session.rollback()
    tick(app)
    assert calls == []


def test_failures_back_off_then_fail_and_an_admin_can_retry(
    app: Any, db_session: Any, inline: None, client: Any, login_as: Any
) -> None:
    row_id = jobs.schedule(db_session, "test.explode").id
    db_session.commit()
    with clock.freeze(clock.now()) as time:
        for attempt, wait in enumerate((*jobs.BACKOFF, None), start=1):
            tick(app)
            row = db_session.get(jobs.DueJob, row_id)
            db_session.refresh(row)
            assert row.attempts == attempt
            assert "printer on fire" in (row.last_error or "")
            if wait is None:
                assert row.status == "failed"
            else:
                assert row.status == "pending"
                assert row.due_at == clock.now() + timedelta(seconds=wait)
                tick(app)  # not yet due: nothing happens
                assert db_session.get(jobs.DueJob, row_id).attempts == attempt
                time.advance(seconds=wait)
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "test.half_done")) is None
    login_as("admin")
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert f'id="failed-{row_id}"' in page and "printer on fire" in page
    response = client.post_form(f"/admin/jobs/{row_id}/retry", htmx=True)
    assert response.status_code == 200
    row = db_session.get(jobs.DueJob, row_id)
    db_session.refresh(row)
    assert (row.status, row.attempts) == ("pending", 0)
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "job.retried")) is not None


def test_periodic_jobs_run_when_due_and_record_their_outcome(app: Any, db_session: Any, inline: None) -> None:
    from app.core.jobs import PeriodicJobState

    tick(app)  # creates the states, runs everything due now
    state = db_session.get(PeriodicJobState, "audit-verify")
    db_session.refresh(state)
    assert state.last_outcome == "ok" and state.last_finished_at is not None
    nxt = state.next_run_at.astimezone(clock.UTC)
    local = nxt.astimezone(__import__("zoneinfo").ZoneInfo(app.config["HOSPITAL_TIMEZONE"]))
    assert (local.hour, local.minute) == (2, 0)
    assert BY_NAME["audit-verify"].daily_at is not None


def test_a_broken_audit_trail_alerts_admins_and_auditors(app: Any, db_session: Any, inline: None, make_user: Any) -> None:
    from sqlalchemy import text

    from app.core.jobs import PeriodicJobState
    from app.domain.notifications.models import Notification
    from app.jobs.runner import run_periodic

    admin, auditor, nurse = (make_user(r).id for r in ("admin", "auditor", "nurse"))
    if db_session.get_bind().dialect.name == "postgresql":
        db_session.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        db_session.execute(text("DROP TRIGGER audit_event_no_update"))
    db_session.execute(text("UPDATE audit_event SET reason = 'tampered' WHERE seq = 1"))
    db_session.commit()
    assert run_periodic("audit-verify") != "ok"
    alerts = list(db_session.scalars(select(Notification).where(Notification.kind == "audit.broken")))
    assert {a.recipient_id for a in alerts} == {admin, auditor}
    assert all(a.priority == "high" and "seq=1" in a.text for a in alerts)
    assert nurse not in {a.recipient_id for a in alerts}
    state = db_session.get(PeriodicJobState, "audit-verify")
    db_session.refresh(state)
    assert state.last_outcome == "failed" and "seq=1" in (state.last_error or "")


needs_redis = pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="runs in the PostgreSQL + Redis pass")


@needs_redis
def test_dispatch_enqueues_one_rq_job_per_row_and_a_worker_delivers_it(app: Any, db_session: Any) -> None:
    from rq import SimpleWorker

    calls.clear()
    connection = jobs.redis_connection(app)
    connection.flushdb()
    rows = [jobs.schedule(db_session, "test.record", {"tag": f"r{i}"}).id for i in range(3)]
    db_session.commit()
    first = jobs.dispatch(db_session)
    db_session.commit()
    assert sorted(first) == sorted(rows)
    assert jobs.dispatch(db_session) == []  # claimed rows are not claimed again
    # Enqueueing the same row again (a lost commit, a re-dispatch) does not duplicate the job.
    assert jobs.enqueue_rows([db_session.get(jobs.DueJob, rows[0])], connection) == 0
    queue = jobs.rq_queue("default", connection)
    assert sorted(queue.job_ids) == sorted(f"due-{r}" for r in rows)
    SimpleWorker([queue], connection=connection).work(burst=True)
    assert sorted(calls) == ["r0", "r1", "r2"]
    for r in rows:
        row = db_session.get(jobs.DueJob, r)
        db_session.refresh(row)
        assert row.status == "done"
