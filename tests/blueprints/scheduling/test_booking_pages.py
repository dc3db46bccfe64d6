"""Reception's pages: calendars with bookable slots, booking (422/409), cancel, reschedule."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from app.core import clock
from app.core.security import SYSTEM
from app.domain.scheduling import services as scheduling
from app.domain.scheduling.models import Appointment
from tests import factories
from tests.domain.scheduling.builders import ClinicSetup, clinic_setup, local

FRIDAY = date(2026, 11, 20)
MONDAY = date(2026, 11, 23)


@pytest.fixture()
def frozen() -> Iterator[None]:
    with clock.freeze(local(FRIDAY, 10)):
        yield


@pytest.fixture()
def setup(db_session: Any, frozen: None) -> ClinicSetup:
    s = clinic_setup(db_session)
    db_session.commit()
    return s


def slot_links(body: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'<a class="slot" href="([^"]+)"', body)]


def book_fields(s: ClinicSetup, patient: Any, hh: int, mm: int = 0, **extra: Any) -> dict[str, Any]:
    data = {"patient_id": patient.id, "appointment_type_id": s.new.id, "day": MONDAY.isoformat(),
            "start_time": f"{hh:02d}:{mm:02d}", "clinician_id": s.doctor.id, "room_id": s.room.id,
            "equipment_id": "", "note": ""}
    data.update(extra)
    return data


def test_clinic_day_shows_free_slots_that_open_a_prefilled_book_form(client: Any, login_as: Any, db_session: Any, setup: ClinicSetup) -> None:
    patient = factories.patient(db_session, family="Okonkwo", given="Ada")
    taken = factories.patient(db_session, family="Ferreira")
    scheduling.book_appointment(db_session, SYSTEM, patient_id=taken.id, appointment_type_id=setup.new.id,
                                start_at=local(MONDAY, 9), resource_ids=[setup.doctor.id, setup.room.id])
    db_session.commit()
    login_as("reception")
    default = client.get(f"/schedule/clinics/{setup.clinic.id}?date={MONDAY}").get_data(as_text=True)
    assert f'<option value="{setup.follow_up.id}" selected>' in default  # a clinician's type first
    assert len(slot_links(default)) == 10  # 12 quarter hours less the half hour taken
    page = client.get(f"/schedule/clinics/{setup.clinic.id}?date={MONDAY}&type={setup.new.id}&patient_id={patient.id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in body and "scheduling.js" in body
    assert setup.doctor.name in body and "FERREIRA" in body and "Booking for" in body
    links = slot_links(body)
    assert len(links) == 5  # 09:30 .. 11:30; 09:00 is taken
    fragment = client.get_htmx(f"/schedule/clinics/{setup.clinic.id}?date={MONDAY}&type={setup.ecg.id}")
    # A column per room: room 2 (09:00 grid) 9 ECG slots; room 1 (08:30 grid, busy until 09:30)
    # 7 that fit inside the machine's 09:00-12:00.
    assert len(slot_links(fragment.get_data(as_text=True))) == 9 + 7
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="calendar"')
    query = parse_qs(urlparse(links[0]).query)
    assert query["start"] == ["2026-11-23T09:30Z"] and query["patient_id"] == [str(patient.id)]
    assert sorted(query["resources"]) == sorted([str(setup.doctor.id), str(setup.room.id)])
    form = client.get(links[0]).get_data(as_text=True)
    assert 'value="2026-11-23"' in form and 'value="09:30"' in form and "OKONKWO" in form
    assert re.search(rf'<option selected value="{setup.doctor.id}">|<option value="{setup.doctor.id}" selected', form)
    assert 'id="upcoming-appointments"' in form


def test_booking_from_the_form_and_the_upcoming_fragment(client: Any, login_as: Any, db_session: Any, setup: ClinicSetup) -> None:
    patient = factories.patient(db_session)
    db_session.commit()
    login_as("reception")
    response = client.post_form("/schedule/book", book_fields(setup, patient, 10, 30, note="Bring letters"), htmx=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    appt = db_session.scalar(select(Appointment).where(Appointment.patient_id == patient.id))
    assert response.headers["HX-Redirect"] == f"/schedule/appointments/{appt.id}"
    assert appt.start_at == local(MONDAY, 10, 30) and appt.note == "Bring letters"
    page = client.get(f"/schedule/appointments/{appt.id}").get_data(as_text=True)
    assert "Booked" in page and 'id="cancel-form"' in page and 'id="reschedule-link"' in page
    upcoming = client.get_htmx(f"/schedule/patients/{patient.id}/upcoming").get_data(as_text=True)
    assert upcoming.lstrip().startswith('<section id="upcoming-appointments"') and "Mon 23 Nov 10:30" in upcoming


def test_bad_input_is_answered_422_beside_the_field(client: Any, login_as: Any, db_session: Any, setup: ClinicSetup) -> None:
    patient = factories.patient(db_session)
    db_session.commit()
    login_as("reception")
    no_patient = client.post_form("/schedule/book", book_fields(setup, patient, 10, patient_id="", mrn=""), htmx=True)
    body = no_patient.get_data(as_text=True)
    assert no_patient.status_code == 422 and 'id="mrn-error"' in body and "MRN" in body
    wrong_digit = patient.mrn[:-1] + str((int(patient.mrn[-1]) + 1) % 10)
    typo = client.post_form("/schedule/book", book_fields(setup, patient, 10, patient_id="", mrn=wrong_digit), htmx=True)
    assert typo.status_code == 422 and "check digit" in typo.get_data(as_text=True)
    by_mrn = client.post_form("/schedule/book", book_fields(setup, patient, 10, patient_id="", mrn=patient.mrn), htmx=True)
    assert by_mrn.status_code == 200 and "HX-Redirect" in by_mrn.headers
    outside = client.post_form("/schedule/book", book_fields(setup, patient, 13), htmx=True)
    assert outside.status_code == 422 and 'id="start_time-error"' in outside.get_data(as_text=True)
    no_room = client.post_form("/schedule/book", book_fields(setup, patient, 11, room_id=""), htmx=True)
    assert no_room.status_code == 422 and 'id="clinician_id-error"' in no_room.get_data(as_text=True)
    no_time = client.post_form("/schedule/book", book_fields(setup, patient, 11, start_time=""), htmx=True)
    assert no_time.status_code == 422 and "Enter the time." in no_time.get_data(as_text=True)
    assert db_session.scalar(select(Appointment).where(Appointment.start_at == local(MONDAY, 11))) is None


def test_a_taken_slot_answers_409_and_offers_the_next_one_in_one_key(client: Any, login_as: Any, db_session: Any, setup: ClinicSetup) -> None:
    first, second = factories.patient(db_session), factories.patient(db_session, family="Second")
    db_session.commit()
    login_as("reception")
    assert client.post_form("/schedule/book", book_fields(setup, first, 9), htmx=True).status_code == 200
    clash = client.post_form("/schedule/book", book_fields(setup, second, 9), htmx=True)
    body = clash.get_data(as_text=True)
    assert clash.status_code == 409 and body.lstrip().startswith('<div id="book-form">')
    assert "That slot was just taken by another booking" in body and "Mon 23 Nov 2026 at 09:30" in body
    offer = re.search(r'<form class="d-inline"[^>]*id="offer-form">(.*?)</form>', body, re.S)
    assert offer is not None and 'autofocus' in offer.group(1)
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', offer.group(1)))
    assert fields["start_at"] == "2026-11-23T09:30Z" and fields["start_time"] == "09:30"
    fields.pop("csrf_token")
    taken = client.post_form("/schedule/book", fields, htmx=True)
    assert taken.status_code == 200 and "HX-Redirect" in taken.headers
    appt = db_session.scalar(select(Appointment).where(Appointment.patient_id == second.id))
    assert appt.start_at == local(MONDAY, 9, 30)


def test_cancel_needs_a_reason_and_reschedule_moves_the_appointment(client: Any, login_as: Any, db_session: Any, setup: ClinicSetup) -> None:
    patient = factories.patient(db_session)
    appt = scheduling.book_appointment(db_session, SYSTEM, patient_id=patient.id, appointment_type_id=setup.new.id,
                                       start_at=local(MONDAY, 10), resource_ids=[setup.doctor.id, setup.room.id])
    db_session.commit()
    login_as("reception")
    pick = client.get(f"/schedule/appointments/{appt.id}/reschedule")
    assert pick.status_code == 303
    calendar = client.get(pick.headers["Location"]).get_data(as_text=True)
    assert "Rescheduling" in calendar
    links = slot_links(calendar)
    assert links and all(f"/schedule/appointments/{appt.id}/reschedule?" in link for link in links)
    target = next(link for link in links if "T11%3A00Z" in link or "T11:00Z" in link)
    form = client.get(target).get_data(as_text=True)
    assert 'id="reschedule-form"' in form and 'value="11:00"' in form
    fields = {"appointment_type_id": setup.new.id, "day": MONDAY.isoformat(), "start_time": "11:00",
              "clinician_id": setup.doctor.id, "room_id": setup.room.id, "equipment_id": "",
              "note": "Patient asked", "version": str(appt.version)}
    moved = client.post_form(f"/schedule/appointments/{appt.id}/reschedule", fields, htmx=True)
    assert moved.status_code == 200, moved.get_data(as_text=True)
    new = db_session.scalar(select(Appointment).where(Appointment.rescheduled_from_id == appt.id))
    assert moved.headers["HX-Redirect"] == f"/schedule/appointments/{new.id}"
    db_session.expire_all()
    assert appt.status == "cancelled" and appt.cancel_reason == "rescheduled"
    old_page = client.get(f"/schedule/appointments/{appt.id}").get_data(as_text=True)
    assert 'id="successor-link"' in old_page and 'id="cancel-form"' not in old_page
    empty = client.post_form(f"/schedule/appointments/{new.id}/cancel", {"reason": " ", "version": new.version}, htmx=True)
    body = empty.get_data(as_text=True)
    assert empty.status_code == 422 and body.lstrip().startswith('<form id="cancel-form"')
    assert 'id="reason-error"' in body and "Give a reason" in body
    stale = client.post_form(f"/schedule/appointments/{new.id}/cancel", {"reason": "Unwell", "version": new.version + 5}, htmx=True)
    assert stale.status_code == 409 and "Someone else changed" in stale.get_data(as_text=True)
    done = client.post_form(f"/schedule/appointments/{new.id}/cancel", {"reason": "Unwell", "version": new.version}, htmx=True)
    assert done.status_code == 200 and done.headers["HX-Redirect"] == f"/schedule/appointments/{new.id}"
    db_session.expire_all()
    assert new.status == "cancelled" and new.cancel_reason == "Unwell"


def test_next_free_slot_finder(client: Any, login_as: Any, db_session: Any, setup: ClinicSetup) -> None:
    login_as("reception")
    page = client.get("/schedule/next-free").get_data(as_text=True)
    assert 'id="next-free"' in page and "autofocus" in page
    found = client.get_htmx(f"/schedule/next-free?appointment_type_id={setup.follow_up.id}"
                            f"&clinician_id={setup.doctor.id}&after={MONDAY}")
    body = found.get_data(as_text=True)
    assert found.status_code == 200 and body.lstrip().startswith('<div id="next-free">')
    assert "Monday 23 November 2026 09:00" in body and 'id="book-next-free"' in body
    missing = client.get_htmx(f"/schedule/next-free?appointment_type_id=&clinician_id={setup.doctor.id}")
    assert missing.status_code == 422 and 'id="appointment_type_id-error"' in missing.get_data(as_text=True)
    wrong = client.get_htmx(f"/schedule/next-free?appointment_type_id={setup.ecg.id}&clinician_id={setup.doctor.id}")
    assert wrong.status_code == 422 and "not booked with a clinician" in wrong.get_data(as_text=True)


def test_week_view_of_a_clinician_and_a_room(client: Any, login_as: Any, db_session: Any, setup: ClinicSetup) -> None:
    login_as("doctor")  # doctors see calendars but do not book
    week = client.get(f"/schedule/resources/{setup.doctor.id}?date={MONDAY}&span=week&type={setup.follow_up.id}")
    body = week.get_data(as_text=True)
    assert week.status_code == 200 and body.count("data-cal-col") == 7
    assert slot_links(body) == [] and body.count('class="slot"') == 5 * 12  # 12 quarter hours, Mon-Fri
    room = client.get(f"/schedule/resources/{setup.room.id}?date={MONDAY}").get_data(as_text=True)
    assert room.count('class="slot"') == 6  # new-patient slots need the doctor too: 09:00..11:30
    assert client.post_form("/schedule/book", {}).status_code == 403


def test_chart_offers_booking_to_reception_only(client: Any, login_as: Any, db_session: Any, setup: ClinicSetup) -> None:
    patient = factories.patient(db_session)
    db_session.commit()
    login_as("reception")
    chart = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert f'href="/schedule/?patient_id={patient.id}"' in chart
    home = client.get(f"/schedule/?patient_id={patient.id}").get_data(as_text=True)
    assert f"/schedule/clinics/{setup.clinic.id}?patient_id={patient.id}" in home
    assert "Appointments" in home and 'accesskey="t"' in home
