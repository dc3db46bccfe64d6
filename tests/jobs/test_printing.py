"""Print jobs ride the pdf queue: delivered inline in the embedded default, by an RQ worker with
Redis, and exactly once either way."""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy import func, select

from app.core import jobs
from app.core.audit import AuditEvent
from app.domain.oversight.services import AuditFilter
from app.domain.printing import services as printing
from app.domain.printing.models import PrintJob
from app.jobs import printing as print_jobs
from app.jobs.runner import run_due


def _ask(db_session: Any, make_user: Any) -> tuple[int, int]:
    auditor = make_user("auditor")
    job = printing.request_audit_extract(db_session, auditor, AuditFilter(), "Europe/London")
    db_session.commit()
    row = db_session.scalar(select(jobs.DueJob).where(jobs.DueJob.kind == printing.RENDER_JOB))
    return job.id, row.id


def _status(db_session: Any, job_id: int) -> str:
    db_session.expire_all()
    return db_session.get(PrintJob, job_id).status


def test_the_handler_is_registered_with_the_app() -> None:
    assert jobs.HANDLERS[printing.RENDER_JOB] is print_jobs.render_print_job


def test_a_due_row_delivers_its_print_job_once(db_session: Any, make_user: Any) -> None:
    job_id, row_id = _ask(db_session, make_user)
    assert run_due(row_id) == "done"
    assert run_due(row_id) == "skipped"
    assert _status(db_session, job_id) == "done"
    exported = db_session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "audit.exported_pdf"))
    assert exported == 1


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="runs in the PostgreSQL + Redis pass")
def test_an_rq_worker_on_the_pdf_queue_renders_it(app: Any, db_session: Any, make_user: Any) -> None:
    from rq import SimpleWorker

    connection = jobs.redis_connection(app)
    connection.flushdb()
    job_id, row_id = _ask(db_session, make_user)
    assert jobs.dispatch(db_session) == [row_id]
    db_session.commit()
    queue = jobs.rq_queue("pdf", connection)
    assert queue.job_ids == [f"due-{row_id}"]
    SimpleWorker([queue], connection=connection).work(burst=True)
    assert _status(db_session, job_id) == "done"


def test_the_purge_job_removes_expired_print_jobs(db_session: Any, make_user: Any, app: Any, monkeypatch: Any) -> None:
    job_id, _ = _ask(db_session, make_user)
    monkeypatch.setitem(app.config, "PRINT_JOB_RETENTION_HOURS", 0)
    assert print_jobs.purge_print_jobs(db_session) is None
    db_session.commit()
    db_session.expunge_all()
    assert db_session.get(PrintJob, job_id) is None
