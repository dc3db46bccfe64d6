"""Helpers for the inventory tests: a pharmacist and a witness, ledger sums, register totals."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app.domain.dispensary.models import ControlledDrugEntry, StockBatch, StockMovement


def ledger_sum(session: Any, batch_id: int) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(StockMovement.quantity), 0))
                              .where(StockMovement.batch_id == batch_id)) or 0)


def quantity(session: Any, batch_id: int) -> int:
    return int(session.scalar(select(StockBatch.quantity).where(StockBatch.id == batch_id)))


def movements(session: Any, batch_id: int) -> list[tuple[str, int]]:
    return [(m.kind, m.quantity) for m in session.scalars(
        select(StockMovement).where(StockMovement.batch_id == batch_id).order_by(StockMovement.id))]


def register_entries(session: Any, drug_id: int, location_id: int) -> list[ControlledDrugEntry]:
    return list(session.scalars(select(ControlledDrugEntry).where(
        ControlledDrugEntry.drug_id == drug_id, ControlledDrugEntry.location_id == location_id)
        .order_by(ControlledDrugEntry.id)))
