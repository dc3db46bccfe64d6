"""Front-desk jobs: sending appointment reminders (due rows) and marking no-shows (periodic)."""

from __future__ import annotations

from typing import Any

from app.core import jobs
from app.core.db import DbSession
from app.core.security import SYSTEM
from app.domain.frontdesk import services as frontdesk
from app.domain.reminders import services as reminders


@jobs.handler(reminders.REMINDER_JOB)
def send_reminder(session: DbSession, payload: dict[str, Any]) -> None:
    """Send one reminder (payload: {"reminder_id": id}); raises when every channel failed, so
    the platform retries it with backoff."""
    reminders.deliver(session, int(payload["reminder_id"]))


def mark_no_shows(session: DbSession) -> str | None:
    """Periodic: appointments still booked NO_SHOW_AFTER_MINUTES after their start become
    no-shows, audited as the system."""
    frontdesk.mark_no_shows(session, SYSTEM)
    return None
