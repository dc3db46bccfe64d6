"""Adjustments: stock that left (or turned up) other than by receipt, dispensing or transfer,
always with a reason, audited with the quantity before and after. Never below zero."""

from __future__ import annotations

from app.core import audit
from app.core.db import DbSession
from app.core.errors import DomainError
from app.core.security import Actor, Perm, authorize
from app.domain.dispensary import ledger, stock
from app.domain.dispensary.models import StockBatch, StockMovement
from app.domain.formulary.models import Drug
from app.domain.identity.models import User

# key -> label; "other" needs the free text to say what happened.
REASONS: dict[str, str] = {
    "breakage": "Breakage",
    "expired": "Expired",
    "destroyed": "Destroyed",
    "count_correction": "Count correction",
    "other": "Other",
}


def adjust_stock(
    session: DbSession,
    actor: Actor,
    batch_id: int,
    quantity: int,
    reason: str,
    note: str = "",
    *,
    witness: User | None = None,
) -> StockMovement:
    """Post a signed adjustment to one batch with its reason. Raises DomainError on the field:
    a zero quantity, an unknown reason, "other" without an explanation, a withdrawal larger than
    the batch holds (nothing written), a controlled drug without a witness."""
    authorize(actor, Perm.STOCK_MANAGE)
    batch = session.get(StockBatch, batch_id)
    if batch is None:
        raise DomainError("No such batch.", field="batch_id")
    if reason not in REASONS:
        raise DomainError("Choose a reason.", field="reason")
    note = (note or "").strip()
    if reason == "other" and not note:
        raise DomainError("Say what happened (the reason is \"other\").", field="note")
    if len(note) > 500:
        raise DomainError("Keep the explanation under 500 characters.", field="note")
    if not quantity:
        raise DomainError("Enter a quantity other than zero (minus to remove stock).",
                          field="quantity")
    if abs(quantity) > stock.MAX_STOCK_QUANTITY:
        raise DomainError("That quantity is implausibly large.", field="quantity")
    drug = session.get(Drug, batch.drug_id)
    assert drug is not None
    if drug.controlled and witness is None:
        raise DomainError(f"{drug.name} is a controlled drug: a second person must witness.",
                          field="witness")
    text = REASONS[reason] + (f": {note}" if note else "")
    movement = ledger.post(session, actor, batch.id, quantity, "adjustment", reason=text,
                           witness=witness if drug.controlled else None)
    audit.record(session, actor, "stock.adjusted", batch,
                 before={"quantity": movement.balance_after - quantity},
                 after={"quantity": movement.balance_after, "change": quantity,
                        "drug": drug.name, "batch": batch.batch_number},
                 reason=text)
    return movement
