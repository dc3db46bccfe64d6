"""Bed jobs: a reservation that nobody used lapses at its time (one due row per reservation)."""

from __future__ import annotations

from typing import Any

from app.core import jobs
from app.core.db import DbSession
from app.core.security import SYSTEM
from app.domain.facilities import beds


@jobs.handler(beds.RESERVATION_EXPIRY_JOB)
def expire_bed_reservation(session: DbSession, payload: dict[str, Any]) -> None:
    """Release the reserved bed (payload: {"reservation_id": id}) unless the reservation was
    used or cancelled meanwhile; audited as the system, and the reserver is told."""
    beds.expire_reservation(session, SYSTEM, int(payload["reservation_id"]))
