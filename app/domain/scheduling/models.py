"""Clinics, bookable resources, appointment types, appointments and the per-resource bookings.

An Appointment holds one Booking per resource it needs (a doctor and a room). Bookings carry
their own copy of the time span so that the database can refuse an overlap per resource: an
exclusion constraint on PostgreSQL; on SQLite the write lock taken by BEGIN IMMEDIATE makes the
service's check-then-insert atomic.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Time,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, TimestampMixin, UTCDateTime, VersionedMixin
from app.domain.patients.models import Patient

APPOINTMENT_STATUSES = ("booked", "checked-in", "completed", "cancelled", "no-show")
RESOURCE_KINDS = ("clinician", "room", "equipment")


class Clinic(Base):
    """An outpatient clinic (a service with its own schedule and waiting queue)."""

    __tablename__ = "clinic"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    # The department whose waiting room (and queue board) serves this clinic.
    department: Mapped[str] = mapped_column(String(40), default="outpatients")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Resource(Base):
    """Something an appointment occupies: a clinician, a room or a piece of equipment."""

    __tablename__ = "resource"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # RESOURCE_KINDS
    name: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))  # clinicians
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinic.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    clinic: Mapped[Clinic | None] = relationship()


class AppointmentType(Base):
    """What is booked, and how long its slot is (e.g. new patient 30 min, follow-up 15 min)."""

    __tablename__ = "appointment_type"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinic.id"), index=True)
    slot_minutes: Mapped[int] = mapped_column(Integer)
    # Resource kinds every appointment of this type needs, comma-separated ("clinician,room").
    needs: Mapped[str] = mapped_column(String(60), default="clinician")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Appointment(TimestampMixin, VersionedMixin, Base):
    __tablename__ = "appointment"
    __table_args__ = (
        Index("ix_appointment_clinic_start", "clinic_id", "start_at"),
        Index("ix_appointment_status_start", "status", "start_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    appointment_type_id: Mapped[int] = mapped_column(ForeignKey("appointment_type.id"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default="booked")  # APPOINTMENT_STATUSES
    note: Mapped[str | None] = mapped_column(Text)
    booked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A reschedule cancels this appointment and books a new one that points back here.
    rescheduled_from_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"))
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    patient: Mapped[Patient] = relationship()
    clinic: Mapped[Clinic] = relationship()
    appointment_type: Mapped[AppointmentType] = relationship()
    bookings: Mapped[list[Booking]] = relationship(
        back_populates="appointment", order_by="Booking.id", lazy="selectin"
    )


class Booking(Base):
    """One resource held by one appointment for its time span, while `active`."""

    __tablename__ = "booking"
    __table_args__ = (
        Index("ix_booking_resource_start", "resource_id", "start_at"),
        # SQLite fallback backstop for identical slots; PostgreSQL's exclusion constraint
        # (created in the migration) covers every overlap.
        Index(
            "uq_booking_resource_start_active", "resource_id", "start_at", unique=True,
            sqlite_where=text("active = 1"), postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"), index=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    appointment: Mapped[Appointment] = relationship(back_populates="bookings")
    resource: Mapped[Resource] = relationship()


# Which appointment types a weekly session offers. A session with no rows here offers every
# type (rooms and equipment are usually open to whatever the clinic books).
schedule_template_type = Table(
    "schedule_template_type",
    Base.metadata,
    Column("template_id", ForeignKey("schedule_template.id", ondelete="CASCADE"), primary_key=True),
    Column("appointment_type_id", ForeignKey("appointment_type.id"), primary_key=True),
)


class ScheduleTemplate(TimestampMixin, Base):
    """A weekly session: this resource works at this clinic on this weekday, from-to (local time).

    Times are wall-clock times in the hospital's time zone, so a 09:00 session stays at 09:00
    across daylight-saving changes; rules.local_instant turns them into UTC per day.
    """

    __tablename__ = "schedule_template"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday"),
        CheckConstraint("end_time > start_time", name="session_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)  # 0 Monday .. 6 Sunday (date.weekday())
    start_time: Mapped[time] = mapped_column(Time())
    end_time: Mapped[time] = mapped_column(Time())
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)  # inclusive; None: until further notice
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    resource: Mapped[Resource] = relationship()
    clinic: Mapped[Clinic] = relationship()
    appointment_types: Mapped[list[AppointmentType]] = relationship(
        secondary=schedule_template_type, order_by="AppointmentType.code", lazy="selectin"
    )


class Closure(TimestampMixin, Base):
    """An ad-hoc closure of one resource (a doctor on leave) or one clinic, for a time span."""

    __tablename__ = "schedule_closure"
    __table_args__ = (
        CheckConstraint("(resource_id IS NULL) <> (clinic_id IS NULL)", name="one_scope"),
        CheckConstraint("end_at > start_at", name="span_order"),
        Index("ix_schedule_closure_start_end", "start_at", "end_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("resource.id"))
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinic.id"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    resource: Mapped[Resource | None] = relationship()
    clinic: Mapped[Clinic | None] = relationship()


class Holiday(Base):
    """A hospital holiday: no clinic session runs on this (local) date."""

    __tablename__ = "hospital_holiday"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    name: Mapped[str] = mapped_column(String(120))
