"""The one way stock changes: `post` a signed movement of one batch.

The quantity is changed by a single conditional UPDATE (`quantity >= n` for a withdrawal), so
two pharmacists taking from the same batch at the same moment can never drive it below zero:
the second UPDATE finds too little and matches no row. The movement row is written in the same
transaction with the batch's balance after it, so the ledger always adds up to the shelf.
Controlled drugs also get a register entry, witnessed by a second user, with the running
balance of that drug in that location (the drug row is locked so concurrent entries queue)."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from app.core.db import DbSession
from app.core.errors import DomainError
from app.core.security import Actor, Perm
from app.domain.dispensary.models import (
    MOVEMENT_KINDS,
    ControlledDrugEntry,
    StockBatch,
    StockMovement,
)
from app.domain.formulary.models import Drug
from app.domain.identity.models import User


class StockShort(DomainError):
    """Less on the shelf than the movement takes. Nothing was written."""


class WitnessRequired(DomainError):
    """A controlled drug moved without a second person countersigning."""


def post(
    session: DbSession,
    actor: Actor,
    batch_id: int,
    quantity: int,
    kind: str,
    *,
    reason: str | None = None,
    reference: str | None = None,
    dispensing_id: int | None = None,
    patient_id: int | None = None,
    witness: User | None = None,
    field: str | None = "quantity",
) -> StockMovement:
    """Move `quantity` (signed) into (+) or out of (-) batch `batch_id` and record it.

    Raises StockShort when the batch holds less than a withdrawal takes, WitnessRequired when
    the drug is controlled and `witness` is missing, is the actor, is deactivated or may not
    witness controlled drugs (Perm.CD_WITNESS). Flushes; the caller commits (or rolls back
    everything it did, this included)."""
    if kind not in MOVEMENT_KINDS:
        raise ValueError(f"unknown movement kind {kind!r}")
    if quantity == 0:
        raise DomainError("Enter a quantity other than zero.", field=field)
    batch = session.get(StockBatch, batch_id)
    if batch is None:
        raise DomainError("No such batch.", field=field)
    drug = session.get(Drug, batch.drug_id)
    assert drug is not None
    if drug.controlled:
        if witness is None:
            raise WitnessRequired(f"{drug.name} is a controlled drug: a second person must witness.",
                                  field="witness")
        if actor.id is not None and witness.id == actor.id:
            raise WitnessRequired("The witness must be someone other than you.", field="witness")
        # The pages check the witness's password (identity.verify_witness); this holds for
        # every caller: only an active user who may witness controlled drugs countersigns.
        if not witness.active or not witness.has_perm(Perm.CD_WITNESS):
            raise WitnessRequired(f"{witness.full_name} may not witness controlled drugs.",
                                  field="witness")
        # Serialise register entries per drug so each running balance follows the one before.
        session.execute(select(Drug.id).where(Drug.id == drug.id).with_for_update())

    condition = [StockBatch.id == batch_id]
    if quantity < 0:
        condition.append(StockBatch.quantity >= -quantity)
    balance = session.execute(
        update(StockBatch)
        .where(*condition)
        .values(quantity=StockBatch.quantity + quantity)
        .returning(StockBatch.quantity)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if balance is None:
        session.refresh(batch, ["quantity"])
        raise StockShort(
            f"Cannot take {-quantity} {drug.stock_unit} from batch {batch.batch_number}: it holds "
            f"only {batch.quantity} {drug.stock_unit}.", field=field)
    # The UPDATE returned the new quantity: tell the loaded batch without another round trip.
    set_committed_value(batch, "quantity", balance)

    movement = StockMovement(
        batch_id=batch.id, drug_id=batch.drug_id, location_id=batch.location_id, kind=kind,
        quantity=quantity, balance_after=balance, reason=reason, reference=reference,
        dispensing_id=dispensing_id, patient_id=patient_id, actor_id=actor.id,
        actor_label=actor.label,
    )
    session.add(movement)
    session.flush()
    if drug.controlled:
        assert witness is not None
        on_hand = session.scalar(
            select(func.coalesce(func.sum(StockBatch.quantity), 0)).where(
                StockBatch.drug_id == drug.id, StockBatch.location_id == batch.location_id))
        session.add(ControlledDrugEntry(
            drug_id=drug.id, location_id=batch.location_id, movement_id=movement.id,
            batch_id=batch.id, kind=kind, quantity=quantity, balance_after=int(on_hand or 0),
            patient_id=patient_id, actor_id=actor.id, witness_id=witness.id, note=reason,
        ))
        session.flush()
    return movement


def on_hand(session: DbSession, drug_id: int, location_id: int | None = None) -> int:
    """Stock units of a drug on the shelf (in one location, or everywhere), expired included."""
    query = select(func.coalesce(func.sum(StockBatch.quantity), 0)).where(StockBatch.drug_id == drug_id)
    if location_id is not None:
        query = query.where(StockBatch.location_id == location_id)
    return int(session.scalar(query) or 0)
