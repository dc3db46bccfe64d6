"""Reminders owed for an appointment, and every attempt to send one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core import clock
from app.core.db import Base, UTCDateTime

REMINDER_STATUSES = ("scheduled", "sent", "skipped", "cancelled")


class Reminder(Base):
    """One reminder for one appointment start time, sent `offset_hours` before it.

    Tied to the start time it announces: moving the appointment leaves the old reminder behind
    (cancelled) and schedules a new one, and the delivery re-checks the start before sending."""

    __tablename__ = "appointment_reminder"
    __table_args__ = (UniqueConstraint("appointment_id", "offset_hours", "for_start_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    offset_hours: Mapped[int] = mapped_column(Integer)
    for_start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_job_id: Mapped[int | None] = mapped_column(ForeignKey("due_job.id"))
    # scheduled -> sent | skipped (not sent, and why) | cancelled (no longer wanted)
    status: Mapped[str] = mapped_column(String(12), default="scheduled")
    note: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(10))  # the one that delivered it
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    attempts: Mapped[list[ReminderAttempt]] = relationship(
        back_populates="reminder", order_by="ReminderAttempt.id", lazy="selectin"
    )


class ReminderAttempt(Base):
    """One try on one channel: delivered to the server/gateway, or the error it gave."""

    __tablename__ = "reminder_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    reminder_id: Mapped[int] = mapped_column(ForeignKey("appointment_reminder.id"), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10))  # sent | failed
    error: Mapped[str | None] = mapped_column(Text)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())

    reminder: Mapped[Reminder] = relationship(back_populates="attempts")
