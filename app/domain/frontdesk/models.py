"""Queue tickets: one per arrival, numbered per department per (hospital-local) day."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, UTCDateTime, VersionedMixin
from app.domain.patients.models import Patient
from app.domain.scheduling.models import Appointment, Clinic


class QueueTicket(VersionedMixin, Base):
    """A patient waiting in a department's queue, from arrival until seen (or gone)."""

    __tablename__ = "queue_ticket"
    __table_args__ = (
        # The counter hands out numbers; this is the backstop that two arrivals never share one.
        UniqueConstraint("department", "service_day", "number"),
        Index("ix_queue_ticket_department_day_status", "department", "service_day", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    department: Mapped[str] = mapped_column(String(40))
    service_day: Mapped[date] = mapped_column(Date)  # hospital-local day the number belongs to
    number: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(20))  # what the screen shows and is called: "C-014"
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    # NULL for a walk-in; an appointment is checked in once, so it has at most one ticket.
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"), unique=True)
    walk_in: Mapped[bool] = mapped_column(Boolean, default=False)
    # waiting -> called -> in-consultation -> done; or left (without being seen). See rules.py.
    status: Mapped[str] = mapped_column(String(20), default="waiting")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    called_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    called_by_label: Mapped[str | None] = mapped_column(String(120))
    called_to: Mapped[str | None] = mapped_column(String(40))  # the room or desk announced
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    patient: Mapped[Patient] = relationship()
    clinic: Mapped[Clinic] = relationship()
    appointment: Mapped[Appointment | None] = relationship()
