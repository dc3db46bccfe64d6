"""Encounters (FHIR Encounter) and where each one was, when (Encounter.location periods)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, TimestampMixin, UTCDateTime, VersionedMixin
from app.domain.facilities.models import Bed, Ward
from app.domain.patients.models import Patient

# How an inpatient stay began (FHIR Encounter.hospitalization.admitSource, our words).
ADMIT_SOURCES = ("outpatient", "emergency", "direct")


class Encounter(TimestampMixin, VersionedMixin, Base):
    """A FHIR-style Encounter. class_code: IMP inpatient, AMB outpatient, EMER emergency."""

    __tablename__ = "encounter"
    __table_args__ = (
        # The database itself refuses a second patient in an occupied bed.
        Index(
            "uq_encounter_bed_in_progress",
            "bed_id",
            unique=True,
            postgresql_where=text("status = 'in-progress'"),
            sqlite_where=text("status = 'in-progress'"),
        ),
        Index("ix_encounter_ward_status", "ward_id", "status"),
        # The census: today's admissions and discharges (migration 0014).
        Index("ix_encounter_started", "started_at"),
        Index("ix_encounter_ended", "ended_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    class_code: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(20))  # planned|in-progress|finished|cancelled
    ward_id: Mapped[int | None] = mapped_column(ForeignKey("ward.id"))
    bed_id: Mapped[int | None] = mapped_column(ForeignKey("bed.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # --- inpatient stay (issue 6) ---
    admit_source: Mapped[str | None] = mapped_column(String(12))
    # The outpatient or emergency encounter this admission came from.
    origin_encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounter.id"))
    diagnosis: Mapped[str | None] = mapped_column(Text)  # working diagnosis / reason for admission
    attending_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))  # responsible doctor
    # The nurse responsible this shift; accepting a handover moves it to the incoming nurse.
    nurse_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # NEWS2 SpO2 scale (1, or 2 for a prescribed target of 88-92%); set by a clinician, audited.
    spo2_scale: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    expected_discharge_on: Mapped[date | None] = mapped_column(Date)
    # A doctor orders the discharge; the bed is freed only when the patient actually leaves.
    discharge_ordered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    discharge_ordered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    discharge_summary: Mapped[str | None] = mapped_column(Text)
    discharge_disposition: Mapped[str | None] = mapped_column(String(40))  # home, transfer, died...
    cancel_reason: Mapped[str | None] = mapped_column(Text)  # why a mistaken admission was cancelled

    patient: Mapped[Patient] = relationship()
    ward: Mapped[Ward | None] = relationship()
    bed: Mapped[Bed | None] = relationship()
    locations: Mapped[list[EncounterLocation]] = relationship(
        back_populates="encounter", order_by="EncounterLocation.start_at, EncounterLocation.id"
    )


class EncounterLocation(Base):
    """One period in one place (FHIR Encounter.location). Admission opens the first; a transfer
    completes one and opens the next; discharge completes the last. A cancelled step marks its
    period cancelled (kept, with the reason) rather than deleting it."""

    __tablename__ = "encounter_location"
    __table_args__ = (
        # A second guard beside the encounter's: one active period per bed.
        Index(
            "uq_encounter_location_bed_active",
            "bed_id",
            unique=True,
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
        Index("ix_encounter_location_ward_period", "ward_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounter.id"), index=True)
    ward_id: Mapped[int] = mapped_column(ForeignKey("ward.id"))
    bed_id: Mapped[int | None] = mapped_column(ForeignKey("bed.id"))
    status: Mapped[str] = mapped_column(String(12))  # active | completed | cancelled
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # What cancelling the step that opened or closed this period must put back (migration
    # 0014): the reservation whose bed it took (active again if it has not lapsed), the nurse
    # the encounter had before a transfer cleared it, and whether the discharge that completed
    # it also recorded the doctor's order (a cancelled discharge takes that order back too).
    reservation_id: Mapped[int | None] = mapped_column(ForeignKey("bed_reservation.id"))
    nurse_before_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    ordered_at_discharge: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    encounter: Mapped[Encounter] = relationship(back_populates="locations")
    ward: Mapped[Ward] = relationship()
    bed: Mapped[Bed | None] = relationship()
