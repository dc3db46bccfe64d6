"""Prescribing jobs: courses whose stop time has passed become completed."""

from __future__ import annotations

from app.core.db import DbSession
from app.core.security import SystemActor
from app.domain.prescribing import services as prescribing

COMPLETER = SystemActor("prescription completion job")


def complete_finished_prescriptions(session: DbSession) -> str | None:
    """Periodic: active and on-hold prescriptions past their stop time are marked completed
    (versioned, audited and announced like any other change)."""
    prescribing.complete_finished(session, COMPLETER)
    return None
