"""Goods received: a supplier's delivery booked into stock, line by line, as "receipt" movements.

A line either starts a new batch or tops up one already held (same drug, batch number and
location; the expiry must then match). A pack's GS1 code may fill the drug, batch and expiry.
Controlled drugs in the delivery are witnessed by a second person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from app.core import audit
from app.core.db import DbSession
from app.core.errors import DomainError
from app.core.security import Actor, Perm, authorize
from app.domain.dispensary import gs1, ledger, stock
from app.domain.dispensary.inventory_models import GoodsReceipt, GoodsReceiptLine
from app.domain.formulary.models import Drug
from app.domain.identity.models import User

RECEIPT_COUNTER = "goods_receipt"
RECEIPT_START = 300001


@dataclass
class ReceiptLine:
    """One line of a delivery note as typed (or scanned) at the counter."""

    drug_id: int | None = None
    batch_number: str = ""
    expiry: date | None = None
    quantity: int | None = None
    unit_cost: Decimal | None = None
    scan: str = ""  # a pack's GS1 code: fills drug, batch and expiry when they are empty

    def is_blank(self) -> bool:
        """An unused row of the form: nothing typed or scanned."""
        return (not self.drug_id and not self.batch_number.strip() and self.expiry is None
                and self.quantity is None and not self.scan.strip())


def drug_by_gtin(session: DbSession, gtin: str) -> Drug | None:
    return session.scalar(select(Drug).where(Drug.pack_gtin == gtin))


def apply_scan(session: DbSession, line: ReceiptLine, field_prefix: str = "") -> ReceiptLine:
    """Fill the line from its scanned pack code; a scan that disagrees with what was typed is
    refused on the scan field (the wrong pack in hand, or a typing slip)."""
    if not line.scan.strip():
        return line
    scan_field = f"{field_prefix}scan"
    code = gs1.parse_pack_code(line.scan, field=scan_field)
    drug = drug_by_gtin(session, code.gtin)
    if drug is None:
        raise DomainError(f"No formulary drug has the pack GTIN {code.gtin}.", field=scan_field)
    if line.drug_id and line.drug_id != drug.id:
        raise DomainError(f"The scanned pack is {drug.name}, not the drug chosen.", field=scan_field)
    if code.batch and line.batch_number.strip() and line.batch_number.strip() != code.batch:
        raise DomainError(f"The scanned pack is batch {code.batch}, not {line.batch_number}.",
                          field=scan_field)
    if code.expiry and line.expiry and line.expiry != code.expiry:
        raise DomainError(f"The scanned pack expires {code.expiry:%d %b %Y}, not "
                          f"{line.expiry:%d %b %Y}.", field=scan_field)
    line.drug_id = drug.id
    line.batch_number = line.batch_number.strip() or (code.batch or "")
    line.expiry = line.expiry or code.expiry
    return line


def _check_line(session: DbSession, line: ReceiptLine, prefix: str) -> Drug:
    drug = session.get(Drug, line.drug_id) if line.drug_id else None
    if drug is None:
        raise DomainError("Choose the drug (or scan the pack).", field=f"{prefix}drug_id")
    number = line.batch_number.strip()
    if not number:
        raise DomainError("Enter the batch number printed on the pack.", field=f"{prefix}batch_number")
    if len(number) > 40:
        raise DomainError("A batch number has at most 40 characters.", field=f"{prefix}batch_number")
    if line.expiry is None:
        raise DomainError("Enter the expiry date.", field=f"{prefix}expiry")
    if line.expiry < stock.today():
        raise DomainError("This stock has already expired: do not receive it.",
                          field=f"{prefix}expiry")
    if line.quantity is None or line.quantity <= 0:
        raise DomainError("Enter how many were received (more than none).",
                          field=f"{prefix}quantity")
    if line.quantity > stock.MAX_STOCK_QUANTITY:
        raise DomainError("That quantity is implausibly large.", field=f"{prefix}quantity")
    if line.unit_cost is None or not line.unit_cost.is_finite() or line.unit_cost < 0:
        raise DomainError("Enter the unit cost (zero or more).", field=f"{prefix}unit_cost")
    if line.unit_cost >= Decimal("100000000"):
        raise DomainError("That unit cost is implausibly large.", field=f"{prefix}unit_cost")
    return drug


def receive_goods(
    session: DbSession,
    actor: Actor,
    *,
    supplier: str,
    delivery_reference: str,
    lines: list[ReceiptLine],
    location_id: int | None = None,
    witness: User | None = None,
) -> GoodsReceipt:
    """Book a delivery into stock (the main pharmacy unless told). Field errors are named
    `lines-<n>-<field>` (n: the position in `lines`; blank lines are skipped) so the form can show
    them beside the line. Flushes; audited."""
    authorize(actor, Perm.STOCK_MANAGE)
    supplier, delivery_reference = supplier.strip(), delivery_reference.strip()
    if not supplier:
        raise DomainError("Enter the supplier.", field="supplier")
    if not delivery_reference:
        raise DomainError("Enter the delivery note's reference.", field="delivery_reference")
    location = stock.get_location(session, location_id) if location_id else stock.main_location(session)
    checked: list[tuple[int, ReceiptLine, Drug]] = []
    for i, line in enumerate(lines):
        if line.is_blank():
            continue
        prefix = f"lines-{i}-"
        apply_scan(session, line, prefix)
        checked.append((i, line, _check_line(session, line, prefix)))
    if not checked:
        raise DomainError("Enter at least one line of the delivery.", field="lines-0-drug_id")
    if any(drug.controlled for _, _, drug in checked) and witness is None:
        raise DomainError("The delivery holds controlled drugs: a second person must witness.",
                          field="witness")
    if witness is not None and actor.id is not None and witness.id == actor.id:
        raise DomainError("The witness must be someone other than you.", field="witness")

    receipt = GoodsReceipt(
        number=stock.new_number(session, RECEIPT_COUNTER, RECEIPT_START), supplier=supplier,
        delivery_reference=delivery_reference, location_id=location.id, received_by_id=actor.id,
        received_by_label=actor.label,
        witness_id=witness.id if witness is not None and any(d.controlled for _, _, d in checked)
        else None,
    )
    session.add(receipt)
    session.flush()
    described = []
    for i, line, drug in checked:
        assert line.expiry is not None and line.quantity is not None and line.unit_cost is not None
        batch = stock.batch_for(
            session, drug.id, location.id, line.batch_number.strip(), line.expiry,
            field_prefix=f"lines-{i}-", unit_cost=line.unit_cost, supplier=supplier,
            gtin=drug.pack_gtin)
        movement = ledger.post(session, actor, batch.id, line.quantity, "receipt",
                               reference=delivery_reference[:60],
                               reason=f"Goods received {receipt.number} from {supplier}",
                               witness=witness if drug.controlled else None,
                               field=f"lines-{i}-quantity")
        batch.unit_cost = line.unit_cost
        batch.supplier = supplier
        session.add(GoodsReceiptLine(receipt_id=receipt.id, batch_id=batch.id,
                                     movement_id=movement.id, quantity=line.quantity,
                                     unit_cost=line.unit_cost))
        described.append({"drug": drug.name, "batch": batch.batch_number,
                          "expiry": line.expiry, "quantity": line.quantity,
                          "unit_cost": line.unit_cost, "balance_after": movement.balance_after})
    session.flush()
    audit.record(session, actor, "stock.goods_received", receipt,
                 after={"number": receipt.number, "supplier": supplier,
                        "delivery_reference": delivery_reference, "location": location.code,
                        "lines": described, "witness": witness.username if witness else None})
    return receipt


def recent_receipts(session: DbSession, limit: int = 20) -> list[GoodsReceipt]:
    return list(session.scalars(select(GoodsReceipt).order_by(GoodsReceipt.id.desc()).limit(limit)))
