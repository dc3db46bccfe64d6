"""Reorder levels, and the daily stock check that tells the pharmacy what is running low and
what is about to expire (one summary a day, however often the job runs)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.core import audit, clock
from app.core.db import DbSession
from app.core.errors import DomainError
from app.core.security import Actor, Perm, authorize
from app.domain.dispensary import stock
from app.domain.dispensary.inventory_models import ReorderLevel, StockAlertRun
from app.domain.dispensary.models import StockBatch
from app.domain.formulary.models import Drug
from app.domain.notifications.services import notify

STOCK_ALERT_KIND = "pharmacy.stock"
STOCK_ALERT_LINK = "/pharmacy/stock/expiring"


def level_for(session: DbSession, drug_id: int, location_id: int) -> ReorderLevel | None:
    return session.scalar(select(ReorderLevel).where(ReorderLevel.drug_id == drug_id,
                                                     ReorderLevel.location_id == location_id))


def set_reorder_level(session: DbSession, actor: Actor, drug_id: int, location_id: int,
                      minimum: int | None, reorder_quantity: int | None) -> ReorderLevel | None:
    """Set (or, with no minimum, remove) the drug's reorder level in a location. Audited."""
    authorize(actor, Perm.STOCK_MANAGE)
    drug = session.get(Drug, drug_id)
    if drug is None:
        raise DomainError("No such drug.", field="drug_id")
    location = stock.get_location(session, location_id)
    level = level_for(session, drug.id, location.id)
    if minimum is None:
        if level is not None:
            audit.record(session, actor, "stock.reorder_level_removed", level,
                         before={"minimum": level.minimum, "reorder_quantity": level.reorder_quantity})
            session.delete(level)
            session.flush()
        return None
    if not 0 < minimum <= stock.MAX_STOCK_QUANTITY:
        raise DomainError("Enter the level stock should not fall below (more than zero).",
                          field="minimum")
    if reorder_quantity is None or not 0 < reorder_quantity <= stock.MAX_STOCK_QUANTITY:
        raise DomainError("Enter how much to order (more than zero).", field="reorder_quantity")
    before = ({"minimum": level.minimum, "reorder_quantity": level.reorder_quantity}
              if level is not None else {})
    if level is None:
        level = ReorderLevel(drug_id=drug.id, location_id=location.id, minimum=minimum,
                             reorder_quantity=reorder_quantity)
        session.add(level)
    else:
        level.minimum, level.reorder_quantity = minimum, reorder_quantity
    session.flush()
    audit.record(session, actor, "stock.reorder_level_set", level, before=before,
                 after={"drug": drug.name, "location": location.code, "minimum": minimum,
                        "reorder_quantity": reorder_quantity})
    return level


@dataclass(frozen=True)
class LowStock:
    level: ReorderLevel
    usable: int


def low_stock(session: DbSession) -> list[LowStock]:
    """Reorder levels whose drug has less usable (unexpired) stock than the minimum there."""
    day = stock.today()
    usable = (select(StockBatch.drug_id, StockBatch.location_id,
                     func.sum(StockBatch.quantity).label("usable"))
              .where(StockBatch.expiry >= day).group_by(StockBatch.drug_id, StockBatch.location_id)
              .subquery())
    rows = session.execute(
        select(ReorderLevel, func.coalesce(usable.c.usable, 0))
        .outerjoin(usable, (usable.c.drug_id == ReorderLevel.drug_id)
                   & (usable.c.location_id == ReorderLevel.location_id))
        .join(Drug, Drug.id == ReorderLevel.drug_id)
        .order_by(Drug.name)).all()
    return [LowStock(level, int(qty or 0)) for level, qty in rows if int(qty or 0) < level.minimum]


def _claim_day(session: DbSession) -> StockAlertRun | None:
    """Today's run row, or None when today's check already ran."""
    day = stock.today()
    if stock.is_postgres(session):
        inserted = session.scalar(pg_insert(StockAlertRun)
                                  .values(day=day, low_stock=0, expiring=0, expired=0,
                                          ran_at=clock.now())
                                  .on_conflict_do_nothing().returning(StockAlertRun.id))
        return session.get(StockAlertRun, inserted) if inserted is not None else None
    if session.scalar(select(StockAlertRun.id).where(StockAlertRun.day == day)) is not None:
        return None
    run = StockAlertRun(day=day, ran_at=clock.now())
    session.add(run)
    session.flush()
    return run


def daily_stock_check(session: DbSession) -> StockAlertRun | None:
    """Once per hospital day: one notification to the pharmacy summarising drugs below their
    reorder level and batches expiring within PHARMACY_EXPIRY_WARNING_DAYS (or expired and
    still on the shelf). Returns None when today's check already ran."""
    run = _claim_day(session)
    if run is None:
        return None
    day = stock.today()
    days = int(current_app.config["PHARMACY_EXPIRY_WARNING_DAYS"])
    low = low_stock(session)
    soon = stock.expiring(session, days)
    expired = [b for b in soon if b.expiry < day]
    expiring = [b for b in soon if b.expiry >= day]
    run.low_stock, run.expiring, run.expired = len(low), len(expiring), len(expired)
    session.flush()
    if not (low or soon):
        return run
    parts = []
    if low:
        names = ", ".join(f"{x.level.drug.name} ({x.level.location.code}: {x.usable} of "
                          f"{x.level.minimum})" for x in low[:5])
        more = f" and {len(low) - 5} more" if len(low) > 5 else ""
        parts.append(f"{len(low)} below reorder level: {names}{more}.")
    if expiring:
        first = expiring[0]
        parts.append(f"{len(expiring)} batch(es) expire within {days} days "
                     f"(first: {first.drug.name} {first.batch_number} on {first.expiry:%d %b %Y}).")
    if expired:
        parts.append(f"{len(expired)} expired batch(es) still in stock: remove them.")
    notify(session, kind=STOCK_ALERT_KIND, dept="pharmacy", link=STOCK_ALERT_LINK,
           priority="high" if expired else "normal",
           text="Stock check " + f"{day:%d %b %Y}: " + " ".join(parts))
    return run
