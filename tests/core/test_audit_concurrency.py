"""Concurrent writers never fork the audit chain (real sessions, committed data)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.core import audit
from app.core.security import SYSTEM
from app.extensions import db
from tests.conftest import make_app


@pytest.fixture(scope="module")
def committed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = make_app(tmp_path_factory.mktemp("concurrency"), name="concurrency")
    yield app
    with app.app_context():
        db.engine.dispose()


def test_parallel_appends_make_one_unbroken_chain(committed_app: Flask) -> None:
    writers, each = 6, 15
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(n: int) -> None:
        try:
            with committed_app.app_context():
                start.wait()
                for i in range(each):
                    audit.record(db.session, SYSTEM, "test.parallel", ("writer", n), after={"i": i})
                    db.session.commit()
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with committed_app.app_context():
        count = db.session.scalar(select(func.count()).select_from(audit.AuditEvent))
        result = audit.verify(db.session)
        db.session.remove()
    assert count == writers * each
    assert result.ok and result.checked == writers * each


def test_a_rolled_back_append_leaves_no_gap(committed_app: Flask) -> None:
    with committed_app.app_context():
        before = audit.verify(db.session).checked
        audit.record(db.session, SYSTEM, "test.rolled_back")
        db.session.rollback()
        audit.record(db.session, SYSTEM, "test.kept")
        db.session.commit()
        result: Any = audit.verify(db.session)
        db.session.remove()
    assert result.ok and result.checked == before + 1
