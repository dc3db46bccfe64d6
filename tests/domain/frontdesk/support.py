"""Clinics and appointments for front-desk tests, written straight to the tables (the booking
rules themselves are scheduling's and tested there)."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count
from typing import Any

from app.core import clock, events
from app.domain.patients.models import Patient
from app.domain.scheduling.models import Appointment, AppointmentType, Clinic
from tests import factories

_seq = count(1)

# A winter Monday: London time is UTC, so local and UTC clock faces agree in assertions.
MONDAY_9AM = datetime(2026, 11, 23, 9, 0, tzinfo=clock.UTC)


def clinic(session: Any, department: str = "outpatients", name: str | None = None,
           code: str | None = None) -> Clinic:
    n = next(_seq)
    c = Clinic(code=code or f"CL{n}", name=name or f"Clinic {n}", department=department, active=True)
    session.add(c)
    session.flush()
    return c


def appointment_type(session: Any, c: Clinic, minutes: int = 15) -> AppointmentType:
    n = next(_seq)
    t = AppointmentType(code=f"T{n}", name="Follow-up", clinic_id=c.id, slot_minutes=minutes,
                        needs="clinician", active=True)
    session.add(t)
    session.flush()
    return t


def appointment(session: Any, start_at: datetime, patient: Patient | None = None,
                c: Clinic | None = None, minutes: int = 15, status: str = "booked",
                announce: bool = False) -> Appointment:
    """An appointment row; `announce` sends appointment_booked as scheduling's service does."""
    c = c or clinic(session)
    t = appointment_type(session, c, minutes)
    p = patient or factories.patient(session, family=f"Patient{next(_seq)}", given="Test")
    a = Appointment(patient_id=p.id, clinic_id=c.id, appointment_type_id=t.id, start_at=start_at,
                    end_at=start_at + timedelta(minutes=minutes), status=status)
    session.add(a)
    session.flush()
    if announce:
        events.appointment_booked.send(session, appointment_id=a.id)
    return a
