"""Nightly audit verification."""

from __future__ import annotations

from app.core import audit
from app.core.db import DbSession
from app.domain.notifications.services import notify


def verify_audit_trail(session: DbSession) -> str | None:
    """Verify the whole chain. If it is broken, alert every admin and auditor (high priority)."""
    result = audit.verify(session)
    if result.ok:
        return None
    text = "Audit trail verification FAILED. " + result.describe()
    for role in ("admin", "auditor"):
        notify(session, kind="audit.broken", text=text, role=role, priority="high",
               link="/admin/jobs")
    return text
