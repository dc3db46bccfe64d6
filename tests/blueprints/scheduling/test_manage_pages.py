"""Clinic set-up pages: resources, types, weekly sessions, holidays, closures (SCHEDULE_MANAGE)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from app.core import audit, clock
from app.core.security import SYSTEM
from app.domain.scheduling import services as scheduling
from app.domain.scheduling.models import (
    AppointmentType,
    Closure,
    Holiday,
    Resource,
    ScheduleTemplate,
)
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


def test_only_schedule_managers_reach_the_setup_pages(client: Any, login_as: Any, setup: ClinicSetup) -> None:
    login_as("reception")
    assert client.get("/schedule/manage/").status_code == 403
    assert client.post_form("/schedule/manage/holidays", {"day": "2026-12-25", "name": "Christmas"}).status_code == 403
    client.post_form("/logout")
    login_as("admin")
    for path in ("", "clinics", "resources", "types", "templates", "holidays", "closures"):
        assert client.get(f"/schedule/manage/{path}").status_code == 200, path
    assert client.get("/schedule/").status_code == 403  # IT sets clinics up; it does not see bookings


def test_appointment_types_are_validated_by_field(client: Any, login_as: Any, db_session: Any, setup: ClinicSetup) -> None:
    login_as("admin")
    bad = client.post_form("/schedule/manage/types", {"code": "DERM", "name": "Dermatology", "slot_minutes": "7",
                                                      "needs": ["clinician"], "clinic_id": ""}, htmx=True)
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422 and body.lstrip().startswith('<form id="type-form"')
    assert 'id="slot_minutes-error"' in body and "steps of 5" in body
    no_needs = client.post_form("/schedule/manage/types", {"code": "DERM", "name": "Dermatology", "slot_minutes": "20"}, htmx=True)
    assert no_needs.status_code == 422 and "Choose what this appointment needs" in no_needs.get_data(as_text=True)
    ok = client.post_form("/schedule/manage/types", {"code": "derm", "name": "Dermatology", "slot_minutes": "20",
                                                     "needs": ["room", "clinician"], "clinic_id": setup.clinic.id}, htmx=True)
    assert ok.status_code == 200 and ok.headers["HX-Redirect"] == "/schedule/manage/types"
    t = db_session.scalar(select(AppointmentType).where(AppointmentType.code == "DERM"))
    assert (t.needs, t.slot_minutes, t.clinic_id) == ("clinician,room", 20, setup.clinic.id)
    edit = client.post_form(f"/schedule/manage/types/{t.id}", {"name": "Dermatology", "slot_minutes": "25",
                                                               "needs": ["clinician"], "clinic_id": "", "active": "1"}, htmx=True)
    assert edit.status_code == 200
    db_session.expire_all()
    assert (t.slot_minutes, t.needs, t.clinic_id) == (25, "clinician", None)
    assert db_session.scalar(select(audit.AuditEvent).where(audit.AuditEvent.action == "schedule.type_updated")) is not None


def test_resources_and_weekly_sessions(client: Any, login_as: Any, db_session: Any, setup: ClinicSetup) -> None:
    admin = login_as("admin")
    added = client.post_form("/schedule/manage/resources", {"kind": "clinician", "name": "Dr Lin Zhou",
                                                           "clinic_id": setup.clinic.id, "user_id": admin.id}, htmx=True)
    assert added.status_code == 200
    zhou = db_session.scalar(select(Resource).where(Resource.name == "Dr Lin Zhou"))
    assert zhou.user_id == admin.id and zhou.kind == "clinician"
    room_user = client.post_form("/schedule/manage/resources", {"kind": "room", "name": "Room 9", "user_id": admin.id}, htmx=True)
    assert room_user.status_code == 422 and 'id="user_id-error"' in room_user.get_data(as_text=True)
    fields = {"resource_id": zhou.id, "clinic_id": setup.clinic.id, "weekdays": ["0", "2"], "start_time": "13:30",
              "end_time": "17:00", "valid_from": "2026-11-23", "valid_to": "", "type_ids": [str(setup.follow_up.id)]}
    made = client.post_form("/schedule/manage/templates", fields, htmx=True)
    assert made.status_code == 200, made.get_data(as_text=True)
    sessions = db_session.scalars(select(ScheduleTemplate).where(ScheduleTemplate.resource_id == zhou.id)).all()
    assert sorted(t.weekday for t in sessions) == [0, 2]
    again = client.post_form("/schedule/manage/templates", {**fields, "weekdays": ["2"], "start_time": "16:00",
                                                           "end_time": "18:00"}, htmx=True)
    body = again.get_data(as_text=True)
    assert again.status_code == 422 and 'id="start_time-error"' in body and "Wednesday 13:30-17:00" in body
    backwards = client.post_form("/schedule/manage/templates", {**fields, "weekdays": ["4"], "end_time": "12:00"}, htmx=True)
    assert backwards.status_code == 422 and 'id="end_time-error"' in backwards.get_data(as_text=True)
    # The clinician's calendar now shows Monday afternoon follow-up slots.
    client.post_form("/logout")
    login_as("reception")
    day = client.get(f"/schedule/resources/{zhou.id}?date={MONDAY}").get_data(as_text=True)
    assert day.count('class="slot"') == 14 and "13:30–17:00" in day
    client.post_form("/logout")
    login_as("admin")
    monday = next(t for t in sessions if t.weekday == 0)
    no_day = client.post_form(f"/schedule/manage/templates/{monday.id}/end", {"last_day": ""}, htmx=True)
    assert no_day.status_code == 422 and f'id="end-error-{monday.id}"' in no_day.get_data(as_text=True)
    ended = client.post_form(f"/schedule/manage/templates/{monday.id}/end", {"last_day": "2026-11-22"}, htmx=True)
    assert ended.status_code == 200
    db_session.expire_all()
    assert monday.active is False  # it never ran, so it is withdrawn


def test_holidays_close_the_calendar(client: Any, login_as: Any, db_session: Any, setup: ClinicSetup) -> None:
    login_as("admin")
    added = client.post_form("/schedule/manage/holidays", {"day": MONDAY.isoformat(), "name": "Founders' Day"}, htmx=True)
    assert added.status_code == 200
    dup = client.post_form("/schedule/manage/holidays", {"day": MONDAY.isoformat(), "name": "Again"}, htmx=True)
    assert dup.status_code == 422 and 'id="day-error"' in dup.get_data(as_text=True)
    holiday = db_session.scalar(select(Holiday).where(Holiday.day == MONDAY))
    client.post_form("/logout")
    login_as("reception")
    day = client.get(f"/schedule/resources/{setup.doctor.id}?date={MONDAY}").get_data(as_text=True)
    assert "Founders&#39; Day" in day and 'class="slot"' not in day
    client.post_form("/logout")
    login_as("admin")
    assert client.post_form(f"/schedule/manage/holidays/{holiday.id}/remove", {}, htmx=True).status_code == 200
    assert db_session.scalar(select(Holiday).where(Holiday.day == MONDAY)) is None


def test_closures_say_how_many_bookings_they_hit(client: Any, login_as: Any, db_session: Any, setup: ClinicSetup) -> None:
    patient = factories.patient(db_session)
    scheduling.book_appointment(db_session, SYSTEM, patient_id=patient.id, appointment_type_id=setup.new.id,
                                start_at=local(MONDAY, 9), resource_ids=[setup.doctor.id, setup.room.id])
    db_session.commit()
    login_as("admin")
    base = {"resource_id": setup.doctor.id, "clinic_id": "", "start_day": MONDAY.isoformat(), "start_time": "",
            "end_day": MONDAY.isoformat(), "end_time": "", "reason": "Study leave"}
    both = client.post_form("/schedule/manage/closures", {**base, "clinic_id": setup.clinic.id}, htmx=True)
    assert both.status_code == 422 and 'id="resource_id-error"' in both.get_data(as_text=True)
    no_reason = client.post_form("/schedule/manage/closures", {**base, "reason": ""}, htmx=True)
    assert no_reason.status_code == 422 and 'id="reason-error"' in no_reason.get_data(as_text=True)
    gap = client.post_form("/schedule/manage/closures", {**base, "start_day": "2026-03-29", "start_time": "01:30",
                                                         "end_day": "2026-03-29"}, htmx=True)
    assert gap.status_code == 422 and "clocks go forward" in gap.get_data(as_text=True)
    ok = client.post_form("/schedule/manage/closures", base, htmx=True)
    assert ok.status_code == 200
    closure = db_session.scalar(select(Closure))
    assert (closure.start_at, closure.end_at) == (local(MONDAY, 0), local(date(2026, 11, 24), 0))
    page = client.get("/schedule/manage/closures").get_data(as_text=True)
    assert "1 booked appointment falls inside it" in page and "Study leave" in page
    removed = client.post_form(f"/schedule/manage/closures/{closure.id}/remove", {}, htmx=True)
    assert removed.status_code == 200 and db_session.scalar(select(Closure)) is None
    actions = set(db_session.scalars(select(audit.AuditEvent.action).where(audit.AuditEvent.action.like("schedule.closure%"))))
    assert actions == {"schedule.closure_added", "schedule.closure_removed"}
