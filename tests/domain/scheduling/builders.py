"""A small outpatient clinic to book into: a doctor, two rooms, an ECG machine, three types.

Sessions (hospital local time), every weekday from `valid_from`:
  doctor  09:00-12:00 (new patient 30 min, follow-up 15 min)
  room 1  08:30-12:30, room 2 09:00-12:00 (any type)
  ECG     09:00-12:00 (ECG 20 min: a room and the machine, no clinician)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

from app.core.security import SYSTEM
from app.domain.scheduling import configuration as conf
from app.domain.scheduling.models import AppointmentType, Clinic, Resource

_seq = count(1)
TZ = ZoneInfo("Europe/London")


@dataclass
class ClinicSetup:
    clinic: Clinic
    doctor: Resource
    room: Resource
    room2: Resource
    ecg_machine: Resource
    new: AppointmentType  # 30 min, clinician + room
    follow_up: AppointmentType  # 15 min, clinician only
    ecg: AppointmentType  # 20 min, room + equipment


def clinic_setup(session: Any, valid_from: date = date(2020, 1, 1), user_id: int | None = None) -> ClinicSetup:
    n = next(_seq)
    clinic = conf.create_clinic(session, SYSTEM, code=f"C{n}", name=f"Clinic {n}")
    doctor = conf.create_resource(session, SYSTEM, kind="clinician", name=f"Dr Ada Hart {n}",
                                  clinic_id=clinic.id, user_id=user_id)
    room = conf.create_resource(session, SYSTEM, kind="room", name=f"Room {n}-1", clinic_id=clinic.id)
    room2 = conf.create_resource(session, SYSTEM, kind="room", name=f"Room {n}-2", clinic_id=clinic.id)
    machine = conf.create_resource(session, SYSTEM, kind="equipment", name=f"ECG {n}", clinic_id=clinic.id)
    new = conf.create_appointment_type(session, SYSTEM, code=f"NEW{n}", name=f"New patient {n}",
                                       slot_minutes=30, needs=["clinician", "room"])
    follow_up = conf.create_appointment_type(session, SYSTEM, code=f"FU{n}", name=f"Follow-up {n}",
                                             slot_minutes=15, needs=["clinician"])
    ecg = conf.create_appointment_type(session, SYSTEM, code=f"ECG{n}", name=f"ECG {n}",
                                       slot_minutes=20, needs=["room", "equipment"])
    weekdays = range(5)
    conf.create_templates(session, SYSTEM, resource_id=doctor.id, clinic_id=clinic.id, weekdays=weekdays,
                          start_time=time(9), end_time=time(12), valid_from=valid_from,
                          type_ids=[new.id, follow_up.id])
    conf.create_templates(session, SYSTEM, resource_id=room.id, clinic_id=clinic.id, weekdays=weekdays,
                          start_time=time(8, 30), end_time=time(12, 30), valid_from=valid_from)
    conf.create_templates(session, SYSTEM, resource_id=room2.id, clinic_id=clinic.id, weekdays=weekdays,
                          start_time=time(9), end_time=time(12), valid_from=valid_from)
    conf.create_templates(session, SYSTEM, resource_id=machine.id, clinic_id=clinic.id, weekdays=weekdays,
                          start_time=time(9), end_time=time(12), valid_from=valid_from, type_ids=[ecg.id])
    session.flush()
    return ClinicSetup(clinic, doctor, room, room2, machine, new, follow_up, ecg)


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=TZ).astimezone(UTC)


def weekday_after(start: date, weekday: int = 0, min_days: int = 1) -> date:
    """The first `weekday` (0 Monday) at least `min_days` after `start`."""
    day = start + timedelta(days=min_days)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day
