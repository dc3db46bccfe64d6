from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core import clock
from app.core.db import Base, TimestampMixin, UTCDateTime, VersionedMixin
from app.domain.patients.rules import display_name


class Patient(TimestampMixin, VersionedMixin, Base):
    __tablename__ = "patient"
    __table_args__ = (Index("ix_patient_names", "family_name", "given_names"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mrn: Mapped[str] = mapped_column(String(16), unique=True)
    family_name: Mapped[str] = mapped_column(String(100))
    given_names: Mapped[str] = mapped_column(String(150))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(10))
    phone: Mapped[str | None] = mapped_column(String(40))
    address_line: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    postcode: Mapped[str | None] = mapped_column(String(20))
    national_id: Mapped[str | None] = mapped_column(String(40), index=True)

    allergies: Mapped[list[Allergy]] = relationship(
        back_populates="patient", order_by="Allergy.id", lazy="selectin"
    )

    @property
    def name(self) -> str:
        return display_name(self.family_name, self.given_names)

    def age(self, on: date) -> int:
        return clock.age_on(self.birth_date, on)

    @property
    def active_allergies(self) -> list[Allergy]:
        return [a for a in self.allergies if a.status == "active"]


class Allergy(Base):
    """An AllergyIntolerance: what the patient reacts to and how badly."""

    __tablename__ = "allergy"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    substance: Mapped[str] = mapped_column(String(120))
    code: Mapped[str | None] = mapped_column(String(40))  # SNOMED CT where known
    reaction: Mapped[str | None] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(10), default="moderate")  # mild|moderate|severe
    status: Mapped[str] = mapped_column(String(20), default="active")  # active|inactive|entered-in-error
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    patient: Mapped[Patient] = relationship(back_populates="allergies")


class BreakGlassGrant(Base):
    """Time-limited access to one chart outside the user's ward scope, for a stated reason."""

    __tablename__ = "break_glass_grant"
    __table_args__ = (Index("ix_break_glass_user_patient", "user_id", "patient_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    reason: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
