"""Dispensing from stock: supply a verified prescription from the shelf, first expiry first out,
optionally checked against a scanned pack, and take returns back into the same batches.

Every quantity moves through `ledger.post`, whose conditional UPDATE is what keeps two
pharmacists taking from one batch at the same moment from driving it below zero. The
prescription row is locked for the whole dispensing, and the form carries how many supplies it
had seen, so a double click (or a colleague at the next bench) cannot supply it twice by
accident; a later, deliberate supply (next week's) is a new dispensing."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, lazyload, selectinload

from app.core import audit, clock, events
from app.core.db import DbSession
from app.core.errors import Conflict, DomainError, NotFound
from app.core.identifiers import next_value, with_luhn
from app.core.security import Actor, Perm, authorize
from app.domain.dispensary import gs1, ledger, rules, stock
from app.domain.dispensary.models import (
    Dispensing,
    DispensingLine,
    StockBatch,
    StockLocation,
    StockMovement,
)
from app.domain.formulary.models import Drug
from app.domain.identity.models import User
from app.domain.patients.models import Patient
from app.domain.prescribing.models import Prescription

NUMBER_START = 5_000_000
MAX_QUANTITY = 100_000  # one supply (or return); stock figures: stock.MAX_STOCK_QUANTITY
DEFAULT_SUPPLY_DAYS = 7  # inpatient supply when the prescription gives no duration


main_location_id = stock.main_location_id  # kept importable here (tests/browser/test_pharmacy.py)


def _location_id(session: DbSession, location_id: int | None) -> int:
    """The location to take from: the one asked for (it must exist), else the main pharmacy."""
    if location_id is None:
        return stock.main_location_id(session)
    return stock.get_location(session, location_id).id


def _place(session: DbSession, location_id: int) -> str:
    location = session.get(StockLocation, location_id)
    return location.name if location is not None else "this location"


def _patient(session: DbSession, patient_id: int) -> Patient:
    # For the scope check only: the allergies the banner shows are not needed here.
    patient = session.get(Patient, patient_id, options=[lazyload(Patient.allergies)])
    assert patient is not None
    return patient


def _prescription(session: DbSession, prescription_id: int, *, lock: bool) -> Prescription:
    # The drug and the patient come in the same statement (only the prescription row is locked).
    stmt = (select(Prescription).where(Prescription.id == prescription_id)
            .options(joinedload(Prescription.drug),
                     joinedload(Prescription.patient).lazyload(Patient.allergies)))
    if lock:
        stmt = stmt.with_for_update(of=Prescription).execution_options(populate_existing=True)
    rx = session.scalar(stmt)
    if rx is None:
        raise NotFound("No such prescription.")
    return rx


def get_prescription(session: DbSession, actor: Actor, prescription_id: int) -> Prescription:
    """The prescription to dispense, with its drug and patient, for someone who may dispense
    for that patient (NotFound, 404, when there is no such prescription)."""
    authorize(actor, Perm.DISPENSE)
    rx = _prescription(session, prescription_id, lock=False)
    authorize(actor, Perm.DISPENSE, _patient(session, rx.patient_id))
    return rx


def check_dispensable(rx: Prescription) -> None:
    """Only an active prescription a pharmacist has verified leaves the shelf (409 otherwise)."""
    if rx.status != "active":
        raise Conflict(f"Prescription {rx.number} is {rx.status.replace('-', ' ')}: it cannot be "
                       "dispensed.")
    if rx.verification != "verified":
        raise Conflict({
            "pending": f"Prescription {rx.number} has not been verified by a pharmacist yet.",
            "queried": f"Prescription {rx.number} is queried with the prescriber: verify it first.",
            "rejected": f"Prescription {rx.number} was rejected: it cannot be dispensed.",
        }.get(rx.verification, f"Prescription {rx.number} is not verified."))


def supply_count(session: DbSession, prescription_id: int) -> int:
    """How many dispensings the prescription has had: the form sends back the count it saw."""
    return int(session.scalar(select(func.count(Dispensing.id))
                              .where(Dispensing.prescription_id == prescription_id)) or 0)


def dispensings_for(session: DbSession, prescription_id: int) -> list[Dispensing]:
    return list(session.scalars(select(Dispensing).where(Dispensing.prescription_id == prescription_id)
                                .order_by(Dispensing.id.desc())))


def supplied_net(session: DbSession, prescription_id: int) -> int:
    """Stock units supplied against the prescription so far, less what came back."""
    return int(session.scalar(
        select(func.coalesce(func.sum(Dispensing.quantity - Dispensing.quantity_returned), 0))
        .where(Dispensing.prescription_id == prescription_id)) or 0)


OPEN_ENDED_SUPPLY_DAYS = 28  # the most one supply of an open-ended prescription may cover


def _course(session: DbSession, rx: Prescription, days_if_open: int) -> tuple[Drug, int]:
    """The drug, and the stock units the course needs (dose x doses a day x days), taking
    `days_if_open` days when the prescription gives neither a duration nor a stop."""
    drug = session.get(Drug, rx.drug_id)
    assert drug is not None
    table = current_app.config["ADMINISTRATION_TIMES"]
    try:
        per_day = rules.doses_per_day(rx.frequency, table, rx.prn_max_daily_doses)
    except ValueError:
        per_day = 1
    days = rules.treatment_days(rx.start_at, rx.stop_at, rx.duration_days, days_if_open)
    dose_per_stock_unit = drug.dose_per_stock_unit if rx.dose_unit == drug.dose_unit else None
    return drug, rules.suggested_quantity(
        outpatient_quantity=None, dose=rx.dose, dose_per_stock_unit=dose_per_stock_unit,
        doses_a_day=per_day, days=days, single_dose=rx.frequency.upper() == "STAT")


def suggested_quantity(session: DbSession, rx: Prescription) -> int:
    """What the form proposes: the rest of an outpatient quantity, else dose x frequency x
    duration in the drug's stock units."""
    if rx.setting == "outpatient" and rx.quantity:
        return max(rx.quantity - supplied_net(session, rx.id), 0)
    default_days = int(current_app.config.get("DISPENSING_DEFAULT_DAYS", DEFAULT_SUPPLY_DAYS))
    return _course(session, rx, default_days)[1]


