"""The reception desk pages: today's arrivals, check-in, walk-ins."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.core import clock
from app.domain.frontdesk.models import QueueTicket
from app.domain.patients.rules import make_mrn
from app.domain.scheduling.models import Appointment
from tests import factories
from tests.domain.frontdesk import support
from tests.domain.frontdesk.support import MONDAY_9AM


@pytest.fixture()
def monday() -> Iterator[Any]:
    with clock.freeze(MONDAY_9AM) as traveller:
        yield traveller


def test_arrivals_list_today_with_no_show_rates_and_filters(client: Any, db_session: Any, login_as: Any, monday: Any) -> None:
    cardiology = support.clinic(db_session, name="Cardiology")
    eyes = support.clinic(db_session, name="Eyes")
    often = factories.patient(db_session, family="Okafor", given="Ada")
    support.appointment(db_session, MONDAY_9AM - timedelta(days=7), often, cardiology, status="no-show")
    support.appointment(db_session, MONDAY_9AM - timedelta(days=14), often, cardiology, status="completed")
    today = support.appointment(db_session, MONDAY_9AM + timedelta(minutes=15), often, cardiology)
    other = support.appointment(db_session, MONDAY_9AM + timedelta(minutes=30),
                                factories.patient(db_session, family="Zhang", given="Wei"), eyes)
    support.appointment(db_session, MONDAY_9AM + timedelta(days=1), often, cardiology)  # tomorrow
    db_session.commit()
    login_as("reception")
    page = client.get("/frontdesk/").get_data(as_text=True)
    assert f'id="arrival-{today.id}"' in page and f'id="arrival-{other.id}"' in page
    assert page.count('class="arrival ') == 2  # tomorrow's is not today's work
    assert "09:15" in page and "50%" in page and "(1/2)" in page  # her rate, shown at check-in
    rows = client.get_htmx(f"/frontdesk/?q={often.mrn}").get_data(as_text=True)
    assert rows.lstrip().startswith(f'<div id="arrivals" data-query="{often.mrn}">')
    assert f"arrival-{today.id}" in rows and f"arrival-{other.id}" not in rows
    by_name = client.get_htmx("/frontdesk/?q=zha").get_data(as_text=True)
    assert f"arrival-{other.id}" in by_name and f"arrival-{today.id}" not in by_name
    by_clinic = client.get_htmx(f"/frontdesk/?clinic={eyes.id}").get_data(as_text=True)
    assert f"arrival-{other.id}" in by_clinic and f"arrival-{today.id}" not in by_clinic


def test_check_in_answers_the_row_with_the_ticket(client: Any, db_session: Any, login_as: Any, monday: Any) -> None:
    appt = support.appointment(db_session, MONDAY_9AM + timedelta(minutes=10),
                               c=support.clinic(db_session, department="cardiology", name="Heart clinic"))
    db_session.commit()
    login_as("reception")
    response = client.post_form(f"/frontdesk/appointments/{appt.id}/check-in", htmx=True)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.startswith(f'<tr id="arrival-{appt.id}"') and "C-001" in body
    assert "Checked in: ticket C-001" in body and 'hx-swap-oob="true"' in body  # the flash
    db_session.expire_all()
    assert db_session.get(Appointment, appt.id).status == "checked-in"
    # Again: a conflict, told in the flash area.
    again = client.post_form(f"/frontdesk/appointments/{appt.id}/check-in", htmx=True)
    assert again.status_code == 409 and again.headers["HX-Retarget"] == "#flashes"
    assert "Already checked in (ticket C-001)" in again.get_data(as_text=True)


def test_check_in_refusals_are_explained(client: Any, db_session: Any, login_as: Any, monday: Any) -> None:
    early = support.appointment(db_session, MONDAY_9AM + timedelta(hours=4))
    db_session.commit()
    login_as("reception")
    response = client.post_form(f"/frontdesk/appointments/{early.id}/check-in", htmx=True)
    assert response.status_code == 422
    assert "Too early: check-in for the 13:00 appointment opens at 11:00." in response.get_data(as_text=True)
    assert db_session.scalar(select(QueueTicket)) is None
    assert client.post_form("/frontdesk/appointments/999999/check-in", htmx=True).status_code == 404


def test_without_htmx_check_in_redirects_back_to_the_desk(client: Any, db_session: Any, login_as: Any, monday: Any) -> None:
    appt = support.appointment(db_session, MONDAY_9AM)
    db_session.commit()
    login_as("reception")
    response = client.post_form(f"/frontdesk/appointments/{appt.id}/check-in")
    assert response.status_code == 303 and response.headers["Location"].endswith("/frontdesk/")


def test_walk_in_validates_the_mrn_beside_its_field(client: Any, db_session: Any, login_as: Any, monday: Any) -> None:
    clinic = support.clinic(db_session, name="Minor injuries", department="urgent care")
    patient = factories.patient(db_session)
    db_session.commit()
    login_as("reception")
    wrong_digit = patient.mrn[:-1] + str((int(patient.mrn[-1]) + 1) % 10)
    for mrn, message in ((wrong_digit, "check digit is wrong"), ("12", "8 digits"),
                         (make_mrn(9_999_999), "No patient has this MRN")):
        response = client.post_form("/frontdesk/walk-in", {"mrn": mrn, "clinic_id": clinic.id}, htmx=True)
        assert response.status_code == 422, mrn
        body = response.get_data(as_text=True)
        assert body.lstrip().startswith("<form id=\"walk-in-form\"")
        assert 'id="mrn-error"' in body and message in body and 'aria-invalid="true"' in body
    no_clinic = client.post_form("/frontdesk/walk-in", {"mrn": patient.mrn, "clinic_id": 0}, htmx=True)
    assert no_clinic.status_code == 422 and 'id="clinic_id-error"' in no_clinic.get_data(as_text=True)
    assert db_session.scalar(select(QueueTicket)) is None
    ok = client.post_form("/frontdesk/walk-in", {"mrn": patient.mrn, "clinic_id": clinic.id}, htmx=True)
    assert ok.status_code == 200
    assert 'id="walk-in-issued"' in ok.get_data(as_text=True) and "U-001" in ok.get_data(as_text=True)
    twice = client.post_form("/frontdesk/walk-in", {"mrn": patient.mrn, "clinic_id": clinic.id}, htmx=True)
    assert twice.status_code == 422 and "already in this queue (ticket U-001)" in twice.get_data(as_text=True)


def test_the_desk_is_for_reception(client: Any, db_session: Any, login_as: Any) -> None:
    login_as("doctor")
    assert client.get("/frontdesk/").status_code == 403
    assert client.post_form("/frontdesk/walk-in", {"mrn": "1", "clinic_id": 1}).status_code == 403
