"""Transfers to ward stock: first expiry first out (or the chosen batch), the same batch arrives
in the ward's cupboard, short stock is refused with nothing written, controlled drugs witnessed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.core.audit import AuditEvent
from app.core.errors import DomainError
from app.domain.dispensary import ledger, stock, transfers
from app.domain.dispensary.models import StockBatch, StockLocation, StockMovement
from tests import factories
from tests.domain.dispensary.inventory_support import ledger_sum, movements, register_entries


def test_first_transfer_creates_the_ward_cupboard_and_moves_stock_fefo(
        db_session: Any, make_user: Any) -> None:
    pharmacist = make_user("pharmacist")
    ward = factories.ward(db_session)
    d = factories.drug(db_session)
    today = stock.today()
    late = factories.batch(db_session, d, 100, expiry=today + timedelta(days=300), batch_number="LATE")
    early = factories.batch(db_session, d, 30, expiry=today + timedelta(days=20), batch_number="EARLY")
    expired = factories.batch(db_session, d, 50, expiry=today - timedelta(days=1), batch_number="OLD")

    transfer = transfers.transfer_to_ward(db_session, pharmacist, drug_id=d.id, ward_id=ward.id,
                                          quantity=40)

    cupboard = db_session.scalar(select(StockLocation).where(StockLocation.ward_id == ward.id))
    assert cupboard.code == f"WARD-{ward.code}" and cupboard.kind == "ward"
    assert (early.quantity, late.quantity, expired.quantity) == (0, 90, 50)
    arrived = {b.batch_number: b for b in db_session.scalars(
        select(StockBatch).where(StockBatch.location_id == cupboard.id))}
    assert {k: (b.quantity, b.expiry) for k, b in arrived.items()} == {
        "EARLY": (30, early.expiry), "LATE": (10, late.expiry)}
    assert movements(db_session, early.id)[-1] == ("transfer_out", -30)
    assert movements(db_session, arrived["LATE"].id) == [("transfer_in", 10)]
    refs = set(db_session.scalars(select(StockMovement.reference).where(
        StockMovement.kind.in_(["transfer_out", "transfer_in"]))))
    assert refs == {transfer.number}
    for b in [early, late, *arrived.values()]:
        assert ledger_sum(db_session, b.id) == b.quantity
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "stock.transferred")) is not None

    # the second transfer reuses the cupboard and tops up the ward's batch
    transfers.transfer_to_ward(db_session, pharmacist, drug_id=d.id, ward_id=ward.id, quantity=5)
    assert arrived["LATE"].quantity == 15
    assert db_session.scalar(select(StockLocation.id).where(
        StockLocation.ward_id == ward.id, StockLocation.id != cupboard.id)) is None


def test_a_chosen_batch_is_used_even_if_another_expires_first(db_session: Any, make_user: Any) -> None:
    pharmacist = make_user("pharmacist")
    ward = factories.ward(db_session)
    d = factories.drug(db_session)
    today = stock.today()
    factories.batch(db_session, d, 30, expiry=today + timedelta(days=20))
    chosen = factories.batch(db_session, d, 30, expiry=today + timedelta(days=200))
    transfers.transfer_to_ward(db_session, pharmacist, drug_id=d.id, ward_id=ward.id, quantity=10,
                               batch_id=chosen.id)
    assert chosen.quantity == 20


def test_short_stock_is_refused_and_nothing_is_written(db_session: Any, make_user: Any) -> None:
    pharmacist = make_user("pharmacist")
    ward = factories.ward(db_session)
    d = factories.drug(db_session)
    today = stock.today()
    b = factories.batch(db_session, d, 10, expiry=today + timedelta(days=20))
    factories.batch(db_session, d, 500, expiry=today - timedelta(days=2))  # expired: not usable
    before = db_session.scalar(select(StockMovement.id).order_by(StockMovement.id.desc()).limit(1))
    with pytest.raises(ledger.StockShort) as refused:
        transfers.transfer_to_ward(db_session, pharmacist, drug_id=d.id, ward_id=ward.id, quantity=11)
    assert "Only 10 tablet" in refused.value.message and refused.value.field == "quantity"
    assert b.quantity == 10
    assert db_session.scalar(select(StockMovement.id).order_by(StockMovement.id.desc()).limit(1)) == before
    assert db_session.scalar(select(StockLocation.id).where(StockLocation.ward_id == ward.id)) is None


def test_an_expired_chosen_batch_is_refused(db_session: Any, make_user: Any) -> None:
    pharmacist = make_user("pharmacist")
    ward = factories.ward(db_session)
    d = factories.drug(db_session)
    old = factories.batch(db_session, d, 10, expiry=stock.today() - timedelta(days=1))
    with pytest.raises(DomainError) as refused:
        transfers.transfer_to_ward(db_session, pharmacist, drug_id=d.id, ward_id=ward.id,
                                   quantity=1, batch_id=old.id)
    assert refused.value.field == "batch_id" and "expired" in refused.value.message


def test_a_controlled_transfer_is_witnessed_on_both_registers(db_session: Any, make_user: Any) -> None:
    pharmacist, witness = make_user("pharmacist"), make_user("nurse")
    ward = factories.ward(db_session)
    d = factories.drug(db_session, "Oxycodone 5 MG Oral Capsule", generic_name="oxycodone",
                       controlled=True)
    main = stock.main_location(db_session)
    b = factories.batch(db_session, d, 0)
    ledger.post(db_session, pharmacist, b.id, 20, "receipt", witness=witness)
    with pytest.raises(DomainError) as refused:
        transfers.transfer_to_ward(db_session, pharmacist, drug_id=d.id, ward_id=ward.id, quantity=5)
    assert refused.value.field == "witness"
    transfers.transfer_to_ward(db_session, pharmacist, drug_id=d.id, ward_id=ward.id, quantity=5,
                               witness=witness)
    cupboard = stock.ward_location(db_session, ward.id)
    assert [(e.kind, e.quantity, e.balance_after) for e in register_entries(db_session, d.id, main.id)] == [
        ("receipt", 20, 20), ("transfer_out", -5, 15)]
    [ward_entry] = register_entries(db_session, d.id, cupboard.id)
    assert (ward_entry.kind, ward_entry.balance_after, ward_entry.witness_id) == ("transfer_in", 5, witness.id)
