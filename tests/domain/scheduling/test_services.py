"""Booking, rescheduling and cancelling on the real schema (SQLite and PostgreSQL runs)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.core import audit, clock, events
from app.core.errors import Conflict, DomainError, Forbidden
from app.core.security import SYSTEM
from app.domain.scheduling import configuration as conf
from app.domain.scheduling import services as scheduling
from app.domain.scheduling.models import Appointment, Booking
from tests import factories
from tests.domain.scheduling.builders import ClinicSetup, clinic_setup, local

FRIDAY = date(2026, 11, 20)
MONDAY = date(2026, 11, 23)


@pytest.fixture()
def now() -> Iterator[None]:
    with clock.freeze(local(FRIDAY, 10)):
        yield


@pytest.fixture()
def setup(db_session: Any, now: None) -> ClinicSetup:
    return clinic_setup(db_session)


@pytest.fixture()
def clerk(make_user: Any) -> Any:
    return make_user("reception")


@pytest.fixture()
def sent() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    got: list[tuple[str, dict[str, Any]]] = []
    receivers = {}
    for name in ("appointment_booked", "appointment_rescheduled", "appointment_cancelled"):
        def receive(sender: Any, _name: str = name, **kw: Any) -> None:
            got.append((_name, kw))
        receivers[name] = receive
        getattr(events, name).connect(receive)
    yield got
    for name, receive in receivers.items():
        getattr(events, name).disconnect(receive)


def book(session: Any, actor: Any, s: ClinicSetup, start: datetime, *resources: Any, type_: Any = None,
         patient: Any = None) -> Appointment:
    patient = patient or factories.patient(session)
    type_ = type_ or s.new
    return scheduling.book_appointment(
        session, actor, patient_id=patient.id, appointment_type_id=type_.id, start_at=start,
        resource_ids=[r.id for r in (resources or (s.doctor, s.room))], note="Referral from GP",
    )


def test_a_booking_holds_the_doctor_and_the_room_and_is_audited(db_session: Any, setup: ClinicSetup, clerk: Any, sent: list[Any]) -> None:
    appt = book(db_session, clerk, setup, local(MONDAY, 9, 30))
    assert appt.status == "booked" and appt.clinic_id == setup.clinic.id
    assert (appt.start_at, appt.end_at) == (local(MONDAY, 9, 30), local(MONDAY, 10))
    assert sorted(b.resource_id for b in appt.bookings if b.active) == sorted([setup.doctor.id, setup.room.id])
    assert appt.booked_by_id == clerk.id and appt.note == "Referral from GP"
    row = db_session.scalar(select(audit.AuditEvent).where(audit.AuditEvent.action == "appointment.booked"))
    assert row.patient_id == appt.patient_id and row.entity_id == str(appt.id)
    assert sent == [("appointment_booked", {"appointment_id": appt.id})]
    assert audit.verify(db_session).ok


def test_a_taken_slot_is_refused_and_the_next_free_one_offered(db_session: Any, setup: ClinicSetup, clerk: Any) -> None:
    book(db_session, clerk, setup, local(MONDAY, 9))
    with pytest.raises(scheduling.SlotTaken) as caught:
        book(db_session, clerk, setup, local(MONDAY, 9))
    exc = caught.value
    assert exc.status_code == 409 and "just taken" in exc.message
    assert exc.offer is not None and exc.offer.start == local(MONDAY, 9, 30)
    assert exc.offer.resource_ids[0] == setup.doctor.id
    assert "Mon 23 Nov 2026 at 09:30" in exc.message
    # Overlapping but not identical: a 15-minute follow-up at 09:15 with the same doctor.
    with pytest.raises(scheduling.SlotTaken) as overlap:
        book(db_session, clerk, setup, local(MONDAY, 9, 15), setup.doctor, type_=setup.follow_up)
    assert overlap.value.offer is not None and overlap.value.offer.start == local(MONDAY, 9, 30)
    # The same room with another resource mix is refused too; another room is fine.
    with pytest.raises(scheduling.SlotTaken):
        book(db_session, clerk, setup, local(MONDAY, 9, 10), setup.room, setup.ecg_machine, type_=setup.ecg)
    ecg = book(db_session, clerk, setup, local(MONDAY, 9, 10), setup.room2, setup.ecg_machine, type_=setup.ecg)
    assert ecg.end_at == local(MONDAY, 9, 30)
    assert db_session.scalar(select(Appointment).where(Appointment.start_at == local(MONDAY, 9, 15))) is None


def test_bad_bookings_are_answered_by_field(db_session: Any, setup: ClinicSetup, clerk: Any) -> None:
    def field_of(start: datetime, *resources: Any, type_: Any = None) -> str | None:
        with pytest.raises(DomainError) as caught:
            book(db_session, clerk, setup, start, *resources, type_=type_)
        assert not isinstance(caught.value, Conflict)
        return caught.value.field

    assert field_of(local(MONDAY, 12)) == "start_at"  # after the doctor's session
    assert field_of(local(MONDAY + timedelta(days=5), 9)) == "start_at"  # Saturday
    assert field_of(local(FRIDAY, 9)) == "start_at"  # already over
    assert field_of(local(MONDAY, 9), setup.doctor) == "resource_ids"  # no room
    assert field_of(local(MONDAY, 9), setup.doctor, setup.room2, setup.room) == "resource_ids"
    assert field_of(local(MONDAY, 9), setup.room, setup.ecg_machine) == "resource_ids"  # no doctor
    conf.add_holiday(db_session, SYSTEM, day=MONDAY, name="Founders' day")
    assert field_of(local(MONDAY, 9)) == "start_at"
    with pytest.raises(DomainError) as caught:
        scheduling.book_appointment(db_session, clerk, patient_id=factories.patient(db_session).id,
                                    appointment_type_id=999_999, start_at=local(MONDAY, 9),
                                    resource_ids=[setup.doctor.id])
    assert caught.value.field == "appointment_type_id"


def test_closures_block_booking_and_report_affected_appointments(db_session: Any, setup: ClinicSetup, clerk: Any) -> None:
    tuesday = MONDAY + timedelta(days=1)
    book(db_session, clerk, setup, local(tuesday, 9))
    closure, affected = conf.add_closure(db_session, SYSTEM, resource_id=setup.doctor.id,
                                         start_at=local(tuesday, 0), end_at=local(tuesday + timedelta(days=1), 0),
                                         reason="Annual leave")
    assert affected == 1
    with pytest.raises(DomainError) as caught:
        book(db_session, clerk, setup, local(tuesday, 10))
    assert "unavailable" in caught.value.message
    _, clinic_affected = conf.add_closure(db_session, SYSTEM, clinic_id=setup.clinic.id,
                                          start_at=local(MONDAY, 11), end_at=local(MONDAY, 12),
                                          reason="Fire drill")
    assert clinic_affected == 0
    with pytest.raises(DomainError, match="clinic is closed"):
        book(db_session, clerk, setup, local(MONDAY, 11, 30))
    conf.remove_closure(db_session, SYSTEM, closure.id)
    assert book(db_session, clerk, setup, local(tuesday, 10)).status == "booked"


def test_only_booking_roles_may_book(db_session: Any, setup: ClinicSetup, make_user: Any) -> None:
    with pytest.raises(Forbidden):
        book(db_session, make_user("doctor"), setup, local(MONDAY, 9))
    with pytest.raises(Forbidden):
        conf.create_clinic(db_session, make_user("reception"), code="X1", name="X")


def test_cancelling_needs_a_reason_and_frees_the_slot(db_session: Any, setup: ClinicSetup, clerk: Any, sent: list[Any]) -> None:
    appt = book(db_session, clerk, setup, local(MONDAY, 10))
    with pytest.raises(DomainError) as caught:
        scheduling.cancel_appointment(db_session, clerk, appt.id, "   ")
    assert caught.value.field == "reason"
    with pytest.raises(Conflict):
        scheduling.cancel_appointment(db_session, clerk, appt.id, "Patient called", expected_version=appt.version + 1)
    scheduling.cancel_appointment(db_session, clerk, appt.id, "Patient called: feeling better",
                                  expected_version=appt.version)
    assert appt.status == "cancelled" and appt.cancel_reason == "Patient called: feeling better"
    assert appt.cancelled_at == clock.now() and not any(b.active for b in appt.bookings)
    assert sent[-1] == ("appointment_cancelled", {"appointment_id": appt.id, "reason": "Patient called: feeling better"})
    row = db_session.scalar(select(audit.AuditEvent).where(audit.AuditEvent.action == "appointment.cancelled"))
    assert row.reason == "Patient called: feeling better"
    again = book(db_session, clerk, setup, local(MONDAY, 10))  # the slot is free again
    assert again.id != appt.id
    with pytest.raises(DomainError, match="only a booked one"):
        scheduling.cancel_appointment(db_session, clerk, appt.id, "twice")


def test_reschedule_makes_a_new_appointment_and_cancels_the_old(db_session: Any, setup: ClinicSetup, clerk: Any, sent: list[Any]) -> None:
    old = book(db_session, clerk, setup, local(MONDAY, 10))
    sent.clear()
    # Moving by a quarter of an hour overlaps the old slot: the old one is released first.
    new = scheduling.reschedule_appointment(db_session, clerk, old.id, start_at=local(MONDAY, 10, 15),
                                            reason="Patient asked for later")
    assert new.id != old.id and new.rescheduled_from_id == old.id and new.status == "booked"
    assert new.patient_id == old.patient_id and new.note == old.note
    assert (new.start_at, new.end_at) == (local(MONDAY, 10, 15), local(MONDAY, 10, 45))
    assert old.status == "cancelled" and old.cancel_reason == "rescheduled"
    assert not any(b.active for b in old.bookings) and all(b.active for b in new.bookings)
    assert sent == [("appointment_rescheduled", {"appointment_id": new.id, "previous_id": old.id})]
    actions = list(db_session.scalars(select(audit.AuditEvent.action).order_by(audit.AuditEvent.seq.desc()).limit(2)))
    assert actions == ["appointment.rescheduled", "appointment.cancelled"]
    # Another room on another day.
    moved = scheduling.reschedule_appointment(db_session, clerk, new.id, start_at=local(MONDAY + timedelta(days=2), 9),
                                              resource_ids=[setup.doctor.id, setup.room2.id])
    assert sorted(b.resource_id for b in moved.bookings) == sorted([setup.doctor.id, setup.room2.id])


def test_a_refused_reschedule_leaves_the_old_appointment_as_it_was(db_session: Any, setup: ClinicSetup, clerk: Any) -> None:
    blocker = book(db_session, clerk, setup, local(MONDAY, 11))
    old = book(db_session, clerk, setup, local(MONDAY, 10))
    with pytest.raises(scheduling.SlotTaken) as caught:
        scheduling.reschedule_appointment(db_session, clerk, old.id, start_at=local(MONDAY, 11))
    # The offer is searched from the refused time on, with the old slot still held.
    assert caught.value.offer is not None and caught.value.offer.start == local(MONDAY, 11, 30)
    db_session.expire_all()
    assert old.status == "booked" and old.cancel_reason is None and all(b.active for b in old.bookings)
    assert blocker.status == "booked"
    with pytest.raises(DomainError) as outside:
        scheduling.reschedule_appointment(db_session, clerk, old.id, start_at=local(MONDAY, 13))
    assert outside.value.field == "start_at"
    db_session.expire_all()
    assert old.status == "booked" and all(b.active for b in old.bookings)
    active = db_session.scalars(select(Booking).where(Booking.active.is_(True))).all()
    assert len(active) == 4


def test_next_free_slot_for_a_type_and_clinician(db_session: Any, setup: ClinicSetup, clerk: Any) -> None:
    slot = scheduling.next_free_slot(db_session, clerk, appointment_type_id=setup.new.id, clinician_id=setup.doctor.id)
    assert slot is not None and slot.start == local(FRIDAY, 10)  # now, and the session is running
    assert slot.resource_ids == (setup.doctor.id, setup.room.id)
    later = scheduling.next_free_slot(db_session, clerk, appointment_type_id=setup.follow_up.id,
                                      clinician_id=setup.doctor.id, after=local(MONDAY, 9, 5))
    assert later is not None and later.start == local(MONDAY, 9, 15)
    with pytest.raises(DomainError) as caught:
        scheduling.next_free_slot(db_session, clerk, appointment_type_id=setup.ecg.id, clinician_id=setup.doctor.id)
    assert caught.value.field == "clinician_id"
    ecg = scheduling.next_free_slot(db_session, clerk, appointment_type_id=setup.ecg.id)
    # Without a clinician, rooms anchor the grid: room 2's 09:00 session has a slot at 10:00.
    assert ecg is not None and ecg.start == local(FRIDAY, 10)
    assert ecg.resource_ids == (setup.room2.id, setup.ecg_machine.id)


def test_upcoming_appointments_of_a_patient(db_session: Any, setup: ClinicSetup, clerk: Any) -> None:
    p = factories.patient(db_session)
    later = book(db_session, clerk, setup, local(MONDAY, 11), patient=p)
    sooner = book(db_session, clerk, setup, local(MONDAY, 9), patient=p)
    gone = book(db_session, clerk, setup, local(MONDAY, 10), patient=p)
    scheduling.cancel_appointment(db_session, clerk, gone.id, "Duplicate booking")
    assert [a.id for a in scheduling.upcoming_for_patient(db_session, clerk, p.id)] == [sooner.id, later.id]


def test_templates_refuse_overlaps_and_types_they_cannot_hold(db_session: Any, setup: ClinicSetup) -> None:
    def refused(**kw: Any) -> str | None:
        args: dict[str, Any] = {
            "resource_id": setup.doctor.id, "clinic_id": setup.clinic.id, "weekdays": [0],
            "start_time": time(13), "end_time": time(17), "valid_from": MONDAY, "type_ids": [],
        }
        args.update(kw)
        with pytest.raises(DomainError) as caught:
            conf.create_templates(db_session, SYSTEM, **args)
        return caught.value.field

    assert refused(start_time=time(11), end_time=time(13)) == "start_time"  # overlaps 09:00-12:00
    assert refused(end_time=time(12, 30)) == "end_time"
    assert refused(weekdays=[]) == "weekdays"
    assert refused(type_ids=[setup.ecg.id]) == "type_ids"  # ECG needs no clinician
    assert refused(start_time=time(13), end_time=time(13, 10), type_ids=[setup.new.id]) == "end_time"
    assert refused(valid_to=MONDAY - timedelta(days=1)) == "valid_to"
    made = conf.create_templates(db_session, SYSTEM, resource_id=setup.doctor.id, clinic_id=setup.clinic.id,
                                 weekdays=[0, 2], start_time=time(13), end_time=time(17), valid_from=MONDAY,
                                 type_ids=[setup.follow_up.id])
    assert [t.weekday for t in made] == [0, 2]
    ended = conf.end_template(db_session, SYSTEM, made[0].id, MONDAY + timedelta(days=6))
    assert ended.valid_to == MONDAY + timedelta(days=6) and ended.active
    withdrawn = conf.end_template(db_session, SYSTEM, made[1].id, MONDAY - timedelta(days=1))
    assert not withdrawn.active
    with pytest.raises(DomainError) as dup:
        conf.add_holiday(db_session, SYSTEM, day=MONDAY, name="A")
        conf.add_holiday(db_session, SYSTEM, day=MONDAY, name="B")
    assert dup.value.field == "day"
    with pytest.raises(DomainError) as both:
        conf.add_closure(db_session, SYSTEM, resource_id=setup.doctor.id, clinic_id=setup.clinic.id,
                         start_at=local(MONDAY, 9), end_at=local(MONDAY, 10), reason="x")
    assert both.value.field == "resource_id"


def test_types_and_resources_validate_their_fields(db_session: Any, now: None) -> None:
    def field(fn: Any, **kw: Any) -> str | None:
        with pytest.raises(DomainError) as caught:
            fn(db_session, SYSTEM, **kw)
        return caught.value.field

    assert field(conf.create_appointment_type, code="ok", name="A", slot_minutes=7, needs=["clinician"]) == "slot_minutes"
    assert field(conf.create_appointment_type, code="ok", name="A", slot_minutes=15, needs=[]) == "needs"
    assert field(conf.create_appointment_type, code="bad code!", name="A", slot_minutes=15, needs=["room"]) == "code"
    t = conf.create_appointment_type(db_session, SYSTEM, code="xr", name="X-ray", slot_minutes=10, needs=["room", "clinician"])
    assert (t.code, t.needs) == ("XR", "clinician,room")
    assert field(conf.create_appointment_type, code="XR", name="B", slot_minutes=15, needs=["room"]) == "code"
    assert field(conf.create_resource, kind="robot", name="R2") == "kind"
    assert field(conf.create_resource, kind="room", name="  ") == "name"
    assert field(conf.create_resource, kind="room", name="Room", user_id=1) == "user_id"
    updated = conf.update_appointment_type(db_session, SYSTEM, t.id, name="X-ray", slot_minutes=20,
                                           needs=["room"], active=False)
    assert (updated.slot_minutes, updated.needs, updated.active) == (20, "room", False)


def test_a_clinic_stays_at_nine_local_across_the_autumn_clock_change(db_session: Any, make_user: Any) -> None:
    from app.domain.scheduling import planner

    with clock.freeze(local(date(2026, 10, 1), 8)):
        s = clinic_setup(db_session)
        clerk = make_user("reception")
        before, after = date(2026, 10, 23), date(2026, 10, 26)  # Friday BST, Monday GMT
        plan = planner.resource_plan(db_session, clerk, s.doctor, [before, after], s.follow_up.id)
        firsts = [next(e.slot for e in col.entries if e.slot) for col in plan.columns]
        assert [f.start.hour for f in firsts] == [8, 9]  # UTC
        assert [f.start for f in firsts] == [local(before, 9), local(after, 9)]
        appt = book(db_session, clerk, s, local(after, 9))
        assert appt.start_at.hour == 9 and appt.start_at.utcoffset() == timedelta(0)
