"""Stock counts and reconciliation.

Opening a count snapshots, per batch in the location, what the ledger says is there. Staff
enter what they counted; closing the count posts each difference as a "count" movement with its
reason, so the shelf and the ledger agree again and the correction is on record.
`reconcile` checks the ledger itself: every batch's movements add up to its quantity."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.core import audit, clock
from app.core.db import DbSession
from app.core.errors import Conflict, DomainError, NotFound
from app.core.security import Actor, Perm, authorize
from app.domain.dispensary import ledger, stock
from app.domain.dispensary.inventory_models import (
    COUNT_CLOSED,
    COUNT_OPEN,
    StockCount,
    StockCountLine,
)
from app.domain.dispensary.models import StockBatch, StockLocation, StockMovement
from app.domain.formulary.models import Drug
from app.domain.identity.models import User


def get_count(session: DbSession, count_id: int, *, lock: bool = False) -> StockCount:
    """The count with its lines. With `lock`, the count row is locked until the transaction
    ends (PostgreSQL) and everything is read afresh, so two people changing or closing the same
    count queue, and the second sees what the first did."""
    query = (select(StockCount).where(StockCount.id == count_id)
             .options(selectinload(StockCount.lines).selectinload(StockCountLine.batch)
                      .selectinload(StockBatch.drug)))
    if lock:
        query = query.with_for_update(of=StockCount).execution_options(populate_existing=True)
    count = session.scalar(query)
    if count is None:
        raise NotFound("No such stock count.")
    return count


def list_counts(session: DbSession, limit: int = 30) -> list[StockCount]:
    return list(session.scalars(select(StockCount).order_by(StockCount.id.desc()).limit(limit)))


def open_count(session: DbSession, actor: Actor, location_id: int, note: str = "") -> StockCount:
    """Start counting a location: one line per batch with stock, expected = the ledger's figure
    now. One open count per location at a time."""
    authorize(actor, Perm.STOCK_MANAGE)
    location = stock.get_location(session, location_id)
    if stock.is_postgres(session):
        # Two pharmacists opening a count of the same cupboard at once: one count.
        session.execute(select(StockLocation.id).where(StockLocation.id == location.id)
                        .with_for_update())
    existing = session.scalar(select(StockCount.id).where(
        StockCount.location_id == location.id, StockCount.status == COUNT_OPEN))
    if existing is not None:
        raise Conflict(f"A count of {location.name} is already open (count {existing}): "
                       "finish it first.")
    count = StockCount(location_id=location.id, status=COUNT_OPEN, note=(note or "").strip() or None,
                       opened_by_id=actor.id, opened_by_label=actor.label, opened_at=clock.now())
    session.add(count)
    session.flush()
    batches = session.execute(
        select(StockBatch.id, StockBatch.quantity).join(Drug, Drug.id == StockBatch.drug_id)
        .where(StockBatch.location_id == location.id, StockBatch.quantity > 0)
        .order_by(Drug.name, StockBatch.expiry, StockBatch.id)).all()
    for batch_id, quantity in batches:
        session.add(StockCountLine(count_id=count.id, batch_id=batch_id, expected=quantity))
    session.flush()
    audit.record(session, actor, "stock.count_opened", count,
                 after={"location": location.code, "lines": len(batches)})
    return count


def _open(session: DbSession, count_id: int) -> StockCount:
    # Locked: two pharmacists closing the same count at once would otherwise both read "open"
    # and post every variance twice; the second now waits, then finds it closed (409).
    count = get_count(session, count_id, lock=True)
    if count.status != COUNT_OPEN:
        raise Conflict("This count is already closed.")
    return count


def record_counted(session: DbSession, actor: Actor, count_id: int,
                   counted: Mapping[int, int | None]) -> StockCount:
    """Enter (or correct) counted quantities, by line id. None leaves a line uncounted."""
    authorize(actor, Perm.STOCK_MANAGE)
    count = _open(session, count_id)
    lines = {line.id: line for line in count.lines}
    changed = {}
    for line_id, value in counted.items():
        line = lines.get(line_id)
        if line is None:
            raise DomainError("That line is not part of this count.", field=f"line-{line_id}")
        if value is not None and not (0 <= value <= stock.MAX_STOCK_QUANTITY):
            raise DomainError("Enter what is on the shelf: zero or more.", field=f"line-{line_id}")
        if line.counted != value:
            changed[str(line.id)] = value
            line.counted = value
    session.flush()
    if changed:
        audit.record(session, actor, "stock.count_entered", count, after={"counted": changed})
    return count


def close_count(session: DbSession, actor: Actor, count_id: int, *, reason: str = "",
                witness: User | None = None) -> StockCount:
    """Close the count: each counted line's difference from the expected figure becomes a
    "count" movement. Every line must be counted. A difference in a controlled drug needs a
    witness. Stock that moved since the count opened is corrected by the difference only."""
    authorize(actor, Perm.STOCK_MANAGE)
    count = _open(session, count_id)
    missing = [line for line in count.lines if line.counted is None]
    if missing:
        raise DomainError(f"{len(missing)} line(s) not counted yet: enter a figure for every "
                          "batch (zero if none is there).", field=f"line-{missing[0].id}")
    reason = (reason or "").strip()
    differing = [line for line in count.lines if line.counted != line.expected]
    if differing and not reason:
        raise DomainError("Say why the shelf differs from the ledger (e.g. what was checked).",
                          field="reason")
    if any(line.batch.drug.controlled for line in differing) and witness is None:
        raise DomainError("A controlled drug's count differs: a second person must witness.",
                          field="witness")
    if witness is not None and actor.id is not None and witness.id == actor.id:
        raise DomainError("The witness must be someone other than you.", field="witness")
    text = f"Stock count {count.id}: {reason}" if reason else f"Stock count {count.id}"
    variances = []
    for line in count.lines:
        assert line.counted is not None
        line.variance = line.counted - line.expected
        if line.variance:
            movement = ledger.post(
                session, actor, line.batch_id, line.variance, "count", reason=text,
                reference=f"count {count.id}",
                witness=witness if line.batch.drug.controlled else None,
                field=f"line-{line.id}")
            line.movement_id = movement.id
            variances.append({"batch": line.batch.batch_number, "drug": line.batch.drug.name,
                              "expected": line.expected, "counted": line.counted,
                              "variance": line.variance})
    count.status = COUNT_CLOSED
    count.closed_by_id = actor.id
    count.closed_by_label = actor.label
    count.closed_at = clock.now()
    if witness is not None and differing:
        count.witness_id = witness.id
    session.flush()
    audit.record(session, actor, "stock.count_closed", count, reason=reason or None,
                 after={"lines": len(count.lines), "variances": variances})
    return count


# --- reconciliation ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Discrepancy:
    """A batch whose ledger does not add up to its quantity (or whose last movement's balance
    is not its quantity)."""

    batch_id: int
    drug_name: str
    batch_number: str
    location_code: str
    quantity: int
    ledger_sum: int
    last_balance: int | None


def reconcile(session: DbSession, location_id: int | None = None) -> list[Discrepancy]:
    """Every batch whose ledger disagrees with its quantity; an empty list means all is well."""
    sums = (select(StockMovement.batch_id.label("batch_id"),
                   func.sum(StockMovement.quantity).label("total"),
                   func.max(StockMovement.id).label("last_id"))
            .group_by(StockMovement.batch_id).subquery())
    query = (
        select(StockBatch.id, StockBatch.batch_number, StockBatch.quantity, Drug.name,
               StockLocation.code, func.coalesce(sums.c.total, 0),
               StockMovement.balance_after)
        .join(Drug, Drug.id == StockBatch.drug_id)
        .join(StockLocation, StockLocation.id == StockBatch.location_id)
        .outerjoin(sums, sums.c.batch_id == StockBatch.id)
        .outerjoin(StockMovement, StockMovement.id == sums.c.last_id)
        .order_by(StockBatch.id)
    )
    if location_id is not None:
        query = query.where(StockBatch.location_id == location_id)
    found = []
    for batch_id, number, quantity, drug_name, code, total, last_balance in session.execute(query):
        total = int(total or 0)
        if total != quantity or (last_balance is not None and last_balance != quantity):
            found.append(Discrepancy(batch_id, drug_name, number, code, quantity, total,
                                     last_balance))
    return found
