"""Transfers from the main pharmacy to a ward's stock cupboard.

Stock leaves MAIN first-expiry-first-out (or from the batch the pharmacist chose) and arrives in
the ward's location as the same batch number and expiry: a "transfer_out" and a "transfer_in"
movement per batch, in one transaction. Short stock is refused and nothing is written."""

from __future__ import annotations

from app.core import audit
from app.core.db import DbSession
from app.core.errors import DomainError
from app.core.security import Actor, Perm, authorize
from app.domain.dispensary import ledger, stock
from app.domain.dispensary.inventory_models import StockTransfer, StockTransferLine
from app.domain.dispensary.models import StockBatch
from app.domain.formulary.models import Drug
from app.domain.identity.models import User

TRANSFER_COUNTER = "stock_transfer"
TRANSFER_START = 500001


def transfer_to_ward(
    session: DbSession,
    actor: Actor,
    *,
    drug_id: int,
    ward_id: int,
    quantity: int,
    batch_id: int | None = None,
    witness: User | None = None,
) -> StockTransfer:
    """Move `quantity` of a drug from the main pharmacy to the ward's stock. Flushes; audited.

    Raises DomainError (nothing written) for an unknown drug or ward, a chosen batch that is
    expired or of another drug, short usable stock, or a controlled drug without a witness."""
    authorize(actor, Perm.STOCK_MANAGE)
    drug = session.get(Drug, drug_id)
    if drug is None:
        raise DomainError("Choose the drug.", field="drug_id")
    if quantity is None or quantity <= 0:
        raise DomainError("Enter how many to send (more than none).", field="quantity")
    if drug.controlled and witness is None:
        raise DomainError(f"{drug.name} is a controlled drug: a second person must witness.",
                          field="witness")
    source = stock.main_location(session)
    today = stock.today()
    only: list[StockBatch] | None = None  # the batch the pharmacist chose, else FEFO over all
    if batch_id is not None:
        chosen = session.get(StockBatch, batch_id)
        if chosen is None or chosen.drug_id != drug.id or chosen.location_id != source.id:
            raise DomainError("That batch is not this drug's stock in the main pharmacy.",
                              field="batch_id")
        if chosen.expiry < today:
            raise DomainError(f"Batch {chosen.batch_number} expired on {chosen.expiry:%d %b %Y}: "
                              "it may not go to a ward.", field="batch_id")
        only = [chosen]
    plan = stock.plan_picks(session, drug.id, source.id, quantity, today, batches=only)
    if plan.shortfall:
        available = plan.total
        raise ledger.StockShort(
            f"Only {available} {drug.stock_unit} of {drug.name} usable in the main pharmacy"
            f"{' in that batch' if batch_id else ''}; {quantity} asked for. Nothing was moved.",
            field="quantity")
    destination = stock.ward_location(session, ward_id)
    transfer = StockTransfer(
        number=stock.new_number(session, TRANSFER_COUNTER, TRANSFER_START), drug_id=drug.id,
        from_location_id=source.id, to_location_id=destination.id, quantity=quantity,
        actor_id=actor.id, actor_label=actor.label,
        witness_id=witness.id if (witness is not None and drug.controlled) else None,
    )
    session.add(transfer)
    session.flush()
    cd_witness = witness if drug.controlled else None
    described = []
    for pick in plan.lines:
        source_batch = pick.batch
        # Out first: the conditional UPDATE is what stops two transfers taking the same units.
        ledger.post(session, actor, source_batch.id, -pick.quantity, "transfer_out",
                    reference=transfer.number, reason=f"To {destination.name}",
                    witness=cd_witness)
        target = stock.batch_for(session, drug.id, destination.id, source_batch.batch_number,
                                 source_batch.expiry, field_prefix="",
                                 unit_cost=source_batch.unit_cost, supplier=source_batch.supplier,
                                 gtin=source_batch.gtin)
        ledger.post(session, actor, target.id, pick.quantity, "transfer_in",
                    reference=transfer.number, reason=f"From {source.name}", witness=cd_witness)
        session.add(StockTransferLine(transfer_id=transfer.id, from_batch_id=source_batch.id,
                                      to_batch_id=target.id, quantity=pick.quantity))
        described.append({"batch": source_batch.batch_number, "quantity": pick.quantity})
    session.flush()
    audit.record(session, actor, "stock.transferred", transfer,
                 after={"number": transfer.number, "drug": drug.name, "from": source.code,
                        "to": destination.code, "quantity": quantity, "batches": described,
                        "witness": cd_witness.username if cd_witness else None})
    return transfer
