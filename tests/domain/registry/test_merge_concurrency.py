"""Two supervisors at the same moment, in real parallel sessions on committed data: a pair is
merged once, A-into-B racing B-into-A leaves one merge, and a merge is undone once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.core.errors import Conflict
from app.core.security import SystemActor
from app.domain.patients import services as patients
from app.domain.patients.models import Allergy, Patient
from app.domain.registry import services as registry
from app.domain.registry.models import PatientMerge
from app.extensions import db
from tests import factories
from tests.conftest import make_app, run_together

ONE, TWO = SystemActor("supervisor one"), SystemActor("supervisor two")
ROUNDS = 6


@pytest.fixture(scope="module")
def committed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = make_app(tmp_path_factory.mktemp("merges"), name="merges")
    yield app
    with app.app_context():
        db.engine.dispose()


def _pairs(app: Flask, n: int) -> list[tuple[int, int]]:
    with app.app_context():
        made = []
        for i in range(n):
            a = factories.patient(db.session, "Mensah", f"Kofi{i}", birth_date=date(1960 + i, 1, 2))
            b = factories.patient(db.session, "Mensha", f"Kofi{i}", birth_date=date(1960 + i, 1, 2))
            patients.record_allergy(db.session, ONE, b.id, "Aspirin")
            made.append((a.id, b.id))
        db.session.commit()
        db.session.remove()
    return made


def _merge(actor: SystemActor, survivor: int, retired: int) -> Callable[[], int]:
    def run() -> int:
        merge = registry.merge_patients(db.session, actor, survivor, retired, values_from={},
                                        reason=f"{actor.label}: same person, ID checked")
        return merge.id
    return run


def _state(app: Flask, a: int, b: int) -> tuple[dict[int, str], int, list[int]]:
    with app.app_context():
        status = dict(db.session.execute(select(Patient.id, Patient.status).where(Patient.id.in_([a, b]))).all())
        active = db.session.scalar(select(func.count()).select_from(PatientMerge).where(
            PatientMerge.status == "active", PatientMerge.retired_id.in_([a, b])))
        owners = sorted(db.session.scalars(select(Allergy.patient_id).where(Allergy.patient_id.in_([a, b]))))
        db.session.remove()
    return status, active or 0, owners


def test_two_supervisors_merging_the_same_pair(committed_app: Flask) -> None:
    for a, b in _pairs(committed_app, ROUNDS):
        results, errors = run_together(committed_app, [_merge(ONE, a, b), _merge(TWO, a, b)])
        assert len(results) == 1 and len(errors) == 1, errors
        assert isinstance(errors[0], Conflict) and "already been merged" in errors[0].message
        assert _state(committed_app, a, b) == ({a: "active", b: "merged"}, 1, [a])


def test_merging_a_into_b_while_another_merges_b_into_a(committed_app: Flask) -> None:
    for a, b in _pairs(committed_app, ROUNDS):
        results, errors = run_together(committed_app, [_merge(ONE, a, b), _merge(TWO, b, a)])
        assert len(results) == 1 and len(errors) == 1, errors
        assert isinstance(errors[0], Conflict) and "already been merged" in errors[0].message
        status, active, owners = _state(committed_app, a, b)
        assert sorted(status.values()) == ["active", "merged"] and active == 1
        survivor = next(pid for pid, s in status.items() if s == "active")
        assert owners == [survivor]


def test_two_supervisors_undoing_one_merge(committed_app: Flask) -> None:
    for a, b in _pairs(committed_app, 3):
        with committed_app.app_context():
            merge_id = _merge(ONE, a, b)()
            db.session.commit()
            db.session.remove()

        def undo(actor: SystemActor, merge_id: int = merge_id) -> Callable[[], Any]:
            return lambda: registry.unmerge_patients(db.session, actor, merge_id, "Two different people")

        results, errors = run_together(committed_app, [undo(ONE), undo(TWO)])
        assert len(results) == 1 and len(errors) == 1, errors
        assert isinstance(errors[0], Conflict) and "already undone" in errors[0].message
        assert _state(committed_app, a, b) == ({a: "active", b: "active"}, 0, [b])
