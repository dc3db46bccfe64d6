"""Nightly duplicate scan: records that were registered or edited since the last scan are checked
against the whole register, so that pairs nobody saved-anyway still reach the supervisor."""

from __future__ import annotations

from datetime import timedelta

from app.core import clock
from app.core.db import DbSession
from app.core.security import SYSTEM
from app.domain.notifications.services import notify
from app.domain.registry import services as registry

# A little more than a day, so a scan that ran late or failed once still covers every change.
LOOKBACK = timedelta(hours=26)


def scan_for_duplicates(session: DbSession) -> str | None:
    """Put likely pairs among yesterday's registrations and edits on the worklist; tell the
    registry supervisors when there is something new to review."""
    before = registry.count_open(session)
    registry.scan_recent(session, SYSTEM, clock.now() - LOOKBACK)
    added = registry.count_open(session) - before
    if added > 0:
        notify(session, kind="registry.duplicates", role="registry_supervisor",
               link="/registry/duplicates",
               text=f"{added} new possible duplicate record pair(s) to review.")
    return None
