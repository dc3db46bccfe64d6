"""The medication administration record: doses planned from verified prescriptions, and what
the nurse did about each (FHIR MedicationAdministration)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core import clock
from app.core.db import Base, UTCDateTime

# A scheduled dose is `due` until someone records an outcome; `withdrawn` when a change to
# the prescription re-planned it away (kept, never deleted).
DOSE_STATUSES = ("due", "given", "held", "refused", "missed", "not_available", "withdrawn")
OUTCOMES = ("given", "held", "refused", "missed", "not_available")


class ScheduledDose(Base):
    __tablename__ = "scheduled_dose"
    __table_args__ = (
        UniqueConstraint("prescription_id", "due_at"),
        Index("ix_scheduled_dose_encounter_due", "encounter_id", "due_at"),
        Index("ix_scheduled_dose_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prescription_id: Mapped[int] = mapped_column(ForeignKey("prescription.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounter.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(14), default="due")
    planned_from_version: Mapped[int] = mapped_column(Integer, default=1)  # the prescription's
    planned_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    # Markers the reminder job sets so that each dose reminds its nurse once and raises its
    # overdue alert once, however often the job runs (migration 0016).
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    overdue_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Administration(Base):
    """What happened to one dose (scheduled, or PRN when `scheduled_dose_id` is None). A wrong
    record is marked entered-in-error with a reason and recorded again, never edited."""

    __tablename__ = "medication_administration"
    __table_args__ = (
        # One standing outcome per scheduled dose: two nurses cannot both give the 09:00 dose.
        Index(
            "uq_administration_dose_completed",
            "scheduled_dose_id",
            unique=True,
            postgresql_where=text("status = 'completed'"),
            sqlite_where=text("status = 'completed'"),
        ),
        Index("ix_administration_prescription_when", "prescription_id", "occurred_at"),
        Index("ix_administration_encounter_when", "encounter_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prescription_id: Mapped[int] = mapped_column(ForeignKey("prescription.id"))
    scheduled_dose_id: Mapped[int | None] = mapped_column(ForeignKey("scheduled_dose.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounter.id"))
    outcome: Mapped[str] = mapped_column(String(14))  # OUTCOMES
    reason: Mapped[str | None] = mapped_column(Text)  # required for every outcome but given
    dose: Mapped[Decimal | None] = mapped_column(Numeric(12, 3))
    dose_unit: Mapped[str | None] = mapped_column(String(20))
    route: Mapped[str | None] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    witness_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    wristband_scanned: Mapped[bool] = mapped_column(Boolean, default=False)
    product_scanned: Mapped[bool] = mapped_column(Boolean, default=False)
    batch: Mapped[str | None] = mapped_column(String(40))
    expiry: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="completed")  # | entered-in-error
    error_reason: Mapped[str | None] = mapped_column(Text)

    scheduled_dose: Mapped[ScheduledDose | None] = relationship()
