"""Junk in the scheduling pages' query strings and forms is a 422 or "not given", never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.core import clock
from app.core.security import SYSTEM
from app.domain.scheduling import services as scheduling
from tests import factories
from tests.blueprints.scheduling.test_booking_pages import FRIDAY, MONDAY, book_fields
from tests.domain.scheduling.builders import ClinicSetup, clinic_setup, local

JUNK = ["²", "٣", "9" * 25, "-1"]
FAR_DAYS = ["9999-12-31", "0001-01-01", "1899-12-31", "2200-01-01"]


@pytest.fixture()
def setup(db_session: Any) -> Iterator[ClinicSetup]:
    with clock.freeze(local(FRIDAY, 10)):
        s = clinic_setup(db_session)
        db_session.commit()
        yield s


def test_query_ids_that_are_not_ids_are_ignored(client: Any, login_as: Any, setup: ClinicSetup) -> None:
    login_as("reception")
    start = local(MONDAY, 10).strftime("%Y-%m-%dT%H:%MZ")
    for junk in JUNK:
        for url in (f"/schedule/?patient_id={junk}",
                    f"/schedule/clinics/{setup.clinic.id}?patient_id={junk}&type={junk}&reschedule={junk}",
                    f"/schedule/resources/{setup.doctor.id}?type={junk}&patient_id={junk}",
                    f"/schedule/book?patient_id={junk}&type={junk}&start={start}&resources={junk}"
                    f"&resources={setup.doctor.id}",
                    f"/schedule/next-free?patient_id={junk}"):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        search = client.get(f"/schedule/next-free?appointment_type_id={junk}&clinician_id={junk}")
        assert search.status_code in (200, 422), (junk, search.status_code)


def test_calendar_days_out_of_range_show_today(client: Any, login_as: Any, setup: ClinicSetup) -> None:
    login_as("reception")
    for day in FAR_DAYS:
        for span in ("day", "week"):
            for url in (f"/schedule/clinics/{setup.clinic.id}?date={day}&span={span}",
                        f"/schedule/resources/{setup.doctor.id}?date={day}&span={span}"):
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
                assert FRIDAY.strftime("%d %b") in response.get_data(as_text=True) or span == "week"
    edge = client.get(f"/schedule/clinics/{setup.clinic.id}?date=2199-12-31&span=week")
    assert edge.status_code == 200
    for moment in ("9999-12-31T23:59Z", "0001-01-01T00:00Z", "9999-12-31T23:00-12:00"):
        assert client.get(f"/schedule/book?start={moment}").status_code == 200, moment
    next_free = client.get(f"/schedule/next-free?appointment_type_id={setup.new.id}&after=9999-12-31")
    assert next_free.status_code == 422


def test_booking_form_junk_is_a_form_error(client: Any, db_session: Any, login_as: Any,
                                           setup: ClinicSetup) -> None:
    patient = factories.patient(db_session, family="Okonkwo", given="Ada")
    db_session.commit()
    login_as("reception")
    with clock.freeze(local(FRIDAY, 10)):
        for junk in JUNK:
            for field in ("patient_id", "appointment_type_id", "clinician_id", "room_id"):
                response = client.post_form("/schedule/book", book_fields(setup, patient, 10, **{field: junk}),
                                            htmx=True)
                assert response.status_code == 422, (field, junk, response.status_code)
        for day in FAR_DAYS:
            response = client.post_form("/schedule/book", book_fields(setup, patient, 10, day=day), htmx=True)
            assert response.status_code == 422, (day, response.status_code)


def test_cancel_with_a_junk_version_never_fails_with_500(client: Any, db_session: Any, login_as: Any,
                                                        setup: ClinicSetup) -> None:
    patient = factories.patient(db_session, family="Ferreira")
    with clock.freeze(local(FRIDAY, 10)):
        appt = scheduling.book_appointment(db_session, SYSTEM, patient_id=patient.id,
                                           appointment_type_id=setup.new.id, start_at=local(MONDAY, 9),
                                           resource_ids=[setup.doctor.id, setup.room.id])
        db_session.commit()
        login_as("reception")
        for junk in JUNK:
            response = client.post_form(f"/schedule/appointments/{appt.id}/reschedule",
                                        book_fields(setup, patient, 11, version=junk), htmx=True)
            assert response.status_code in (200, 409, 422), (junk, response.status_code)
        response = client.post_form(f"/schedule/appointments/{appt.id}/cancel", {"reason": "x", "version": "²"},
                                    htmx=True)
        assert response.status_code in (200, 409, 422)
