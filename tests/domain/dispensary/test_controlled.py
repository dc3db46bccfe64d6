"""The controlled-drug register: every movement of a controlled drug is an entry, witnessed by a
second person, whose running balance is always the stock on hand; the cupboard check records
any discrepancy as a witnessed count."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from app.core.errors import DomainError, Forbidden
from app.domain.dispensary import (
    adjustments,
    controlled,
    counts,
    ledger,
    receiving,
    stock,
    transfers,
)
from app.domain.dispensary.inventory_models import ControlledDrugCheck
from app.domain.dispensary.receiving import ReceiptLine
from tests import factories


def _morphine(db_session: Any) -> Any:
    return factories.drug(db_session, "Morphine Sulfate 10 MG Oral Tablet", generic_name="morphine",
                          drug_class="opioids", controlled=True)


def test_the_running_balance_always_equals_the_stock_on_hand(db_session: Any, make_user: Any) -> None:
    pharmacist, witness = make_user("pharmacist"), make_user("nurse")
    ward = factories.ward(db_session)
    d = _morphine(db_session)
    main = stock.main_location(db_session)
    today = stock.today()

    def check() -> None:
        for loc_id in {main.id, *( [stock.ward_location(db_session, ward.id).id] )}:
            assert controlled.register_balance(db_session, d.id, loc_id) == ledger.on_hand(db_session, d.id, loc_id)

    for n, (number, qty) in enumerate((("M1", 50), ("M2", 30), ("M1", 10))):
        receiving.receive_goods(db_session, pharmacist, supplier="CD supplier", delivery_reference=f"CD{n}",
                                lines=[ReceiptLine(drug_id=d.id, batch_number=number,
                                                   expiry=today + timedelta(days=100 + (number == "M2")),
                                                   quantity=qty, unit_cost=Decimal("2"))],
                                witness=witness)
        check()
    transfers.transfer_to_ward(db_session, pharmacist, drug_id=d.id, ward_id=ward.id, quantity=65,
                               witness=witness)
    check()
    m2 = db_session.scalar(select(controlled.StockBatch).where(
        controlled.StockBatch.batch_number == "M2", controlled.StockBatch.location_id == main.id))
    adjustments.adjust_stock(db_session, pharmacist, m2.id, -1, "breakage", witness=witness)
    check()

    lines = controlled.register(db_session, pharmacist, d.id, main.id)
    assert [(x.entry.kind, x.entry.quantity, x.entry.balance_after) for x in lines] == [
        ("receipt", 50, 50), ("receipt", 30, 80), ("receipt", 10, 90),
        ("transfer_out", -60, 30), ("transfer_out", -5, 25), ("adjustment", -1, 24)]
    assert {(x.actor, x.witness) for x in lines} == {(pharmacist.full_name, witness.full_name)}
    assert [x.batch_number for x in lines][:3] == ["M1", "M2", "M1"]


def test_the_register_is_not_for_a_doctor(db_session: Any, make_user: Any) -> None:
    with pytest.raises(Forbidden):
        controlled.register(db_session, make_user("doctor"), 1, 1)


def test_a_cupboard_check_records_a_discrepancy_as_a_witnessed_count(db_session: Any, make_user: Any) -> None:
    pharmacist, witness = make_user("pharmacist"), make_user("pharmacist")
    d = _morphine(db_session)
    main = stock.main_location(db_session)
    b = factories.batch(db_session, d, 0)
    ledger.post(db_session, pharmacist, b.id, 20, "receipt", witness=witness)

    with pytest.raises(DomainError) as unwitnessed:
        controlled.check_register(db_session, pharmacist, drug_id=d.id, location_id=main.id,
                                  counted={b.id: 20}, witness=None)
    assert unwitnessed.value.field == "witness"
    with pytest.raises(DomainError) as self_witnessed:
        controlled.check_register(db_session, pharmacist, drug_id=d.id, location_id=main.id,
                                  counted={b.id: 20}, witness=pharmacist)
    assert self_witnessed.value.field == "witness"
    with pytest.raises(DomainError) as no_reason:
        controlled.check_register(db_session, pharmacist, drug_id=d.id, location_id=main.id,
                                  counted={b.id: 19}, witness=witness)
    assert no_reason.value.field == "reason"

    same = controlled.check_register(db_session, pharmacist, drug_id=d.id, location_id=main.id,
                                     counted={b.id: 20}, witness=witness)
    assert (same.expected, same.counted) == (20, 20)
    short = controlled.check_register(db_session, pharmacist, drug_id=d.id, location_id=main.id,
                                      counted={b.id: 19}, witness=witness, reason="one tablet unaccounted for; incident reported")
    assert (short.expected, short.counted) == (20, 19)
    last = controlled.register(db_session, pharmacist, d.id, main.id)[-1]
    assert (last.entry.kind, last.entry.quantity, last.entry.balance_after) == ("count", -1, 19)
    assert "incident reported" in (last.entry.note or "") and last.entry.witness_id == witness.id
    assert len(db_session.scalars(select(ControlledDrugCheck)).all()) == 2
    assert counts.reconcile(db_session, main.id) == []


def test_the_register_names_only_patients_the_reader_may_see(db_session: Any, make_user: Any) -> None:
    pharmacist, witness = make_user("pharmacist"), make_user("nurse")
    ward, other = factories.ward(db_session), factories.ward(db_session)
    patient = factories.admitted(db_session, ward)
    d = _morphine(db_session)
    b = factories.batch(db_session, d, 0)
    ledger.post(db_session, pharmacist, b.id, 10, "receipt", witness=witness)
    ledger.post(db_session, pharmacist, b.id, -1, "dispense", witness=witness, patient_id=patient.id)

    def last_for(reader: Any) -> Any:
        return controlled.register(db_session, reader, d.id, b.location_id)[-1]

    assert last_for(pharmacist).patient is patient
    on_ward = last_for(make_user("charge_nurse", [ward.id]))
    assert on_ward.patient is patient and not on_ward.patient_hidden
    off_ward = last_for(make_user("charge_nurse", [other.id]))
    assert off_ward.patient is None and off_ward.patient_hidden
    assert off_ward.entry.quantity == -1 and off_ward.entry.balance_after == 9
    assert not controlled.register(db_session, pharmacist, d.id, b.location_id)[0].patient_hidden
