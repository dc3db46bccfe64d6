"""Registration and demographic edits: every field checked on the server, likely duplicates
shown before saving (saving anyway needs a reason), every change kept as a version."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.core import clock
from app.core.audit import AuditEvent
from app.core.errors import DomainError
from app.core.security import SYSTEM
from app.domain.patients import history
from app.domain.patients import services as patients
from app.domain.patients.models import Patient, PatientVersion
from app.domain.registry.duplicates import PossibleDuplicates
from tests import factories
from tests.conftest import make_app


def data(**kw: Any) -> patients.Demographics:
    values: dict[str, Any] = {"family_name": "Okafor", "given_names": "Chidi", "birth_date": date(1988, 4, 9),
                              "sex": "male", "phone": "07700 900456"}
    values.update(kw)
    return patients.Demographics(**values)


def edit(session: Any, actor: Any, p: Patient, **kw: Any) -> Patient:
    fields = {k: getattr(p, k) for k in patients.DEMOGRAPHIC_FIELDS}
    change = kw.pop("change", "updated")
    reason = kw.pop("reason", None)
    fields.update(kw)
    return patients.update_demographics(session, actor, p.id, patients.Demographics(**fields),
                                        expected_version=p.version, change=change, reason=reason)


def test_every_wrong_field_is_reported_at_once(db_session: Any, app: Flask) -> None:
    tomorrow = clock.today_local(app.config["HOSPITAL_TIMEZONE"]) + timedelta(days=1)
    with pytest.raises(patients.InvalidDemographics) as exc:
        patients.register_patient(db_session, SYSTEM, data(
            family_name=" ", given_names="", birth_date=tomorrow, sex="x", phone="0770"))
    assert set(exc.value.errors) == {"family_name", "given_names", "birth_date", "sex", "phone"}
    assert exc.value.errors["birth_date"] == "The date of birth cannot be in the future."
    assert db_session.scalar(select(Patient).where(Patient.family_name == "Okafor")) is None


def test_national_id_format_where_configured(db_session: Any, app: Flask, monkeypatch: Any) -> None:
    monkeypatch.setitem(app.config, "NATIONAL_ID_FORMAT", "gb.nhs")
    with pytest.raises(patients.InvalidDemographics) as exc:
        patients.register_patient(db_session, SYSTEM, data(national_id="943 476 5918"))
    assert "check the number" in exc.value.errors["national_id"]
    p = patients.register_patient(db_session, SYSTEM, data(national_id="943 476 5919"))
    assert p.national_id == "9434765919"
    assert [x.mrn for x in patients.visible_patients(db_session, SYSTEM, "943-476-5919")] == [p.mrn]


def test_registration_keeps_the_normalised_columns_and_version_one(db_session: Any) -> None:
    p = patients.register_patient(db_session, SYSTEM, data(family_name="  Nguyễn ", given_names="Thị  Mai"))
    assert (p.family_name, p.given_names) == ("Nguyễn", "Thị Mai")
    assert (p.family_norm, p.given_norm, p.phone_e164, p.status) == ("nguyen", "thi mai", "+447700900456", "active")
    [v] = db_session.scalars(select(PatientVersion).where(PatientVersion.patient_id == p.id)).all()
    assert (v.version, v.change, v.changed_by_label) == (1, "registered", "system")
    assert v.snapshot["mrn"] == p.mrn and v.snapshot["birth_date"] == "1988-04-09"


def test_a_likely_duplicate_stops_registration_until_a_reason_is_given(db_session: Any, make_user: Any) -> None:
    clerk = make_user("reception")
    first = patients.register_patient(db_session, clerk, data())
    with pytest.raises(PossibleDuplicates) as exc:
        patients.register_patient(db_session, clerk, data())
    assert [m.patient.id for m in exc.value.matches] == [first.id]
    with pytest.raises(PossibleDuplicates):
        patients.register_patient(db_session, clerk, data(), duplicate_reason="  ")
    second = patients.register_patient(db_session, clerk, data(), duplicate_reason="Twin brother, same name")
    assert second.mrn != first.mrn
    row = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.duplicate_override"))
    assert row.reason == "Twin brother, same name" and row.patient_id == second.id
    assert first.mrn in row.after and row.actor_id == clerk.id


def test_an_edit_keeps_the_old_values_and_the_history_shows_the_change(db_session: Any, make_user: Any) -> None:
    clerk = make_user("reception")
    p = patients.register_patient(db_session, clerk, data())
    edit(db_session, clerk, p, phone="+44 20 7946 0000", city="Leeds")
    edit(db_session, clerk, p, change="corrected", reason="Misheard at registration",
         birth_date=date(1988, 9, 4))
    assert p.phone_e164 == "+442079460000"
    views = history.patient_history(db_session, clerk, p.id)
    assert [(v.version, v.change) for v in views] == [(3, "corrected"), (2, "updated"), (1, "registered")]
    corrected, updated, registered = views
    assert [(c.field, c.old, c.new) for c in corrected.changes] == [("birth_date", "1988-04-09", "1988-09-04")]
    assert corrected.reason == "Misheard at registration" and corrected.changed_by == clerk.label
    assert [(c.field, c.old, c.new) for c in updated.changes] == [
        ("phone", "07700 900456", "+44 20 7946 0000"), ("city", None, "Leeds")]
    assert {c.field for c in registered.changes} >= {"mrn", "family_name", "birth_date", "status"}
    audit_rows = db_session.scalars(select(AuditEvent).where(AuditEvent.patient_id == p.id)
                                    .order_by(AuditEvent.seq)).all()
    assert [r.action for r in audit_rows] == ["patient.registered", "patient.updated", "patient.corrected"]


def test_a_correction_needs_a_reason_and_nothing_changed_is_refused(db_session: Any) -> None:
    p = factories.patient(db_session)
    with pytest.raises(DomainError, match="needs a reason") as exc:
        edit(db_session, SYSTEM, p, change="corrected", given_names="Thi Mai")
    assert exc.value.field == "reason"
    with pytest.raises(DomainError, match="Nothing has changed"):
        edit(db_session, SYSTEM, p)


def test_a_stale_form_is_refused(db_session: Any) -> None:
    p = factories.patient(db_session)
    opened = p.version
    edit(db_session, SYSTEM, p, city="York")
    fields = {k: getattr(p, k) for k in patients.DEMOGRAPHIC_FIELDS} | {"city": "Hull"}
    with pytest.raises(patients.StaleRecord) as exc:
        patients.update_demographics(db_session, SYSTEM, p.id, patients.Demographics(**fields),
                                     expected_version=opened, change="updated")
    assert exc.value.status_code == 409
    assert p.city == "York"


def test_an_edit_that_makes_the_record_look_like_another_is_checked(db_session: Any) -> None:
    a = factories.patient(db_session, "Adeyemi", "Tolu", birth_date=date(1970, 1, 1))
    b = factories.patient(db_session, "Adeyemi", "Tola", birth_date=date(1970, 1, 1))
    with pytest.raises(PossibleDuplicates) as exc:
        edit(db_session, SYSTEM, b, change="corrected", reason="Typo in given name", given_names="Tolu")
    assert [m.patient.id for m in exc.value.matches] == [a.id]
    edit(db_session, SYSTEM, b, city="Ibadan")  # not an identity change: no check


def test_record_version_numbers_per_patient(db_session: Any) -> None:
    p = factories.patient(db_session)
    v = history.record_version(db_session, SYSTEM, p, change="merged", reason="Same person")
    assert (v.version, v.change, v.reason) == (2, "merged", "Same person")
    with pytest.raises(ValueError):
        history.record_version(db_session, SYSTEM, p, change="deleted", reason=None)


# --- two clerks editing one record at the same moment (committed data, real sessions) ------------

@pytest.fixture(scope="module")
def committed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    from app.extensions import db

    app = make_app(tmp_path_factory.mktemp("edits"), name="edits")
    yield app
    with app.app_context():
        db.engine.dispose()


def test_two_simultaneous_edits_one_wins_the_other_is_told(committed_app: Flask) -> None:
    from app.extensions import db

    with committed_app.app_context():
        p = patients.register_patient(db.session, SYSTEM, data(family_name="Concurrent"), check_duplicates=False)
        db.session.commit()
        pid, version = p.id, p.version
        db.session.remove()
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def clerk(city: str) -> None:
        with committed_app.app_context():
            try:
                patient = db.session.get(Patient, pid)  # each clerk opens the form
                assert patient is not None
                fields = {k: getattr(patient, k) for k in patients.DEMOGRAPHIC_FIELDS} | {"city": city}
                db.session.remove()
                start.wait()  # and both press Save at once
                patients.update_demographics(db.session, SYSTEM, pid, patients.Demographics(**fields),
                                             expected_version=version, change="updated")
                db.session.commit()
                outcomes.append(f"saved {city}")
            except patients.StaleRecord:
                db.session.rollback()
                outcomes.append("stale")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=clerk, args=(c,)) for c in ("Leeds", "York")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(o.split()[0] for o in outcomes) == ["saved", "stale"]
    with committed_app.app_context():
        p = db.session.get(Patient, pid)
        assert p is not None
        versions = db.session.scalars(select(PatientVersion).where(PatientVersion.patient_id == pid)).all()
        assert f"saved {p.city}" in outcomes and len(versions) == 2
        db.session.remove()


def test_a_write_racing_past_the_version_check_is_still_caught(committed_app: Flask) -> None:
    """Clerk A has loaded the record (version v) when clerk B saves; A's own check still sees v,
    so only the UPDATE ... WHERE version = v can catch it. SQLite takes the write lock when A's
    transaction begins, so B cannot save in between there: PostgreSQL only."""
    from app.extensions import db

    with committed_app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite serialises whole transactions; nothing can race")
        p = patients.register_patient(db.session, SYSTEM, data(family_name="Racer"), check_duplicates=False)
        db.session.commit()
        pid, version = p.id, p.version
        fields = {k: getattr(p, k) for k in patients.DEMOGRAPHIC_FIELDS}
        db.session.remove()
        a = db.session
        assert a.get(Patient, pid) is not None  # A's transaction holds version v
        with db.engine.connect() as b:
            b.execute(Patient.__table__.update().where(Patient.id == pid)
                      .values(city="Bradford", version=version + 1))
            b.commit()
        with pytest.raises(patients.StaleRecord):
            patients.update_demographics(a, SYSTEM, pid, patients.Demographics(**fields | {"city": "Hull"}),
                                         expected_version=version, change="updated")
        a.rollback()
        assert a.get(Patient, pid).city == "Bradford"  # type: ignore[union-attr]
        db.session.remove()
