"""Two pharmacists on one prescription at the same moment, in real parallel sessions: it is
verified once; a doctor stopping it while it is verified wins or loses cleanly. Two doctors
writing the very first prescriptions at once both get a number."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from app.core.errors import Conflict, DomainError
from app.core.identifiers import IdentifierCounter, with_luhn
from app.domain.formulary.models import Drug
from app.domain.identity.models import User
from app.domain.patients.models import Patient
from app.domain.prescribing import services as prescribing
from app.domain.prescribing import verification
from app.domain.prescribing.models import Prescription
from app.extensions import db
from tests import factories
from tests.conftest import make_app, run_together
from tests.domain.prescribing import support


@pytest.fixture(scope="module")
def committed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = make_app(tmp_path_factory.mktemp("prescribing"), name="prescribing")
    yield app
    with app.app_context():
        db.engine.dispose()


def test_a_prescription_is_verified_once_by_racing_pharmacists(committed_app: Flask) -> None:
    with committed_app.app_context():
        doctor = support.user(db.session, "doctor")
        pharmacists = [support.user(db.session, "pharmacist").id for _ in range(4)]
        rx = support.write(db.session, doctor, factories.patient(db.session), factories.drug(db.session))
        rx_id, version = rx.id, rx.version
        db.session.commit()
        db.session.remove()

    def verify(user_id: int) -> Callable[[], int | None]:
        return lambda: verification.verify(db.session, db.session.get(User, user_id), rx_id, version).verified_by_id

    winners, errors = run_together(committed_app, [verify(u) for u in pharmacists])
    assert len(winners) == 1 and len(errors) == 3
    assert all(isinstance(e, (Conflict, DomainError)) for e in errors)
    with committed_app.app_context():
        rx = db.session.scalar(select(Prescription).where(Prescription.id == rx_id))
        assert rx.verified_by_id == winners[0]
        assert [v.action for v in prescribing.versions(db.session, rx_id)] == ["prescribed", "verified"]
        db.session.remove()


@pytest.fixture()
def empty_app(tmp_path: Path) -> Iterator[Flask]:
    """A database just built: no prescription has ever been numbered."""
    app = make_app(tmp_path, name="rxnumbers")
    yield app
    with app.app_context():
        db.engine.dispose()


def test_two_doctors_prescribing_at_once_on_an_empty_database_get_numbers(empty_app: Flask) -> None:
    with empty_app.app_context():
        assert db.session.get(IdentifierCounter, "prescription") is None
        doctors = [support.user(db.session, "doctor").id for _ in range(2)]
        patient_ids = [factories.patient(db.session).id for _ in range(2)]
        drug_id = factories.drug(db.session).id
        db.session.commit()
        db.session.remove()

    def prescribe(doctor_id: int, patient_id: int) -> Callable[[], str]:
        return lambda: support.write(db.session, db.session.get(User, doctor_id),
                                     db.session.get(Patient, patient_id), db.session.get(Drug, drug_id)).number

    numbers, errors = run_together(empty_app, [prescribe(d, p) for d, p in zip(doctors, patient_ids, strict=True)])
    assert errors == []
    assert sorted(numbers) == [with_luhn(1000000), with_luhn(1000001)]
