"""Pharmacists printing the same labels or prescription at the same moment, in real parallel
sessions on committed PostgreSQL data: each print gets its own copy number, so exactly one is
the original and every other says REPRINT. (SQLite takes its write lock only at the first write
and has no row locks; the rule is PostgreSQL's, as in production.)"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from app.core.audit import AuditEvent
from app.domain.dispensary import labels
from app.domain.dispensary.models import Dispensing
from app.domain.identity.models import User
from app.domain.prescribing import documents
from app.extensions import db
from tests import factories
from tests.conftest import ON_POSTGRES, make_app, run_together

# As the other PostgreSQL-only races (tests/domain/scheduling/test_booking_concurrency.py): they
# skip in the SQLite pass and run in the PostgreSQL one (TEST_DATABASE_URL=postgresql://...).
pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="row locks: runs in the PostgreSQL pass")


@pytest.fixture(scope="module")
def committed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = make_app(tmp_path_factory.mktemp("labels"), name="labels")
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
    yield app
    with app.app_context():
        db.engine.dispose()


def _copies(action: str) -> list[int]:
    rows = db.session.scalars(select(AuditEvent.after).where(AuditEvent.action == action))
    return sorted(json.loads(after or "{}")["copy"] for after in rows)


def test_parallel_prints_get_distinct_copy_numbers(committed_app: Flask) -> None:
    n = 4
    with committed_app.app_context():
        p = factories.patient(db.session)
        rx = factories.verified_prescription(db.session, p, factories.drug(db.session))
        dispensing = factories.dispensed(db.session, rx)
        pharmacist_id = dispensing.dispensed_by_id
        dispensing_id, rx_id = dispensing.id, rx.id
        db.session.commit()
        db.session.remove()

    def label() -> Callable[[], str]:
        def work() -> str:
            actor = db.session.get(User, pharmacist_id)
            return labels.print_dispensing_label(db.session, actor, dispensing_id).filename
        return work

    def prescription() -> Callable[[], str]:
        def work() -> str:
            actor = db.session.get(User, pharmacist_id)
            return documents.print_prescription(db.session, actor, rx_id).filename
        return work

    names, errors = run_together(committed_app, [label() for _ in range(n)] + [prescription() for _ in range(n)])
    assert errors == []
    assert sum("reprint" not in name for name in names) == 2  # one original label, one prescription
    with committed_app.app_context():
        assert _copies("print.dispensing_label") == list(range(1, n + 1))
        assert _copies("print.prescription") == list(range(1, n + 1))
        assert db.session.get(Dispensing, dispensing_id).label_prints == n
        db.session.remove()
