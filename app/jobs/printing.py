"""Print jobs on the `pdf` queue, and the clean-up of finished ones."""

from __future__ import annotations

from typing import Any

from app.core import jobs
from app.core.db import DbSession
from app.domain.printing import services as printing


@jobs.handler(printing.RENDER_JOB)
def render_print_job(session: DbSession, payload: dict[str, Any]) -> None:
    """Render one queued print job into its row (payload: {"print_job_id": id})."""
    printing.produce(session, int(payload["print_job_id"]))


def purge_print_jobs(session: DbSession) -> str | None:
    """Periodic: delete print jobs past their retention (PRINT_JOB_RETENTION_HOURS)."""
    printing.purge_expired(session)
    return None
