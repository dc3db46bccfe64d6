"""Prescriptions (FHIR MedicationRequest), their history, and overridden safety checks."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core import clock
from app.core.db import Base, TimestampMixin, UTCDateTime, VersionedMixin
from app.domain.formulary.models import Drug
from app.domain.patients.models import Patient

# Lifecycle (FHIR MedicationRequest.status, our words):
STATUSES = ("active", "on-hold", "stopped", "completed", "cancelled")
# The pharmacist's check, separate from the lifecycle: an active prescription is only
# dispensed or scheduled on the ward once `verification == "verified"`.
VERIFICATIONS = ("pending", "verified", "queried", "rejected")


class Prescription(TimestampMixin, VersionedMixin, Base):
    __tablename__ = "prescription"
    __table_args__ = (
        Index("ix_prescription_patient_status", "patient_id", "status"),
        Index("ix_prescription_verification", "verification", "priority", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)  # shown and scanned; check digit
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounter.id"), index=True)
    setting: Mapped[str] = mapped_column(String(12))  # inpatient | outpatient
    drug_id: Mapped[int] = mapped_column(ForeignKey("drug.id"), index=True)
    dose: Mapped[Decimal] = mapped_column(Numeric(12, 3))
    dose_unit: Mapped[str] = mapped_column(String(20))
    route: Mapped[str] = mapped_column(String(40))
    frequency: Mapped[str] = mapped_column(String(10))  # an administration-times code (config)
    prn: Mapped[bool] = mapped_column(Boolean, default=False)
    prn_min_interval_minutes: Mapped[int | None] = mapped_column(Integer)
    prn_max_daily_doses: Mapped[int | None] = mapped_column(Integer)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stop_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration_days: Mapped[int | None] = mapped_column(Integer)
    instructions: Mapped[str | None] = mapped_column(Text)
    indication: Mapped[str | None] = mapped_column(String(200))
    # Outpatient supply (in the drug's stock units); inpatient supply follows the ward's needs.
    quantity: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[str] = mapped_column(String(10), default="routine")  # routine | urgent
    status: Mapped[str] = mapped_column(String(12), default="active")
    verification: Mapped[str] = mapped_column(String(10), default="pending")
    prescriber_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status_reason: Mapped[str | None] = mapped_column(Text)  # why held, stopped, rejected, queried
    # A change after verification is a new prescription replacing this one (never in place).
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("prescription.id"))

    patient: Mapped[Patient] = relationship()
    drug: Mapped[Drug] = relationship()


class PrescriptionVersion(Base):
    """One row per change to a prescription: who, when, what it became, and why."""

    __tablename__ = "prescription_version"
    __table_args__ = (Index("ix_prescription_version_rx", "prescription_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    prescription_id: Mapped[int] = mapped_column(ForeignKey("prescription.id"))
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))  # as events.prescription_changed's `action`
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_label: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


class SafetyOverride(Base):
    """A safety check the prescriber saw and overrode, with their reason."""

    __tablename__ = "safety_override"

    id: Mapped[int] = mapped_column(primary_key=True)
    prescription_id: Mapped[int] = mapped_column(ForeignKey("prescription.id"), index=True)
    check: Mapped[str] = mapped_column(String(20))  # allergy | duplicate | max_dose
    detail: Mapped[str] = mapped_column(Text)  # what the check said
    reason: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
