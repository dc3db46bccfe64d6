"""Observations: finding admissions whose next set of vital signs is overdue."""

from __future__ import annotations

from app.core.db import DbSession
from app.domain.observations import services as observations


def raise_overdue_observations(session: DbSession) -> str | None:
    """Periodic (every minute): an "observations overdue" alert for each in-progress admission
    whose next set is past due (or with no set an hour after admission); idempotent."""
    observations.raise_overdue(session)
    return None