def supply_limit(session: DbSession, rx: Prescription) -> tuple[int, str]:
    """The most that may be supplied now, and why: the rest of an outpatient quantity; else the
    rest of the course in whole packs; else (no duration, no stop) one supply of at most
    OPEN_ENDED_SUPPLY_DAYS days in whole packs."""
    if rx.setting == "outpatient" and rx.quantity:
        supplied = supplied_net(session, rx.id)
        return rx.quantity - supplied, f"{rx.quantity} prescribed, {supplied} supplied"
    open_ended = not rx.duration_days and rx.stop_at is None and rx.frequency.upper() != "STAT"
    drug, course = _course(session, rx, OPEN_ENDED_SUPPLY_DAYS)
    packs = rules.whole_packs(course, drug.pack_size)
    if open_ended:
        return packs, f"{OPEN_ENDED_SUPPLY_DAYS} days' supply in whole packs"
    supplied = supplied_net(session, rx.id)
    return packs - supplied, f"the course needs {packs} in whole packs, {supplied} supplied"


# --- picking ---------------------------------------------------------------------------------

def _fmt(day: date) -> str:
    return day.strftime("%d %b %Y")


def _check_scan(session: DbSession, code: gs1.PackCode, drug: Drug, location_id: int,
                on: date) -> StockBatch:
    """The batch the scanned pack belongs to, once drug, batch and expiry all agree."""
    batch_gtins = set(session.scalars(
        select(StockBatch.gtin).where(StockBatch.drug_id == drug.id, StockBatch.gtin.is_not(None))
        .distinct()))
    if code.gtin != drug.pack_gtin and code.gtin not in batch_gtins:
        other = session.scalar(select(Drug).where(Drug.pack_gtin == code.gtin))
        what = other.name if other is not None else f"GTIN {code.gtin}, not in the formulary"
        raise DomainError(f"Wrong drug: the pack scanned is {what}; the prescription is for "
                          f"{drug.name}.", field="scan")
    if not code.batch:
        raise DomainError("The code has no batch number (10): scan the pack's DataMatrix.",
                          field="scan")
    candidates = list(session.scalars(select(StockBatch).where(
        StockBatch.drug_id == drug.id, StockBatch.location_id == location_id)))
    batch = next((b for b in candidates if b.batch_number == code.batch), None)
    if batch is None and not code.separated:
        # A scanner that drops FNC1 glues the serial (21) onto the batch: match the batch
        # numbers we hold that the field starts with.
        batch = next((b for b in sorted(candidates, key=lambda b: -len(b.batch_number))
                      if code.batch.startswith(b.batch_number + "21")), None)
    if batch is None:
        raise DomainError(f"Batch {code.batch} of {drug.name} is not in stock in "
                          f"{_place(session, location_id)}.", field="scan")
    if code.expiry is not None and code.expiry != batch.expiry:
        raise DomainError(f"The pack says it expires {_fmt(code.expiry)}, but batch "
                          f"{batch.batch_number} is recorded as expiring {_fmt(batch.expiry)}: "
                          "set the pack aside and check the stock record.", field="scan")
    if batch.expiry < on:
        raise DomainError(f"Batch {batch.batch_number} expired on {_fmt(batch.expiry)}: do not "
                          "supply it.", field="scan")
    if batch.quantity <= 0:
        raise DomainError(f"Batch {batch.batch_number} has nothing left on record: check the "
                          "shelf and the stock record.", field="scan")
    return batch


