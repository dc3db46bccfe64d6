"""The demo seed stocks the pharmacy once the formulary exists: batches in the main pharmacy
(one expiring soon, one expired), a ward's cupboard, reorder levels, a witnessed CD."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from app.demo import _seed_pharmacy_stock, seed
from app.domain.dispensary import controlled, counts, ledger, reorder, stock
from app.domain.dispensary.inventory_models import ReorderLevel
from app.domain.dispensary.models import StockBatch, StockLocation
from tests import factories


def test_demo_stock_is_seeded_once_and_adds_up(db_session: Any) -> None:
    _seed_pharmacy_stock(db_session)  # no drugs yet: nothing to stock, no error
    assert db_session.scalar(select(func.count()).select_from(StockBatch)) == 0
    factories.drug(db_session)
    factories.drug(db_session, "Ibuprofen 200 MG Oral Tablet", generic_name="ibuprofen")
    factories.drug(db_session, "Metformin 500 MG Oral Tablet", generic_name="metformin")
    factories.drug(db_session, "Lisinopril 10 MG Oral Tablet", generic_name="lisinopril")
    factories.drug(db_session, "Morphine 10 MG Oral Tablet", generic_name="morphine", controlled=True)
    seed(db_session, patients_wanted=3)
    db_session.flush()

    today = stock.today()
    main = stock.main_location(db_session)
    batches = list(db_session.scalars(select(StockBatch).where(StockBatch.quantity > 0)))
    assert any(b.expiry < today and b.location_id == main.id for b in batches)
    assert any(today <= b.expiry <= today + timedelta(days=90) for b in batches)
    amu = db_session.scalar(select(StockLocation).where(StockLocation.code == "WARD-AMU"))
    assert amu is not None and any(b.location_id == amu.id for b in batches)
    assert db_session.scalar(select(func.count()).select_from(ReorderLevel)) >= 3
    assert reorder.low_stock(db_session)
    assert counts.reconcile(db_session) == []
    stocked_cds = [d for d in controlled.controlled_drugs(db_session) if ledger.on_hand(db_session, d.id)]
    assert len(stocked_cds) == 1
    for loc in (main, amu):
        cd = stocked_cds[0]
        assert controlled.register_balance(db_session, cd.id, loc.id) == ledger.on_hand(db_session, cd.id, loc.id) > 0

    before = db_session.scalar(select(func.count()).select_from(StockBatch))
    seed(db_session, patients_wanted=3)
    assert db_session.scalar(select(func.count()).select_from(StockBatch)) == before
