"""Escalation: an unacknowledged alert climbs its chain, one due row per step."""

from __future__ import annotations

from typing import Any

from app.core import jobs
from app.core.db import DbSession
from app.domain.escalation import services as escalation


@jobs.handler(escalation.ESCALATE_JOB)
def escalate_alert(session: DbSession, payload: dict[str, Any]) -> None:
    """Notify the next level of an alert still open ALERT_ACK_MINUTES after the last step
    (nothing when it was acknowledged, resolved or moved to another chain meanwhile)."""
    escalation.escalate(session, int(payload["alert_id"]), str(payload["chain"]), int(payload["level"]))