# --- dispensing ------------------------------------------------------------------------------

def dispense(
    session: DbSession,
    actor: Actor,
    prescription_id: int,
    quantity: int,
    *,
    location_id: int | None = None,
    scan: str | None = None,
    allow_partial: bool = False,
    witness: User | None = None,
    expected_supplies: int | None = None,
) -> Dispensing:
    """Supply `quantity` stock units of a verified, active prescription from `location_id`
    (the main pharmacy unless told), batches first expiry first out.

    Refused, with nothing written: a prescription that is not active and verified (409); one
    supplied since the form showed `expected_supplies` supplies (409: a double click); too
    little usable stock unless `allow_partial`; a scanned pack of another drug, an unknown or
    expired batch, an expiry that disagrees with the batch's, or a batch other than the one to
    take first; a controlled drug without a witness. Sends `events.dispensed`. Flushes."""
    authorize(actor, Perm.DISPENSE)
    rx = _prescription(session, prescription_id, lock=True)
    authorize(actor, Perm.DISPENSE, _patient(session, rx.patient_id))
    check_dispensable(rx)
    if expected_supplies is not None:
        latest = dispensings_for(session, rx.id)
        if len(latest) != expected_supplies:
            last = (f" ({latest[0].number}, {latest[0].quantity} {rx.drug.stock_unit})"
                    if latest else "")
            raise Conflict(f"Prescription {rx.number} was dispensed meanwhile{last}. Nothing more "
                           "was supplied; open it again to supply more.")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise DomainError("Enter the quantity to supply, a whole number above zero.",
                          field="quantity")
    if quantity > MAX_QUANTITY:
        raise DomainError(f"Enter at most {MAX_QUANTITY}.", field="quantity")
    location_id = _location_id(session, location_id)
    drug = rx.drug
    # Never more than the prescription needs: a typo of 1000 for 10 must not empty the shelf.
    limit, why = supply_limit(session, rx)
    if limit <= 0:
        raise Conflict(f"Prescription {rx.number} has been supplied in full ({why}).")
    if quantity > limit:
        raise DomainError(f"Prescription {rx.number} allows at most {limit} {drug.stock_unit} now "
                          f"({why}); {quantity} asked.", field="quantity")
    if drug.controlled and witness is None:
        raise DomainError(f"{drug.name} is a controlled drug: a second person must witness.",
                          field="witness")
    on = stock.today()

    scanned: StockBatch | None = None
    if scan is not None and scan.strip():
        scanned = _check_scan(session, gs1.parse_pack_code(scan), drug, location_id, on)
    plan = stock.plan_picks(session, drug.id, location_id, quantity, on,
                            prefer_batch_id=scanned.id if scanned is not None else None)
    unit = drug.stock_unit
    if plan.total == 0:
        expired = (f" ({plan.expired_quantity} {unit} on the shelf are past their expiry)"
                   if plan.expired_quantity else "")
        raise DomainError(f"No usable stock of {drug.name} in {_place(session, location_id)}"
                          f"{expired}.", field="quantity")
    if plan.shortfall and not allow_partial:
        raise DomainError(f"Only {plan.total} {unit} available in {_place(session, location_id)}; "
                          f"{quantity} asked. Supply {plan.total} as a partial supply, or less.",
                          field="quantity")
    if scanned is not None and plan.lines[0].batch.id != scanned.id:
        first = plan.lines[0].batch
        raise DomainError(f"Take batch {first.batch_number} (expires {_fmt(first.expiry)}) "
                          f"first: it expires before batch {scanned.batch_number}.", field="scan")

    dispensing = Dispensing(
        number=with_luhn(next_value(session, "dispensing", start=NUMBER_START)),
        prescription_id=rx.id, patient_id=rx.patient_id, drug_id=drug.id, location_id=location_id,
        quantity_requested=quantity, quantity=plan.total, quantity_returned=0,
        partial=plan.total < quantity, scanned=scanned is not None, status="dispensed",
        dispensed_by_id=actor.id, dispensed_at=clock.now(), label_prints=0,
    )
    session.add(dispensing)
    session.flush()
    for line in plan.lines:
        try:
            ledger.post(session, actor, line.batch.id, -line.quantity, "dispense",
                        dispensing_id=dispensing.id, patient_id=rx.patient_id, witness=witness,
                        reference=dispensing.number, field="quantity")
        except ledger.StockShort as exc:
            # Someone took from the batch between our pick and our update: their supply stands,
            # ours is refused whole (the caller rolls back).
            raise Conflict(f"Stock changed while you were dispensing: {exc.message} Nothing was "
                           "supplied; look at the picks again.", field="quantity") from exc
        session.add(DispensingLine(dispensing_id=dispensing.id, batch_id=line.batch.id,
                                   quantity=line.quantity, quantity_returned=0))
    audit.record(session, actor, "dispensing.dispensed", dispensing, patient_id=rx.patient_id,
                 after={"number": dispensing.number, "prescription": rx.number,
                        "drug": drug.name, "location_id": location_id,
                        "requested": quantity, "quantity": plan.total,
                        "partial": dispensing.partial, "scanned": dispensing.scanned,
                        "batches": {line.batch.batch_number: line.quantity for line in plan.lines},
                        "witness": witness.username if witness is not None else None})
    events.dispensed.send(session, dispensing_id=dispensing.id, prescription_id=rx.id,
                          patient_id=rx.patient_id, drug_id=drug.id, quantity=plan.total,
                          encounter_id=rx.encounter_id)
    return dispensing


