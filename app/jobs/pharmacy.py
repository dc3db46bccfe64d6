"""Pharmacy jobs: the daily stock check (low stock against reorder levels, expiring batches)."""

from __future__ import annotations

from app.core.db import DbSession
from app.domain.dispensary import reorder


def check_stock(session: DbSession) -> str | None:
    """Daily: tell the pharmacy, in one notification, which drugs are below their reorder level
    and which batches expire within PHARMACY_EXPIRY_WARNING_DAYS. A second run the same
    hospital day does nothing."""
    reorder.daily_stock_check(session)
    return None
