"""A nurse sees the patients on her wards; break-the-glass is the audited exception."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.core import clock
from app.core.audit import AuditEvent
from app.core.errors import DomainError, Forbidden
from app.core.security import SYSTEM
from app.domain.patients import services as patients
from tests import factories


@pytest.fixture()
def two_wards(db_session: Any) -> tuple[Any, Any, Any, Any]:
    mine, other = factories.ward(db_session), factories.ward(db_session)
    here = factories.admitted(db_session, mine, factories.patient(db_session, family="Here"))
    there = factories.admitted(db_session, other, factories.patient(db_session, family="There"))
    return mine, other, here, there


def test_nurse_sees_only_her_wards(db_session: Any, make_user: Any, two_wards: Any) -> None:
    mine, _other, here, there = two_wards
    nurse = make_user("nurse", ward_ids=[mine.id])
    assert patients.open_chart(db_session, nurse, here.id).id == here.id
    with pytest.raises(Forbidden):
        patients.open_chart(db_session, nurse, there.id)
    assert [p.id for p in patients.visible_patients(db_session, nurse)] == [here.id]


def test_doctor_is_not_ward_scoped(db_session: Any, make_user: Any, two_wards: Any) -> None:
    doctor = make_user("doctor")
    assert {p.id for p in patients.visible_patients(db_session, doctor)} >= {two_wards[2].id, two_wards[3].id}


def test_chart_opening_is_audited_as_a_read(db_session: Any, make_user: Any, two_wards: Any) -> None:
    doctor = make_user("doctor")
    patients.open_chart(db_session, doctor, two_wards[2].id)
    row = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.chart_opened"))
    assert row.actor_id == doctor.id and row.patient_id == two_wards[2].id


def test_break_glass_opens_for_a_limited_time(db_session: Any, make_user: Any, two_wards: Any) -> None:
    mine, _other, _here, there = two_wards
    nurse = make_user("nurse", ward_ids=[mine.id])
    with pytest.raises(DomainError, match="at least 10"):
        patients.break_glass(db_session, nurse, there.id, "because")
    with clock.freeze(clock.now()) as time:
        patients.break_glass(db_session, nurse, there.id, "Cardiac arrest call on ward 7")
        assert patients.open_chart(db_session, nurse, there.id).id == there.id
        time.advance(minutes=61)
        with pytest.raises(Forbidden):
            patients.open_chart(db_session, nurse, there.id)
    row = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.break_glass"))
    assert row.reason == "Cardiac arrest call on ward 7"


def test_registration_validates_and_issues_check_digit_mrns(db_session: Any) -> None:
    future = clock.now().date() + timedelta(days=2)
    with pytest.raises(DomainError, match="future") as exc:
        factories.patient(db_session, birth_date=future)
    assert exc.value.field == "birth_date"
    first, second = factories.patient(db_session), factories.patient(db_session)
    assert int(second.mrn[:-1]) == int(first.mrn[:-1]) + 1
    with pytest.raises(DomainError, match="Choose female"):
        patients.register_patient(db_session, SYSTEM, patients.Demographics("A", "B", date(1990, 1, 1), "x"))