def get_dispensing(session: DbSession, actor: Actor, dispensing_id: int) -> Dispensing:
    authorize(actor, Perm.DISPENSE)
    d = session.scalar(select(Dispensing).where(Dispensing.id == dispensing_id)
                       .options(selectinload(Dispensing.lines).selectinload(DispensingLine.batch)))
    if d is None:
        raise NotFound("No such dispensing.")
    authorize(actor, Perm.DISPENSE, _patient(session, d.patient_id))
    return d


# --- returns ---------------------------------------------------------------------------------

def return_to_stock(
    session: DbSession,
    actor: Actor,
    dispensing_id: int,
    quantity: int | None = None,
    *,
    lines: Mapping[int, int] | None = None,
    reason: str,
    witness: User | None = None,
) -> list[StockMovement]:
    """Take unused medicine back into the batches it came from: `quantity` in all (the last
    picked, longest-dated batch first) or `lines` {dispensing line id: quantity}. Never more
    than was supplied less what already came back. A batch past its expiry takes its stock back
    too (it stays dated, so picking never uses it; the expiry list shows it for destruction).
    Sends `events.dispense_returned` with return_id = the first return movement's id."""
    authorize(actor, Perm.DISPENSE)
    stmt = select(Dispensing).where(Dispensing.id == dispensing_id)
    stmt = stmt.with_for_update(of=Dispensing).execution_options(populate_existing=True)
    d = session.scalar(stmt)
    if d is None:
        raise NotFound("No such dispensing.")
    authorize(actor, Perm.DISPENSE, _patient(session, d.patient_id))
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why the medicine came back.", field="reason")
    drug = session.get(Drug, d.drug_id)
    assert drug is not None
    if drug.controlled and witness is None:
        raise DomainError(f"{drug.name} is a controlled drug: a second person must witness.",
                          field="witness")
    # Lines were loaded with the dispensing's lock held; refresh them so a racing return is seen.
    own_lines = list(session.scalars(select(DispensingLine)
                                     .where(DispensingLine.dispensing_id == d.id)
                                     .order_by(DispensingLine.id)
                                     .execution_options(populate_existing=True)))
    left = rules.returnable([(line.quantity, line.quantity_returned) for line in own_lines])
    unit = drug.stock_unit
    wanted: list[tuple[DispensingLine, int]] = []
    if lines is not None:
        by_id = {line.id: line for line in own_lines}
        for line_id, q in lines.items():
            line = by_id.get(line_id)
            if line is None:
                raise DomainError("That line is not part of this dispensing.", field="quantity")
            if q < 0 or q > line.quantity - line.quantity_returned:
                raise DomainError(f"At most {line.quantity - line.quantity_returned} {unit} of batch "
                                  f"{line.batch.batch_number} can come back.", field="quantity")
            if q:
                wanted.append((line, q))
    else:
        if quantity is None or isinstance(quantity, bool) or quantity <= 0:
            raise DomainError("Enter how much came back, a whole number above zero.",
                              field="quantity")
        if quantity > left:
            raise DomainError(f"Only {left} {unit} can come back: {d.quantity} were supplied and "
                              f"{d.quantity - left} have come back already.", field="quantity")
        rest = quantity
        for line in reversed(own_lines):
            take = min(rest, line.quantity - line.quantity_returned)
            if take > 0:
                wanted.append((line, take))
                rest -= take
    total = sum(q for _, q in wanted)
    if total <= 0:
        raise DomainError("Enter how much came back, a whole number above zero.", field="quantity")

    movements: list[StockMovement] = []
    for line, q in wanted:
        movements.append(ledger.post(session, actor, line.batch_id, q, "return", reason=reason,
                                     reference=d.number, dispensing_id=d.id,
                                     patient_id=d.patient_id, witness=witness))
        line.quantity_returned += q
    before = {"quantity_returned": d.quantity_returned, "status": d.status}
    d.quantity_returned += total
    if d.quantity_returned >= d.quantity:
        d.status = "returned"
    session.flush()
    audit.record(session, actor, "dispensing.returned", d, patient_id=d.patient_id, reason=reason,
                 before=before,
                 after={"quantity_returned": d.quantity_returned, "status": d.status,
                        "returned_now": total,
                        "batches": {line.batch.batch_number: q for line, q in wanted}})
    events.dispense_returned.send(session, dispensing_id=d.id, return_id=movements[0].id,
                                  patient_id=d.patient_id, drug_id=d.drug_id, quantity=total)
    return movements


# --- lists -----------------------------------------------------------------------------------

def awaiting_supply(session: DbSession, actor: Actor, limit: int = 200) -> list[Prescription]:
    """Verified, active prescriptions with no full supply yet (none, or only partial ones):
    urgent first, then the longest waiting."""
    authorize(actor, Perm.DISPENSE)
    supplied = (select(Dispensing.id)
                .where(Dispensing.prescription_id == Prescription.id,
                       Dispensing.status == "dispensed", Dispensing.partial.is_(False))
                .exists())
    return list(session.scalars(
        select(Prescription)
        .where(Prescription.status == "active", Prescription.verification == "verified", ~supplied)
        .options(selectinload(Prescription.patient), selectinload(Prescription.drug))
        .order_by((Prescription.priority == "urgent").desc(), Prescription.verified_at,
                  Prescription.id)
        .limit(limit)))


def recent_dispensings(session: DbSession, actor: Actor, limit: int = 30) -> list[Dispensing]:
    authorize(actor, Perm.DISPENSE)
    return list(session.scalars(select(Dispensing).options(selectinload(Dispensing.drug))
                                .order_by(Dispensing.id.desc()).limit(limit)))
