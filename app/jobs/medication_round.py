"""Medication round jobs: the daily roll of the dose plan, and the every-minute sweep that
reminds nurses of doses falling due and raises alerts for doses left open."""

from __future__ import annotations

from app.core.db import DbSession
from app.domain.administration import planning, reminders


def extend_dose_plan(session: DbSession) -> str | None:
    """Daily: plan every schedulable prescription's doses to DOSE_PLAN_DAYS ahead (rolling).
    Idempotent: a second run the same day plans nothing new."""
    planning.extend_horizon(session)
    return None


def sweep_doses(session: DbSession) -> str | None:
    """Every minute: remind the responsible nurse of doses just due (once per dose), then raise
    a `dose_overdue` alert for each dose open DOSE_OVERDUE_MINUTES after its time (once)."""
    reminders.remind_due(session)
    reminders.escalate_overdue(session)
    return None
