"""Vital signs (FHIR vital-signs panel 85353-1) and each LOINC-coded observation in a set."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core import clock
from app.core.db import Base, UTCDateTime

# NEWS2 clinical risk (STANDARDS.md); None on a set means incomplete (no total).
RISK_BANDS = ("low", "low-medium", "medium", "high")


class VitalSigns(Base):
    """One set of observations taken together, with its NEWS2 score."""

    __tablename__ = "vital_signs"
    __table_args__ = (Index("ix_vital_signs_encounter_taken", "encounter_id", "taken_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounter.id"))
    ward_id: Mapped[int | None] = mapped_column(ForeignKey("ward.id"))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    spo2_scale: Mapped[int] = mapped_column(Integer, default=1)
    news2_total: Mapped[int | None] = mapped_column(Integer)  # None: a parameter is missing
    news2_band: Mapped[str | None] = mapped_column(String(12))  # RISK_BANDS, None when incomplete
    any_single_three: Mapped[bool] = mapped_column(Boolean, default=False)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Unusual but possible values that were accepted (e.g. "Temperature 42.5 °C is unusual").
    flags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="final")  # final | entered-in-error
    error_reason: Mapped[str | None] = mapped_column(Text)

    observations: Mapped[list[Observation]] = relationship(
        back_populates="vital_signs", order_by="Observation.id", lazy="selectin"
    )

    @property
    def complete(self) -> bool:
        return self.news2_total is not None

    @property
    def overdue(self) -> bool:
        """The next set was due before now (the bed board shows it)."""
        return self.next_due_at is not None and self.next_due_at < clock.now()


class Observation(Base):
    """One LOINC-coded measurement (FHIR Observation), with the NEWS2 points it scored."""

    __tablename__ = "observation"
    __table_args__ = (Index("ix_observation_patient_code", "patient_id", "loinc", "taken_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vital_signs_id: Mapped[int | None] = mapped_column(ForeignKey("vital_signs.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    category: Mapped[str] = mapped_column(String(20), default="vital-signs")
    loinc: Mapped[str] = mapped_column(String(10))
    display: Mapped[str] = mapped_column(String(60))
    value: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    value_code: Mapped[str | None] = mapped_column(String(20))  # ACVPU letter, "air"/"oxygen"
    unit: Mapped[str | None] = mapped_column(String(12))  # UCUM
    score: Mapped[int | None] = mapped_column(Integer)  # NEWS2 points for this parameter
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())

    vital_signs: Mapped[VitalSigns | None] = relationship(back_populates="observations")
