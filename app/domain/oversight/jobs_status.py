"""What the admin Jobs page shows: queues, scheduled and failed work, periodic job outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from app.core import jobs
from app.core.db import DbSession
from app.jobs.schedule import PERIODIC, Periodic


@dataclass
class PeriodicRow:
    spec: Periodic
    state: jobs.PeriodicJobState | None


@dataclass
class JobsStatus:
    mode: str
    queues: list[jobs.QueueStats] = field(default_factory=list)
    redis_error: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    failed: list[jobs.DueJob] = field(default_factory=list)
    upcoming: list[jobs.DueJob] = field(default_factory=list)
    periodic: list[PeriodicRow] = field(default_factory=list)
    rq_failed: list[dict[str, Any]] = field(default_factory=list)


def collect(session: DbSession) -> JobsStatus:
    connection = jobs.redis_connection()
    status = JobsStatus(mode="RQ + Redis" if connection is not None else "embedded (in-process)")
    rows = session.execute(select(jobs.DueJob.status, func.count()).group_by(jobs.DueJob.status))
    status.counts = {state: n for state, n in rows}
    status.failed = list(session.scalars(
        select(jobs.DueJob).where(jobs.DueJob.status == "failed").order_by(jobs.DueJob.id.desc()).limit(50)))
    status.upcoming = list(session.scalars(
        select(jobs.DueJob).where(jobs.DueJob.status == "pending").order_by(jobs.DueJob.due_at).limit(20)))
    states = {s.name: s for s in session.scalars(select(jobs.PeriodicJobState))}
    status.periodic = [PeriodicRow(spec, states.get(spec.name)) for spec in PERIODIC]
    if connection is not None:
        try:
            status.queues = jobs.queue_stats(connection)
            status.rq_failed = _rq_failed(connection)
        except Exception as exc:  # noqa: BLE001 - Redis away: the page still answers and says so
            status.redis_error = f"{type(exc).__name__}: {exc}"
    return status


def _rq_failed(connection: Any, limit: int = 20) -> list[dict[str, Any]]:
    from rq.job import Job
    from rq.registry import FailedJobRegistry

    out: list[dict[str, Any]] = []
    for name in jobs.QUEUES:
        registry = FailedJobRegistry(queue=jobs.rq_queue(name, connection))
        for job_id in registry.get_job_ids(0, limit - 1):
            job = Job.fetch(job_id, connection=connection)
            result = job.latest_result()
            info = (result.exc_string if result is not None else "") or ""
            out.append({"queue": name, "id": job_id, "description": job.description,
                        "error": info.strip().splitlines()[-1] if info.strip() else ""})
    return out
