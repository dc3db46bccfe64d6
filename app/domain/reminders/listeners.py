"""Scheduling's events decide which reminders are owed. Imported once by app.models."""

from __future__ import annotations

from app.core import events
from app.domain.reminders import services

# weak=False: the receivers are module functions, and blinker keeps one connection per receiver
# however often this module is imported.
events.appointment_booked.connect(services.on_appointment_booked, weak=False)
events.appointment_cancelled.connect(services.on_appointment_cancelled, weak=False)
events.appointment_rescheduled.connect(services.on_appointment_rescheduled, weak=False)
