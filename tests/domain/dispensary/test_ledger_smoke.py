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
