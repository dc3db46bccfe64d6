"""Goods received: a delivery becomes stock through the ledger, new batches or top-ups, with
every line checked and controlled drugs witnessed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from app.core.audit import AuditEvent
from app.core.errors import DomainError, Forbidden
from app.core.identifiers import luhn_valid
from app.domain.dispensary import gs1, receiving, stock
from app.domain.dispensary.models import StockBatch
from app.domain.dispensary.receiving import ReceiptLine
from tests import factories
from tests.domain.dispensary.inventory_support import ledger_sum, movements, register_entries


def _line(drug: Any, **kw: Any) -> ReceiptLine:
    values: dict[str, Any] = dict(drug_id=drug.id, batch_number="LOT1",
                                  expiry=stock.today() + timedelta(days=400), quantity=50,
                                  unit_cost=Decimal("0.1200"))
    values.update(kw)
    return ReceiptLine(**values)


def test_a_delivery_creates_batches_through_the_ledger(db_session: Any, make_user: Any) -> None:
    pharmacist = make_user("pharmacist")
    amox = factories.drug(db_session)
    para = factories.drug(db_session, "Paracetamol 500 MG Oral Tablet", generic_name="paracetamol")
    receipt = receiving.receive_goods(
        db_session, pharmacist, supplier="Alliance", delivery_reference="DN-881",
        lines=[_line(amox), _line(para, batch_number="P-9", quantity=200, unit_cost=Decimal("0"))])
    assert luhn_valid(receipt.number)
    batches = {line.batch.batch_number: line.batch for line in receipt.lines}
    assert batches["LOT1"].quantity == 50 and batches["P-9"].quantity == 200
    assert batches["LOT1"].supplier == "Alliance" and batches["LOT1"].unit_cost == Decimal("0.12")
    assert batches["LOT1"].location_id == stock.main_location(db_session).id
    assert movements(db_session, batches["P-9"].id) == [("receipt", 200)]
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "stock.goods_received"))
    assert "DN-881" in event.after and "Paracetamol" in event.after


def test_the_same_batch_again_tops_it_up_but_a_different_expiry_is_refused(
        db_session: Any, make_user: Any) -> None:
    pharmacist = make_user("pharmacist")
    d = factories.drug(db_session)
    first = receiving.receive_goods(db_session, pharmacist, supplier="A", delivery_reference="1",
                                    lines=[_line(d, quantity=30)])
    receiving.receive_goods(db_session, pharmacist, supplier="A", delivery_reference="2",
                            lines=[_line(d, quantity=20)])
    batch = first.lines[0].batch
    assert batch.quantity == 50 and ledger_sum(db_session, batch.id) == 50
    assert db_session.scalar(select(StockBatch.id).where(StockBatch.id != batch.id,
                                                         StockBatch.drug_id == d.id)) is None
    with pytest.raises(DomainError) as refused:
        receiving.receive_goods(db_session, pharmacist, supplier="A", delivery_reference="3",
                                lines=[_line(d, expiry=stock.today() + timedelta(days=30))])
    assert refused.value.field == "lines-0-expiry"


@pytest.mark.parametrize(("change", "field"), [
    ({"expiry": "past"}, "lines-0-expiry"),
    ({"quantity": 0}, "lines-0-quantity"),
    ({"quantity": -5}, "lines-0-quantity"),
    ({"unit_cost": Decimal("-0.01")}, "lines-0-unit_cost"),
    ({"unit_cost": None}, "lines-0-unit_cost"),
    ({"batch_number": "  "}, "lines-0-batch_number"),
    ({"drug_id": None}, "lines-0-drug_id"),
    ({"quantity": stock.MAX_STOCK_QUANTITY + 1}, "lines-0-quantity"),
])
def test_bad_lines_are_refused_beside_their_field_and_nothing_is_written(
        db_session: Any, make_user: Any, change: dict[str, Any], field: str) -> None:
    pharmacist = make_user("pharmacist")
    d = factories.drug(db_session)
    if change.get("expiry") == "past":
        change = {"expiry": stock.today() - timedelta(days=1)}
    with pytest.raises(DomainError) as refused:
        receiving.receive_goods(db_session, pharmacist, supplier="A", delivery_reference="1",
                                lines=[_line(d, **change)])
    assert refused.value.field == field
    assert db_session.scalar(select(StockBatch.id).where(StockBatch.drug_id == d.id)) is None


def test_supplier_and_reference_are_required(db_session: Any, make_user: Any) -> None:
    pharmacist = make_user("pharmacist")
    d = factories.drug(db_session)
    for kw, field in (({"supplier": " ", "delivery_reference": "1"}, "supplier"),
                      ({"supplier": "A", "delivery_reference": ""}, "delivery_reference")):
        with pytest.raises(DomainError) as refused:
            receiving.receive_goods(db_session, pharmacist, lines=[_line(d)], **kw)
        assert refused.value.field == field


def test_a_nurse_may_not_receive_goods(db_session: Any, make_user: Any) -> None:
    with pytest.raises(Forbidden):
        receiving.receive_goods(db_session, make_user("nurse"), supplier="A",
                                delivery_reference="1", lines=[])


def test_a_scanned_pack_fills_drug_batch_and_expiry(db_session: Any, make_user: Any) -> None:
    pharmacist = make_user("pharmacist")
    d = factories.drug(db_session)
    expiry = stock.today() + timedelta(days=200)
    code = gs1.element_string(d.pack_gtin, expiry, "SCAN-7")
    receipt = receiving.receive_goods(
        db_session, pharmacist, supplier="A", delivery_reference="1",
        lines=[ReceiptLine(scan=code, quantity=21, unit_cost=Decimal("1.5"))])
    batch = receipt.lines[0].batch
    assert (batch.drug_id, batch.batch_number, batch.expiry, batch.quantity) == (d.id, "SCAN-7", expiry, 21)


def test_a_scan_that_disagrees_with_the_typed_drug_is_refused(db_session: Any, make_user: Any) -> None:
    pharmacist = make_user("pharmacist")
    d = factories.drug(db_session)
    other = factories.drug(db_session, "Ibuprofen 200 MG Oral Tablet", generic_name="ibuprofen")
    code = gs1.element_string(other.pack_gtin, stock.today() + timedelta(days=90), "X1")
    with pytest.raises(DomainError) as refused:
        receiving.receive_goods(db_session, pharmacist, supplier="A", delivery_reference="1",
                                lines=[_line(d, batch_number="", expiry=None, scan=code)])
    assert refused.value.field == "lines-0-scan" and "Ibuprofen" in refused.value.message


def test_controlled_drugs_need_a_witness_and_go_on_the_register(db_session: Any, make_user: Any) -> None:
    pharmacist, witness = make_user("pharmacist"), make_user("pharmacist")
    morphine = factories.drug(db_session, "Morphine 10 MG Oral Tablet", generic_name="morphine",
                              controlled=True)
    with pytest.raises(DomainError) as refused:
        receiving.receive_goods(db_session, pharmacist, supplier="A", delivery_reference="CD1",
                                lines=[_line(morphine)])
    assert refused.value.field == "witness"
    with pytest.raises(DomainError) as self_witnessed:
        receiving.receive_goods(db_session, pharmacist, supplier="A", delivery_reference="CD1",
                                lines=[_line(morphine)], witness=pharmacist)
    assert self_witnessed.value.field == "witness" and "other than you" in self_witnessed.value.message
    assert db_session.scalar(select(StockBatch.id).where(StockBatch.drug_id == morphine.id)) is None
    receiving.receive_goods(db_session, pharmacist, supplier="A", delivery_reference="CD1",
                            lines=[_line(morphine, quantity=100)], witness=witness)
    main = stock.main_location(db_session)
    [entry] = register_entries(db_session, morphine.id, main.id)
    assert (entry.kind, entry.quantity, entry.balance_after) == ("receipt", 100, 100)
    assert (entry.actor_id, entry.witness_id) == (pharmacist.id, witness.id)
