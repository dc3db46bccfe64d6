from __future__ import annotations

import pytest

from app.core.security import SYSTEM
from app.domain.dispensary import ledger
from tests import factories


def test_withdrawal_beyond_the_shelf_is_refused_and_writes_nothing(db_session) -> None:
    d = factories.drug(db_session)
    b = factories.batch(db_session, d, quantity=10)
    ledger.post(db_session, SYSTEM, b.id, -4, "dispense")
    with pytest.raises(ledger.StockShort):
        ledger.post(db_session, SYSTEM, b.id, -7, "dispense")
    assert b.quantity == 6
    assert ledger.on_hand(db_session, d.id) == 6


@pytest.mark.parametrize("who", ["doctor", "deactivated nurse"])
def test_a_controlled_drug_is_not_witnessed_by_someone_who_may_not_witness(
        db_session, make_user, who: str) -> None:
    pharmacist = make_user("pharmacist")
    witness = make_user("doctor" if who == "doctor" else "nurse")
    if who == "deactivated nurse":
        witness.active = False
    d = factories.drug(db_session, "Morphine Sulfate 10 MG Oral Tablet", controlled=True)
    b = factories.batch(db_session, d, 0)
    with pytest.raises(ledger.WitnessRequired) as refused:
        ledger.post(db_session, pharmacist, b.id, 10, "receipt", witness=witness)
    assert refused.value.field == "witness" and "may not witness" in refused.value.message
    assert b.quantity == 0 and ledger.on_hand(db_session, d.id) == 0
    witness.active = True
    nurse = make_user("nurse")
    ledger.post(db_session, pharmacist, b.id, 10, "receipt", witness=nurse)
    assert ledger.on_hand(db_session, d.id) == 10
