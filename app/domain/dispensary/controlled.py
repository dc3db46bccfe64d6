"""The controlled-drug register: per drug and location, every entry in order with its running
balance, who made it and who witnessed it. Entries are written by `ledger.post` (with a
witness) whenever a controlled drug moves; this module reads them and runs the witnessed
cupboard check, whose discrepancies become witnessed "count" movements with a reason."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select

from app.core import audit
from app.core.db import DbSession
from app.core.errors import DomainError
from app.core.security import Actor, Perm, authorize, can
from app.domain.dispensary import ledger, stock
from app.domain.dispensary.inventory_models import ControlledDrugCheck
from app.domain.dispensary.models import ControlledDrugEntry, StockBatch, StockLocation
from app.domain.formulary.models import Drug
from app.domain.identity.models import User
from app.domain.patients.models import Patient


@dataclass(frozen=True)
class RegisterLine:
    entry: ControlledDrugEntry
    batch_number: str
    actor: str
    witness: str
    patient: Patient | None  # None when the entry names no patient, or one the reader may not see
    patient_hidden: bool = False  # the entry names a patient outside the reader's wards


def controlled_drugs(session: DbSession) -> list[Drug]:
    return list(session.scalars(select(Drug).where(Drug.controlled.is_(True)).order_by(Drug.name)))


def register_locations(session: DbSession, drug_id: int | None = None) -> list[StockLocation]:
    """Locations that hold (or have held) controlled stock, the main pharmacy first."""
    held = set(session.scalars(select(ControlledDrugEntry.location_id).distinct()
                               .where(*([ControlledDrugEntry.drug_id == drug_id] if drug_id else []))))
    return [loc for loc in stock.locations(session) if loc.id in held or loc.code == "MAIN"]


def register(session: DbSession, actor: Actor, drug_id: int, location_id: int,
             limit: int = 500) -> list[RegisterLine]:
    """The register page for one drug in one location, oldest entry first (the last `limit`)."""
    authorize(actor, Perm.CD_REGISTER)
    entries = list(session.scalars(
        select(ControlledDrugEntry)
        .where(ControlledDrugEntry.drug_id == drug_id, ControlledDrugEntry.location_id == location_id)
        .order_by(ControlledDrugEntry.id.desc()).limit(limit)))
    entries.reverse()
    user_ids = {e.actor_id for e in entries} | {e.witness_id for e in entries}
    users = {u.id: u.full_name for u in session.scalars(select(User).where(User.id.in_(user_ids)))} \
        if user_ids else {}
    batch_ids = {e.batch_id for e in entries}
    numbers: dict[int, str] = {
        row[0]: row[1] for row in session.execute(
            select(StockBatch.id, StockBatch.batch_number).where(StockBatch.id.in_(batch_ids)))
    } if batch_ids else {}
    patient_ids = {e.patient_id for e in entries if e.patient_id}
    # A charge nurse reads the register but sees only her wards' patients, here as elsewhere.
    patients = {p.id: p for p in session.scalars(select(Patient).where(Patient.id.in_(patient_ids)))
                if can(actor, Perm.PATIENT_READ, p)} if patient_ids else {}
    return [RegisterLine(e, numbers.get(e.batch_id, "?"), users.get(e.actor_id, "?"),
                         users.get(e.witness_id, "?"),
                         patients.get(e.patient_id) if e.patient_id else None,
                         patient_hidden=bool(e.patient_id) and e.patient_id not in patients)
            for e in entries]


def register_balance(session: DbSession, drug_id: int, location_id: int) -> int:
    """The running balance after the last register entry (0 before the first)."""
    last = session.scalar(
        select(ControlledDrugEntry.balance_after)
        .where(ControlledDrugEntry.drug_id == drug_id, ControlledDrugEntry.location_id == location_id)
        .order_by(ControlledDrugEntry.id.desc()).limit(1))
    return int(last or 0)


def cupboard(session: DbSession, drug_id: int, location_id: int) -> list[StockBatch]:
    """The batches of the drug on the register in this location that hold stock, the first to
    expire first (expired ones too: they are still in the cupboard and on the register)."""
    return stock.fefo_batches(session, drug_id, location_id, include_expired=True)


def check_register(
    session: DbSession,
    actor: Actor,
    *,
    drug_id: int,
    location_id: int,
    counted: Mapping[int, int],
    witness: User | None,
    reason: str = "",
) -> ControlledDrugCheck:
    """Count the drug's cupboard with a witness (`counted`: batch id -> what is there). Where a
    batch differs, the difference is posted as a witnessed "count" movement with the reason, so
    the register balance is again what is in the cupboard. The check itself is recorded either
    way."""
    authorize(actor, Perm.STOCK_MANAGE)
    # Lock the drug row first (ledger.post locks it too, so register entries queue behind it),
    # then read the cupboard afresh: two checks at once would otherwise both compare with the
    # same quantities and both enter the difference.
    drug = session.scalar(select(Drug).where(Drug.id == drug_id).with_for_update()
                          .execution_options(populate_existing=True))
    if drug is None or not drug.controlled:
        raise DomainError("Choose a controlled drug.", field="drug_id")
    location = stock.get_location(session, location_id)
    if witness is None:
        raise DomainError("A register check is witnessed: a second person must sign.",
                          field="witness")
    if actor.id is not None and witness.id == actor.id:
        raise DomainError("The witness must be someone other than you.", field="witness")
    # The page read these batches before the lock: read their quantities again.
    session.execute(select(StockBatch).where(StockBatch.drug_id == drug.id,
                                             StockBatch.location_id == location.id)
                    .execution_options(populate_existing=True))
    batches = cupboard(session, drug.id, location.id)
    for b in batches:
        value = counted.get(b.id)
        if value is None:
            raise DomainError("Enter the count for every batch (zero if none is there).",
                              field=f"batch-{b.id}")
        if value < 0 or value > stock.MAX_STOCK_QUANTITY:
            raise DomainError("Enter what is in the cupboard: zero or more.", field=f"batch-{b.id}")
    expected = sum(b.quantity for b in batches)
    total = sum(counted[b.id] for b in batches)
    reason = (reason or "").strip()
    differing = [b for b in batches if counted[b.id] != b.quantity]
    if differing and not reason:
        raise DomainError("The cupboard differs from the register: say why.", field="reason")
    check = ControlledDrugCheck(drug_id=drug.id, location_id=location.id, expected=expected,
                                counted=total, reason=reason or None, actor_id=actor.id,
                                witness_id=witness.id)
    session.add(check)
    session.flush()
    differences = {b.id: counted[b.id] - b.quantity for b in differing}
    for b in differing:
        ledger.post(session, actor, b.id, differences[b.id], "count",
                    reason=f"Register check {check.id}: {reason}", reference=f"cd check {check.id}",
                    witness=witness, field=f"batch-{b.id}")
    audit.record(session, actor, "controlled_drug.checked", check, reason=reason or None,
                 after={"drug": drug.name, "location": location.code, "expected": expected,
                        "counted": total, "witness": witness.username,
                        "differences": {b.batch_number: differences[b.id] for b in differing}})
    return check


def recent_checks(session: DbSession, drug_id: int, location_id: int,
                  limit: int = 10) -> list[ControlledDrugCheck]:
    return list(session.scalars(
        select(ControlledDrugCheck)
        .where(ControlledDrugCheck.drug_id == drug_id, ControlledDrugCheck.location_id == location_id)
        .order_by(ControlledDrugCheck.id.desc()).limit(limit)))
